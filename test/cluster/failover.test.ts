// Failover on a 3-node cluster: kafkajs produces with acks=all to a topic with replication
// factor 3 and min.insync.replicas=2; the partition leader is SIGKILLed mid-stream; the
// controller elects a new leader from the ISR, production continues, and every acknowledged
// record is read back exactly once and in order. The killed node then returns, truncates
// anything the new leader never had and catches up as a follower.
import path from 'node:path';
import { Kafka, logLevel, type Admin as KafkaAdmin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerRecords, decodeBatch, iterateBatches } from '../../core/records/batch.ts';
import { DEFAULT_LOG_CONFIG } from '../../state/log/config.ts';
import { PartitionLog } from '../../state/log/partition-log.ts';
import { cleanupCluster, eventually, startCluster, type TestCluster } from '../helpers/cluster.ts';

const TOPIC = 'failover';
let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  kafka = new Kafka({ clientId: 'failover', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  admin = kafka.admin();
  await admin.connect();
  await eventually('three live brokers', async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined));
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
});

async function leaderOf(partition: number): Promise<{ leader: number; isr: number[] }> {
  return eventually(`a leader for ${TOPIC}-${partition}`, async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    const found = metadata.topics[0]?.partitions.find((p) => p.partitionId === partition);
    return found !== undefined && found.leader >= 0 ? { leader: found.leader, isr: found.isr } : undefined;
  });
}

describe('leader failover', () => {
  it('keeps every acknowledged record exactly once and in order through a leader kill', async () => {
    const first = await eventually('a full ISR', async () => {
      const leader = await leaderOf(0);
      return leader.isr.length === 3 ? leader : undefined;
    });
    // A failed send gets a new producer: kafkajs would give its sequence numbers to the next
    // batch, which the broker would then take for a duplicate (see chaos.test.ts).
    const newProducer = async () => {
      const created = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
      await created.connect();
      return created;
    };
    let producer = await newProducer();
    const acknowledged: number[] = [];
    let next = 0;
    const sendBatch = async (): Promise<void> => {
      const values = Array.from({ length: 5 }, () => next++);
      try {
        await producer.send({ topic: TOPIC, acks: -1, timeout: 5000, messages: values.map((value) => ({ value: String(value) })) });
        acknowledged.push(...values);
      } catch {
        // Not acknowledged: the records may or may not be in the log, and the checker allows both.
        await producer.disconnect().catch(() => undefined);
        producer = await newProducer();
      }
    };
    for (let round = 0; round < 20; round++) await sendBatch();
    await cluster.kill(first.leader);
    const second = await eventually('a new leader', async () => {
      const now = await leaderOf(0);
      return now.leader !== first.leader ? now : undefined;
    }, 30_000);
    expect(first.isr).toContain(second.leader);
    const beforeKill = acknowledged.length;
    for (let round = 0; round < 20; round++) await sendBatch();
    expect(acknowledged.length).toBeGreaterThan(beforeKill);
    await producer.disconnect();

    const seen = await readAll(acknowledged[acknowledged.length - 1] as number);
    const acknowledgedSet = new Set(acknowledged);
    const seenAcknowledged = seen.filter((value) => acknowledgedSet.has(value));
    expect(seenAcknowledged).toEqual(acknowledged);

    // The killed node comes back as a follower and catches up; the ISR grows back to three.
    await cluster.restart(first.leader);
    await eventually('the old leader back in the ISR', async () => ((await leaderOf(0)).isr.length === 3 ? true : undefined), 30_000);

    // Every replica holds the same record at every offset it has, and all acknowledged ones.
    const lastAcknowledged = acknowledged[acknowledged.length - 1] as number;
    // A replica in the ISR has everything below the high watermark, so all acknowledged records.
    for (const node of cluster.nodes) await cluster.kill(node.nodeId);
    const replicaLogs = cluster.nodes.map((node) => readReplica(node.dataDirectory));
    for (const log of replicaLogs) expect(log).toContain(lastAcknowledged);
    const shortest = Math.min(...replicaLogs.map((log) => log.length));
    for (const log of replicaLogs) expect(log.slice(0, shortest)).toEqual((replicaLogs[0] as number[]).slice(0, shortest));
  });
});

/** Reads the partition from the start until `lastValue` has been seen; returns the values in log order. */
async function readAll(lastValue: number): Promise<number[]> {
  const consumer = kafka.consumer({ groupId: `failover-check-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const seen: number[] = [];
  await consumer.run({ eachMessage: async ({ message }) => { seen.push(Number(message.value!.toString())); } });
  await eventually('the last acknowledged record', () => (seen.includes(lastValue) ? true : undefined), 30_000);
  await consumer.disconnect();
  return seen;
}


/** The values of one stopped replica's log of the partition, in offset order, read from its files. */
function readReplica(dataDirectory: string): number[] {
  const log = PartitionLog.open(path.join(dataDirectory, `${TOPIC}-0`), { ...DEFAULT_LOG_CONFIG }, { log: () => {} });
  const values: number[] = [];
  try {
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const read = log.read(offset, 1024 * 1024);
      if (read.status !== 'ok' || read.records.length === 0) break;
      for (const { position } of iterateBatches(read.records)) {
        for (const record of consumerRecords(decodeBatch(read.records, position))) {
          if (record.offset !== BigInt(values.length)) throw new Error(`offset ${record.offset} after ${values.length} records`);
          values.push(Number(record.value?.toString()));
        }
      }
      offset = read.nextOffset;
    }
  } finally {
    log.close();
  }
  return values;
}
