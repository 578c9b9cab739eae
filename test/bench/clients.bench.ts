// Clients side by side, same records, same machine, in one run: Runnel's client against kafkajs
// (both against the Runnel broker), the Runnel broker against Redis Streams (redis-server with
// appendonly yes, appendfsync everysec), and end-to-end latency at a fixed rate.
// Run with `npm run bench clients`; BENCH_RECORDS scales the Runnel runs (kafkajs runs a fifth).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { Kafka, logLevel, CompressionTypes } from 'kafkajs';
import { Admin, Consumer, Producer } from '../../runtime/client/index.ts';
import { cleanup, startBroker, temporaryDirectory } from '../helpers/broker.ts';

const RUNNEL_RECORDS = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const PEER_RECORDS = Math.max(50_000, Math.floor(RUNNEL_RECORDS / 5));
const CHUNK = 1000;
// Both consumers fetch with Kafka's defaults (fetch.max.bytes 50 MB, max.partition.fetch.bytes
// 1 MB). Larger settings measured slower here: a 64 MB response is a fresh allocation whose
// pages fault in as it is filled, and nothing is processed until all of it has arrived.
const FETCH_MAX_BYTES = 50 * 1024 * 1024;
const PARTITION_FETCH_MAX_BYTES = 1024 * 1024;

interface Row { scenario: string; client: string; records: number; seconds: number; bytes: number }
const rows: Row[] = [];

function rate(row: Row): number { return row.records / row.seconds; }

function progress(row: Row): Row {
  process.stderr.write(`  ${row.scenario}: ${row.client} ${Math.round(rate(row)).toLocaleString('en-US')} records/s\n`);
  return row;
}

async function pool<T>(count: number, depth: number, task: (index: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: depth }, async () => {
    while (next < count) await task(next++);
  }));
}

function payload(size: number): Buffer { return Buffer.alloc(size, 0x61); }

async function runnelProduce(bootstrapServers: string, topic: string, size: number, acks: 1 | -1): Promise<Row> {
  const producer = new Producer({ bootstrapServers, acks, lingerMs: 5, batchSize: 256 * 1024, clientId: 'bench-runnel' });
  await producer.connect();
  const value = payload(size);
  const messages = Array.from({ length: CHUNK }, () => ({ value }));
  const started = performance.now();
  await pool(RUNNEL_RECORDS / CHUNK, 32, () => producer.send({ topic, messages }));
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return { scenario: '', client: 'runnel', records: RUNNEL_RECORDS, seconds, bytes: RUNNEL_RECORDS * size };
}

async function kafkajsProduce(bootstrap: string, topic: string, size: number, acks: 1 | -1): Promise<Row> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'bench-kafkajs', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = payload(size);
  const messages = Array.from({ length: CHUNK }, () => ({ value }));
  const started = performance.now();
  await pool(PEER_RECORDS / CHUNK, 8, () => producer.send({ topic, messages, acks, compression: CompressionTypes.None }));
  const seconds = (performance.now() - started) / 1000;
  await producer.disconnect();
  return { scenario: '', client: 'kafkajs', records: PEER_RECORDS, seconds, bytes: PEER_RECORDS * size };
}

async function runnelConsume(bootstrapServers: string, topic: string, partitions: number, size: number, records: number): Promise<Row> {
  const consumer = new Consumer({ bootstrapServers, clientId: 'bench-runnel-consumer', maxPollRecords: 100_000, fetchMaxBytes: FETCH_MAX_BYTES, maxPartitionFetchBytes: PARTITION_FETCH_MAX_BYTES });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0n })));
  let read = 0;
  const started = performance.now();
  while (read < records) read += (await consumer.poll({ timeoutMs: 1000 })).length;
  const seconds = (performance.now() - started) / 1000;
  await consumer.close();
  return { scenario: '', client: 'runnel', records: read, seconds, bytes: read * size };
}

async function kafkajsConsume(bootstrap: string, topic: string, size: number, records: number): Promise<Row> {
  const kafka = new Kafka({ brokers: [bootstrap], clientId: 'bench-kafkajs-consumer', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-${topic}-${Date.now()}`, maxBytes: FETCH_MAX_BYTES, maxBytesPerPartition: PARTITION_FETCH_MAX_BYTES });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  // The clock starts when kafkajs reports that it joined the group, so the join (which the
  // Runnel consumer, reading assigned partitions, does not do) is not counted, but the first
  // fetch is. Starting at the first batch instead showed absurd rates whenever one fetch
  // response carried the whole run.
  let read = 0;
  let started = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => { started = performance.now(); });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        read += batch.messages.length;
        if (read >= records) resolve();
      },
    });
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  const counted = read;
  return { scenario: '', client: 'kafkajs', records: counted, seconds, bytes: counted * size };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ port: number; process: ChildProcess } | null> {
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) {
    if (process.getuid?.() === 0) spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'], { stdio: 'ignore' });
    if (spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0) return null;
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', temporaryDirectory('runnel-redis-'), '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 50; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (ok) return { port, process: child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  return null;
}

async function redisProduce(port: number, stream: string, size: number): Promise<Row> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await redis.connect();
  const value = payload(size);
  const started = performance.now();
  await pool(RUNNEL_RECORDS / CHUNK, 8, async () => {
    const pipeline = redis.pipeline();
    for (let index = 0; index < CHUNK; index++) pipeline.xadd(stream, '*', 'v', value);
    await pipeline.exec();
  });
  const seconds = (performance.now() - started) / 1000;
  redis.disconnect();
  return { scenario: '', client: 'redis streams', records: RUNNEL_RECORDS, seconds, bytes: RUNNEL_RECORDS * size };
}

async function redisConsume(port: number, stream: string, size: number): Promise<Row> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await redis.connect();
  await redis.xgroup('CREATE', stream, 'bench', '0');
  let read = 0;
  const started = performance.now();
  while (read < RUNNEL_RECORDS) {
    const answer = await redis.xreadgroup('GROUP', 'bench', 'reader', 'COUNT', 10_000, 'NOACK', 'STREAMS', stream, '>') as [string, unknown[]][] | null;
    read += answer?.[0]?.[1].length ?? 0;
  }
  const seconds = (performance.now() - started) / 1000;
  redis.disconnect();
  return { scenario: '', client: 'redis streams', records: read, seconds, bytes: read * size };
}

async function latency(bootstrapServers: string, topic: string): Promise<{ p50: number; p99: number; p999: number; count: number }> {
  const producer = new Producer({ bootstrapServers, acks: 1, lingerMs: 0, clientId: 'bench-latency' });
  await producer.connect();
  const consumer = new Consumer({ bootstrapServers, clientId: 'bench-latency-consumer', fetchMaxWaitMs: 100 });
  consumer.assign([{ topic, partition: 0, offset: 0n }]);
  const latencies: number[] = [];
  const perTick = 10;
  const ticks = 1000;
  let stop = false;
  const reading = (async () => {
    while (!stop) {
      for (const record of await consumer.poll({ timeoutMs: 200 })) latencies.push(performance.now() + performance.timeOrigin - Number(record.value!.readDoubleBE(0)));
    }
  })();
  // 10 records every millisecond: 10,000 records/s.
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const due = started + tick;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const messages = Array.from({ length: perTick }, () => {
      const value = Buffer.alloc(100);
      value.writeDoubleBE(performance.now() + performance.timeOrigin, 0);
      return { value };
    });
    void producer.send({ topic, messages });
  }
  await producer.flush();
  const deadline = performance.now() + 5000;
  while (latencies.length < perTick * ticks && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  stop = true;
  await reading;
  await producer.close();
  await consumer.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), count: latencies.length };
}

async function main(): Promise<void> {
  const broker = await startBroker({ overrides: { 'log.segment.bytes': String(512 * 1024 * 1024) } });
  const redis = await startRedis();
  const admin = new Admin({ bootstrapServers: broker.bootstrap, clientId: 'bench-admin' });
  await admin.connect();
  try {
    for (const size of [100, 1024]) {
      for (const partitions of [1, 16]) {
        for (const acks of [1, -1] as const) {
          const label = `${size} B, ${partitions} partition(s), acks=${acks === -1 ? 'all' : acks}`;
          const runnelTopic = `bench-runnel-${size}-${partitions}-${acks}`;
          const kafkajsTopic = `bench-kafkajs-${size}-${partitions}-${acks}`;
          await admin.createTopics([{ topic: runnelTopic, numPartitions: partitions }, { topic: kafkajsTopic, numPartitions: partitions }]);
          rows.push(progress({ ...(await runnelProduce(broker.bootstrap, runnelTopic, size, acks)), scenario: `produce ${label}` }));
          rows.push(progress({ ...(await kafkajsProduce(broker.bootstrap, kafkajsTopic, size, acks)), scenario: `produce ${label}` }));
          if (acks === 1) {
            rows.push(progress({ ...(await runnelConsume(broker.bootstrap, runnelTopic, partitions, size, RUNNEL_RECORDS)), scenario: `consume ${size} B, ${partitions} partition(s)` }));
            rows.push(progress({ ...(await kafkajsConsume(broker.bootstrap, kafkajsTopic, size, PEER_RECORDS)), scenario: `consume ${size} B, ${partitions} partition(s)` }));
          }
        }
      }
      if (redis !== null) {
        rows.push(progress({ ...(await redisProduce(redis.port, `bench-${size}`, size)), scenario: `produce ${size} B, 1 partition(s), acks=1` }));
        rows.push(progress({ ...(await redisConsume(redis.port, `bench-${size}`, size)), scenario: `consume ${size} B, 1 partition(s)` }));
      }
    }
    await admin.createTopics([{ topic: 'bench-latency', numPartitions: 1 }]);
    const measured = await latency(broker.bootstrap, 'bench-latency');
    print(measured, redis !== null);
  } finally {
    await admin.close();
    redis?.process.kill('SIGKILL');
    await broker.stop();
    await cleanup();
  }
}

function print(measured: { p50: number; p99: number; p999: number; count: number }, withRedis: boolean): void {
  console.log(`Runnel runs ${RUNNEL_RECORDS} records per scenario, kafkajs ${PEER_RECORDS}; chunks of ${CHUNK} records per send, uncompressed.`);
  console.log('| scenario | client | records/s | MB/s | vs kafkajs | vs redis |\n|---|---|---:|---:|---:|---:|');
  for (const row of rows) {
    const peer = (client: string) => rows.find((r) => r.scenario === row.scenario && r.client === client);
    const kafkajs = peer('kafkajs');
    const redis = peer('redis streams');
    const ratio = (other: Row | undefined) => (other === undefined || other === row ? '' : `${(rate(row) / rate(other)).toFixed(2)}×`);
    console.log(`| ${row.scenario} | ${row.client} | ${Math.round(rate(row)).toLocaleString('en-US')} | ${(row.bytes / row.seconds / 1e6).toFixed(1)} | ${ratio(kafkajs)} | ${withRedis ? ratio(redis) : 'n/a'} |`);
  }
  console.log(`\nend-to-end latency at 10,000 records/s (100 B, acks=1, Runnel client both ends, ${measured.count} records): p50 ${measured.p50.toFixed(2)} ms, p99 ${measured.p99.toFixed(2)} ms, p99.9 ${measured.p999.toFixed(2)} ms`);
}

await main();
