// A 3-node cluster on this machine (one process per node, broker and controller combined):
// produce throughput of 100 B records with Runnel's client on topics with replication factor 3
// and min.insync.replicas=2, and end-to-end latency at a fixed 10,000 records/s, acks=all.
// Issue targets: 300,000 records/s, p99 at most 5 ms. The table prints the machine and load
// average, since three brokers and the client share the same cores.
//
// Run with `npm run bench cluster`. BENCH_RECORDS sets the records per throughput run
// (default 1,000,000), BENCH_LATENCY_SECONDS the length of the latency run (default 5, after
// BENCH_WARMUP_SECONDS of the same sends that are not counted, default 2),
// BENCH_SCENARIOS=throughput,latency,floor picks parts (floor: the same latency run through
// relay-floor.ts, three minimal relay processes that exchange the messages of a replicated
// acks=all produce and do nothing else: the floor this machine sets for any design of separate
// node processes), and BENCH_PROFILE=<dir> starts the nodes
// with --cpu-prof, stops them gracefully at the end and prints where the leader of the first
// topic spent its time (profiling slows every node down, so do not quote that run's figures).
// The latency table splits the time: send to acks=all acknowledgement (replication), the bench
// process's own event loop delay (the client), and a single broker on the same machine; below
// it, the CPU time each process spent during the run (from /proc) per record, which the load
// of a shared machine moves far less than it moves the wall clock.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import path from 'node:path';
import { Admin, Consumer, KafkaProtocolError, Producer } from '../../runtime/client/index.ts';
import { startBroker } from '../helpers/broker.ts';
import { cleanupCluster, eventually, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { processCpuSeconds } from '../helpers/process-cpu.ts';
import { frame, readFrames, RELAY } from './relay-floor.ts';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 5);
/** Seconds of the same sends before each latency clock runs (JIT, connections, the previous scenario's garbage). */
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 2);
const PROFILE_DIRECTORY = process.env['BENCH_PROFILE'];
const SCENARIOS = (process.env['BENCH_SCENARIOS'] ?? 'throughput,latency,floor').split(',');
const CHUNK = 1000;
const RECORD_BYTES = 100;
const TOPIC_CONFIGS = { 'min.insync.replicas': '2' };

interface Row { scenario: string; records: number; seconds: number; leaders: string }
interface Sample { sentAt: number; latencyMs: number }
interface Latency {
  p50: number; p99: number; p999: number; max: number; count: number; expected: number;
  /** p99 of the records sent in each second of the run, to tell warm-up from steady state. */
  p99PerSecond: number[];
  /** From send() to its acks=all acknowledgement, per send of 10 records. */
  acknowledgementP50: number; acknowledgementP99: number;
  leader: number;
  /** Event loop delay of the bench process itself during the run. */
  clientLoopDelayP99: number; clientLoopDelayMax: number;
  /** CPU time (user + system) of each process during the run, by name, in ms. */
  cpuMs: Map<string, number>;
}

/** CPU time (user + system) of a process so far in ms, from /proc; NaN where there is no /proc. */
function cpuMsOf(pid: number): number {
  return processCpuSeconds(pid) * 1000;
}

async function pool(count: number, depth: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: depth }, async () => {
    while (next < count) await task(next++);
  }));
}

/**
 * Creates an RF=3 topic, retrying while the cluster is still electing its controller or
 * registering brokers (both answer with retriable errors); an attempt that timed out may have
 * created the topic, so TOPIC_ALREADY_EXISTS on a retry counts as done.
 */
async function createTopic(admin: Admin, topic: string, partitions: number, replicationFactor = 3): Promise<void> {
  let attempt = 0;
  await eventually(`topic ${topic} created`, async () => {
    attempt += 1;
    try {
      await admin.createTopics([{ topic, numPartitions: partitions, replicationFactor, configs: replicationFactor === 3 ? TOPIC_CONFIGS : {} }]);
    } catch (error) {
      if (error instanceof KafkaProtocolError && error.kafkaName === 'TOPIC_ALREADY_EXISTS' && attempt > 1) return true;
      throw error;
    }
    return true;
  }, 60_000);
}

/** Waits until every partition of `topic` has a leader and all its replicas in sync. */
async function fullIsr(admin: Admin, topic: string, replicationFactor = 3): Promise<number[]> {
  return eventually(`full ISRs for ${topic}`, async () => {
    const [description] = await admin.describeTopics([topic]);
    const partitions = description?.partitions ?? [];
    return partitions.length > 0 && partitions.every((p) => p.leader >= 0 && p.isr.length === replicationFactor) ? partitions.map((p) => p.leader) : undefined;
  }, 30_000);
}

/** Pipelined sends of 1,000-record arrays, 32 in flight from the caller, as in clients.bench.ts. */
async function produce(bootstrapServers: string[], topic: string, acks: 1 | -1): Promise<number> {
  const producer = new Producer({ bootstrapServers, acks, lingerMs: 5, batchSize: 256 * 1024, clientId: 'bench-cluster' });
  await producer.connect();
  const value = Buffer.alloc(RECORD_BYTES, 0x61);
  const messages = Array.from({ length: CHUNK }, () => ({ value }));
  const started = performance.now();
  await pool(RECORDS / CHUNK, 32, () => producer.send({ topic, messages }));
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return seconds;
}

async function throughput(cluster: TestCluster, admin: Admin, partitions: number, acks: 1 | -1): Promise<Row> {
  const topic = `bench-cluster-${partitions}-${acks === -1 ? 'all' : acks}`;
  await createTopic(admin, topic, partitions);
  const leaders = await fullIsr(admin, topic);
  const seconds = await produce(cluster.bootstrap, topic, acks);
  // The high watermarks must reach what was acknowledged, or the rate means nothing. With
  // acks=1 the followers may still be copying when the last send returns, so this waits.
  const highWatermarks = async (): Promise<number> => (await admin.listOffsets(topic, 'latest')).reduce((sum, p) => sum + Number(p.offset), 0);
  await eventually(`${topic} replicated`, async () => ((await highWatermarks()) >= RECORDS ? true : undefined), 60_000)
    .catch(async () => { console.log(`  warning: ${topic} holds ${await highWatermarks()} records below its high watermarks, ${RECORDS} were acknowledged`); });
  const row = { scenario: `produce ${RECORD_BYTES} B, ${partitions} partition(s), acks=${acks === -1 ? 'all' : acks}`, records: RECORDS, seconds, leaders: leaders.join(',') };
  process.stderr.write(`  ${row.scenario}: ${Math.round(RECORDS / seconds).toLocaleString('en-US')} records/s\n`);
  return row;
}

/**
 * 10 records every millisecond from an acks=all producer with no linger, read by a consumer
 * assigned the partition (so it fetches from the leader, which hands out only records below the
 * high watermark). Each value carries its send time; latency is receive time minus send time.
 * The acknowledgement time of each send is kept too, to tell replication (the part before the
 * acknowledgement) from delivery to the consumer.
 */
async function latency(bootstrapServers: string[], topic: string, leader: number, processes: Map<string, number>): Promise<Latency> {
  const producer = new Producer({ bootstrapServers, acks: -1, lingerMs: 0, clientId: 'bench-cluster-latency' });
  await producer.connect();
  const consumer = new Consumer({ bootstrapServers, clientId: 'bench-cluster-latency-consumer', fetchMaxWaitMs: 100 });
  consumer.assign([{ topic, partition: 0, offset: 0n }]);
  const now = (): number => performance.now() + performance.timeOrigin;
  const stamped = (): { value: Buffer } => {
    const value = Buffer.alloc(RECORD_BYTES);
    value.writeDoubleBE(now(), 0);
    return { value };
  };
  // One record end to end first, so connections and metadata are in place before the clock runs.
  await producer.send({ topic, messages: [stamped()] });
  let warmedUp = false;
  while (!warmedUp) warmedUp = (await consumer.poll({ timeoutMs: 1000 })).length > 0;

  const samples: Sample[] = [];
  const acknowledgements: number[] = [];
  let stop = false;
  const reading = (async () => {
    while (!stop) {
      for (const record of await consumer.poll({ timeoutMs: 200 })) {
        const sentAt = record.value!.readDoubleBE(0);
        samples.push({ sentAt, latencyMs: now() - sentAt });
      }
    }
  })();
  const perTick = 10;
  const failures: unknown[] = [];
  const send = (measured: boolean): void => {
    const sentAt = performance.now();
    producer.send({ topic, messages: Array.from({ length: perTick }, stamped) })
      .then(() => { if (measured) acknowledgements.push(performance.now() - sentAt); }, (error: unknown) => { failures.push(error); });
  };
  await paced(WARMUP_SECONDS * 1000, () => send(false));
  await producer.flush();
  await until(() => samples.length >= perTick * WARMUP_SECONDS * 1000);
  samples.length = 0;
  // The bench process is producer, consumer and clock at once: its own stalls count as latency.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpuBefore = new Map([...processes].map(([name, pid]) => [name, cpuMsOf(pid)]));
  const benchCpuBefore = process.cpuUsage();
  const ticks = LATENCY_SECONDS * 1000;
  await paced(ticks, () => send(true));
  await producer.flush();
  const expected = perTick * ticks;
  await until(() => samples.length >= expected);
  stop = true;
  loopDelay.disable();
  const cpuMs = new Map([...processes].map(([name, pid]) => [name, cpuMsOf(pid) - (cpuBefore.get(name) ?? NaN)]));
  const benchCpu = process.cpuUsage(benchCpuBefore);
  cpuMs.set('bench (producer and consumer)', (benchCpu.user + benchCpu.system) / 1000);
  await reading;
  await producer.close();
  await consumer.close();
  if (failures.length > 0) console.log(`  warning: ${failures.length} latency sends failed: ${String(failures[0])}`);
  return summarize(samples, acknowledgements, expected, leader, loopDelay, cpuMs);
}

/** Calls `send` once a millisecond, `ticks` times, on the clock rather than after each call. */
async function paced(ticks: number, send: () => void): Promise<void> {
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const wait = started + tick - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    send();
  }
}

/** Waits until `done` holds, for at most 10 s. */
async function until(done: () => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!done() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Quantiles of a latency run: of every record, of each second's records, of the acknowledgements. */
function summarize(samples: readonly Sample[], acknowledgements: number[], expected: number, leader: number, loopDelay: IntervalHistogram, cpuMs: Map<string, number>): Latency {
  const latencies = samples.map((sample) => sample.latencyMs).sort((a, b) => a - b);
  const firstSentAt = samples[0]?.sentAt ?? 0;
  const perSecond = Array.from({ length: LATENCY_SECONDS }, (_, second) => quantile(
    samples.filter((sample) => Math.floor((sample.sentAt - firstSentAt) / 1000) === second).map((sample) => sample.latencyMs).sort((a, b) => a - b), 0.99));
  acknowledgements.sort((a, b) => a - b);
  return {
    p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), p999: quantile(latencies, 0.999), max: latencies.at(-1) ?? NaN,
    count: latencies.length, expected, p99PerSecond: perSecond, acknowledgementP50: quantile(acknowledgements, 0.5), acknowledgementP99: quantile(acknowledgements, 0.99), leader,
    clientLoopDelayP99: loopDelay.percentile(99) / 1e6, clientLoopDelayMax: loopDelay.max / 1e6, cpuMs,
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** Self time per function in a V8 CPU profile, largest first, as shares of the sampled time. */
function topFunctions(file: string, count: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
  };
  const nameOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : ` ${url.replace(/^.*\/work\/main\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}`;
    nameOf.set(node.id, `${functionName === '' ? '(anonymous)' : functionName}${where}`);
  }
  const samplesByName = new Map<string, number>();
  for (const id of profile.samples) {
    const name = nameOf.get(id) ?? '?';
    samplesByName.set(name, (samplesByName.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...samplesByName.entries()].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([name, samples]) => `${((100 * samples) / total).toFixed(1).padStart(5)} %  ${name}`);
}

function machine(): string {
  const load = os.loadavg().map((value) => value.toFixed(2)).join(' ');
  return `${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}; load average ${load}`;
}

function print(rows: Row[], measured: Latency | null, baseline: Latency | null, floor: Latency | null, before: string): void {
  console.log(`3 nodes (separate processes, broker and controller combined), replication factor 3, min.insync.replicas=2, ${RECORD_BYTES} B records, Runnel client.`);
  console.log(`machine before: ${before}`);
  console.log(`machine after:  ${machine()}`);
  if (rows.length > 0) console.log('| scenario | records | records/s | MB/s | leaders | target |\n|---|---:|---:|---:|---|---|');
  for (const row of rows) {
    const rate = row.records / row.seconds;
    const target = row.scenario.endsWith('acks=all') ? (rate >= 300_000 ? 'met (≥ 300,000)' : 'missed (≥ 300,000)') : 'for comparison';
    console.log(`| ${row.scenario} | ${row.records.toLocaleString('en-US')} | ${Math.round(rate).toLocaleString('en-US')} | ${((rate * RECORD_BYTES) / 1e6).toFixed(1)} | ${row.leaders} | ${target} |`);
  }
  if (measured === null && floor === null) return;
  console.log(`\nend-to-end latency at 10,000 records/s for ${LATENCY_SECONDS} s after ${WARMUP_SECONDS} s of warm-up (${RECORD_BYTES} B, acks=all, linger 0, one partition, consumer on the leader):`);
  console.log('| setup | records | p50 ms | p99 ms | p99.9 ms | max ms | ack p50 ms | ack p99 ms | bench loop delay p99/max ms | p99 per second ms | target |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|');
  const line = (setup: string, result: Latency, target: string): void => {
    const cells = [result.p50, result.p99, result.p999, result.max, result.acknowledgementP50, result.acknowledgementP99].map((value) => value.toFixed(2));
    console.log(`| ${setup} | ${result.count}/${result.expected} | ${cells.join(' | ')} | ${result.clientLoopDelayP99.toFixed(1)}/${result.clientLoopDelayMax.toFixed(1)} | ${result.p99PerSecond.map((value) => value.toFixed(1)).join(', ')} | ${target} |`);
  };
  if (measured !== null) line(`3 nodes, RF=3 (leader node ${measured.leader})`, measured, measured.p99 <= 5 ? 'met (p99 ≤ 5 ms)' : 'missed (p99 ≤ 5 ms)');
  if (baseline !== null) line('1 broker, RF=1 (baseline)', baseline, 'for comparison');
  if (floor !== null) line('3 relay processes, no Runnel (floor)', floor, 'for comparison');
  // CPU time per record is what the load on a shared machine does not move much.
  const cpu = (result: Latency): string => [...result.cpuMs].map(([name, ms]) => `${name} ${ms.toFixed(0)} ms (${((1000 * ms) / result.count).toFixed(1)} µs/record)`).join(', ');
  if (measured !== null) console.log(`CPU during the run, 3 nodes: ${cpu(measured)}`);
  if (baseline !== null) console.log(`CPU during the run, 1 broker: ${cpu(baseline)}`);
  if (floor !== null) console.log(`CPU during the run, 3 relays: ${cpu(floor)}`);
}

async function main(): Promise<void> {
  const before = machine();
  if (PROFILE_DIRECTORY !== undefined) mkdirSync(PROFILE_DIRECTORY, { recursive: true });
  const nodeArguments = PROFILE_DIRECTORY === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(PROFILE_DIRECTORY)}`];
  // Large segments keep segment rolls out of the measured runs.
  const segmentBytes = String(512 * 1024 * 1024);
  const cluster = await startCluster({ nodes: 3, overrides: { 'log.segment.bytes': segmentBytes }, nodeArguments });
  const admin = new Admin({ bootstrapServers: cluster.bootstrap, clientId: 'bench-cluster-admin' });
  try {
    await admin.connect();
    const rows: Row[] = [];
    if (SCENARIOS.includes('throughput')) {
      rows.push(await throughput(cluster, admin, 1, -1));
      rows.push(await throughput(cluster, admin, 3, -1));
      rows.push(await throughput(cluster, admin, 1, 1));
    }
    let measured: Latency | null = null;
    let baseline: Latency | null = null;
    let latencyLeader: number | undefined;
    if (SCENARIOS.includes('latency')) {
      const latencyTopic = 'bench-cluster-latency';
      await createTopic(admin, latencyTopic, 1);
      [latencyLeader] = await fullIsr(admin, latencyTopic);
      const nodes = new Map(cluster.nodes.flatMap((node) => node.process?.pid === undefined ? [] : [[`node ${node.nodeId}${node.nodeId === latencyLeader ? ' (leader)' : ''}`, node.process.pid] as [string, number]]));
      measured = await latency(cluster.bootstrap, latencyTopic, latencyLeader ?? -1, nodes);
    }
    await admin.close();
    const profiledLeader = rows.length > 0 ? Number(rows[0]!.leaders) : latencyLeader;
    if (PROFILE_DIRECTORY !== undefined && profiledLeader !== undefined) await reportProfile(cluster, profiledLeader);
    for (const node of cluster.nodes) await cluster.kill(node.nodeId);
    // The same latency run against one broker on the same machine: the share of the tail that
    // replication adds, as against what the machine (its load, scheduling, this client) costs.
    if (measured !== null) baseline = await singleBrokerLatency(segmentBytes);
    const floor = SCENARIOS.includes('floor') ? await relayFloorLatency() : null;
    print(rows, measured, baseline, floor, before);
  } finally {
    await admin.close().catch(() => undefined);
    await cleanupCluster();
  }
}

/**
 * Starts one relay-floor.ts role. For the leader, resolves with its port and a promise of
 * both followers having joined.
 */
async function startRelay(args: string[]): Promise<{ child: ChildProcess; port: number; followersJoined: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'relay-floor.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (args[0] !== 'leader') return { child, port: 0, followersJoined: Promise.resolve() };
  let output = '';
  let joined: () => void = () => undefined;
  const followersJoined = new Promise<void>((resolve) => { joined = resolve; });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /port (\d+)/.exec(output);
      if (match !== null) resolve(Number(match[1]));
      if (output.includes('followers 2')) joined();
    });
    child.once('exit', (code) => reject(new Error(`relay leader exited with ${code}`)));
  });
  return { child, port, followersJoined };
}

/**
 * The latency run's timing and records (10 records of 100 B every millisecond, each stamped
 * with its send time) through three relay processes instead of three nodes.
 */
async function relayFloorLatency(): Promise<Latency> {
  const relays: ChildProcess[] = [];
  try {
    const leader = await startRelay(['leader']);
    relays.push(leader.child);
    for (let index = 0; index < 2; index++) relays.push((await startRelay(['follower', String(leader.port)])).child);
    const connect = (): Promise<net.Socket> => new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: leader.port }, () => resolve(socket));
      socket.setNoDelay(true);
      socket.once('error', reject);
    });
    const producer = await connect();
    const consumer = await connect();
    const now = (): number => performance.now() + performance.timeOrigin;
    const samples: Sample[] = [];
    const acknowledgements: number[] = [];
    // Send n (from 1) is acknowledged with offset n: the leader's log then holds n sends.
    const sentAt = new Map<number, number>();
    let sends = 0;
    const send = (): void => {
      const payload = Buffer.alloc(RELAY.SEND_BYTES);
      for (let index = 0; index < 10; index++) payload.writeDoubleBE(now(), index * RECORD_BYTES);
      sends++;
      sentAt.set(sends, performance.now());
      producer.write(frame(RELAY.PRODUCE, sends, payload));
    };
    readFrames(producer, (type, offset) => {
      const sent = sentAt.get(offset);
      if (type !== RELAY.ACK || sent === undefined) return;
      sentAt.delete(offset);
      acknowledgements.push(performance.now() - sent);
    });
    readFrames(consumer, (type, offset, payload) => {
      if (type !== RELAY.DATA) return;
      const received = now();
      for (let at = 0; at + RECORD_BYTES <= payload.length; at += RECORD_BYTES) {
        const stamp = payload.readDoubleBE(at);
        samples.push({ sentAt: stamp, latencyMs: received - stamp });
      }
      consumer.write(frame(RELAY.FETCH, offset + payload.length / RELAY.SEND_BYTES));
    });
    consumer.write(frame(RELAY.HELLO_CONSUMER, 0));
    consumer.write(frame(RELAY.FETCH, 0));
    await leader.followersJoined;
    await paced(WARMUP_SECONDS * 1000, send);
    await until(() => samples.length >= 10 * WARMUP_SECONDS * 1000);
    samples.length = 0;
    acknowledgements.length = 0;
    const processes = new Map(relays.map((child, index) => [index === 0 ? 'relay leader' : `relay follower ${index}`, child.pid as number]));
    const cpuBefore = new Map([...processes].map(([name, pid]) => [name, cpuMsOf(pid)]));
    const benchCpuBefore = process.cpuUsage();
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const ticks = LATENCY_SECONDS * 1000;
    await paced(ticks, send);
    const expected = ticks * 10;
    await until(() => samples.length >= expected);
    loopDelay.disable();
    const cpuMs = new Map([...processes].map(([name, pid]) => [name, cpuMsOf(pid) - (cpuBefore.get(name) ?? NaN)]));
    const benchCpu = process.cpuUsage(benchCpuBefore);
    cpuMs.set('bench (producer and consumer)', (benchCpu.user + benchCpu.system) / 1000);
    producer.destroy();
    consumer.destroy();
    return summarize(samples, acknowledgements, expected, 0, loopDelay, cpuMs);
  } finally {
    for (const child of relays) child.kill('SIGKILL');
  }
}

async function singleBrokerLatency(segmentBytes: string): Promise<Latency> {
  const broker = await startBroker({ overrides: { 'log.segment.bytes': segmentBytes } });
  const admin = new Admin({ bootstrapServers: broker.bootstrap, clientId: 'bench-single-admin' });
  try {
    await admin.connect();
    await createTopic(admin, 'bench-single-latency', 1, 1);
    await fullIsr(admin, 'bench-single-latency', 1);
    const pid = broker.process?.pid;
    return await latency([broker.bootstrap], 'bench-single-latency', 1, new Map(pid === undefined ? [] : [['broker', pid]]));
  } finally {
    await admin.close().catch(() => undefined);
    await broker.stop();
  }
}

/** Stops every node with SIGTERM so each writes its profile, then summarises the leader's. */
async function reportProfile(cluster: TestCluster, leader: number): Promise<void> {
  const pids = new Map(cluster.nodes.map((node) => [node.nodeId, node.process?.pid]));
  for (const node of cluster.nodes) await cluster.stop(node.nodeId);
  const pid = pids.get(leader);
  // Each node writes one profile per thread; thread 0 is the main thread (the others are tsx's loader).
  const file = readdirSync(PROFILE_DIRECTORY!).find((name) => name.includes(`.${pid}.0.`) && name.endsWith('.cpuprofile'));
  if (file === undefined) {
    console.log(`no profile of node ${leader} (pid ${pid}) in ${PROFILE_DIRECTORY}`);
    return;
  }
  console.log(`\nleader (node ${leader}) CPU profile over the whole run, ${path.join(PROFILE_DIRECTORY!, file)}; self time by function:`);
  for (const line of topFunctions(path.join(PROFILE_DIRECTORY!, file), 25)) console.log(`  ${line}`);
}

await main();
