// A short fault-injection run on a 3-node cluster (RF=3, min.insync.replicas=2, an idempotent
// acks=all kafkajs producer writing all the time). Each round injects one fault: SIGKILL of a
// partition leader, of the active controller or of a random node (restarted after a moment),
// or SIGSTOP of a leader for longer than the broker session (then SIGCONT). After every round
// the cluster must heal (three live brokers, full ISRs) and production must have gone on.
// The checker then verifies that every acknowledged record is in its partition exactly once
// and in order, and that every replica holds the same record at every offset.
//
// RUNNEL_CHAOS_ROUNDS sets the number of rounds (default 4, a CI-friendly run).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Admin as KafkaAdmin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerRecords, decodeBatch, iterateBatches } from '../../core/records/batch.ts';
import { DEFAULT_LOG_CONFIG } from '../../state/log/config.ts';
import { PartitionLog } from '../../state/log/partition-log.ts';
import { cleanupCluster, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';

const TOPIC = 'chaos';
const PARTITIONS = 3;
const ROUNDS = Number(process.env['RUNNEL_CHAOS_ROUNDS'] ?? '4');
const FAULTS = ['kill-leader', 'kill-controller', 'pause-leader', 'kill-random'] as const;

let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  ({ kafka, admin } = await kafkajsForCluster(cluster, 'chaos'));
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
  await healthy();
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
}, 60_000);

/** Waits until every broker is live and every partition has a leader and a full ISR. */
async function healthy(): Promise<void> {
  await eventually('a healed cluster', async () => {
    if ((await admin.describeCluster()).brokers.length !== 3) return undefined;
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    const partitions = metadata.topics[0]?.partitions ?? [];
    return partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0 && p.isr.length === 3) ? true : undefined;
  }, 60_000);
}

async function leaderOf(partition: number): Promise<number> {
  // Brokers apply metadata a moment apart; the one asked may not know the topic yet.
  return eventually(`the leader of ${TOPIC}-${partition}`, async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    const leader = metadata.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    return leader !== undefined && leader >= 0 ? leader : undefined;
  });
}

/**
 * Writes numbered records round-robin over the partitions until stopped; keeps what was
 * acknowledged. After a failed send the producer is replaced: kafkajs hands a failed batch's
 * sequence numbers to the next batch, so if the broker did write the failed one, the next
 * would be taken for its duplicate and acknowledged without being written (the Java client
 * bumps the producer epoch instead). A new producer id keeps acknowledgements honest.
 */
function startProducing(): { acknowledged: number[][]; stop: () => Promise<void>; count: () => number } {
  const acknowledged: number[][] = Array.from({ length: PARTITIONS }, () => []);
  let next = 0;
  let running = true;
  let producer: Producer | null = null;
  const loop = (async () => {
    while (running) {
      if (producer === null) {
        const candidate = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
        try {
          await candidate.connect();
          producer = candidate;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
      }
      const partition = next % PARTITIONS;
      const values = Array.from({ length: 5 }, (_, index) => next + index);
      next += 5;
      try {
        await producer.send({ topic: TOPIC, acks: -1, timeout: 4000, messages: values.map((value) => ({ partition, value: String(value) })) });
        acknowledged[partition]!.push(...values);
      } catch {
        // Unacknowledged: may or may not be in the log.
        await producer.disconnect().catch(() => undefined);
        producer = null;
      }
    }
    await producer?.disconnect().catch(() => undefined);
  })();
  return { acknowledged, stop: async () => { running = false; await loop; }, count: () => acknowledged.reduce((sum, list) => sum + list.length, 0) };
}

async function injectFault(round: number): Promise<string> {
  const fault = FAULTS[round % FAULTS.length]!;
  let target: number;
  if (fault === 'kill-controller') target = (await admin.describeCluster()).controller ?? 1;
  else if (fault === 'kill-random') target = 1 + Math.floor(Math.random() * 3);
  else target = await leaderOf(round % PARTITIONS);
  if (fault === 'pause-leader') {
    cluster.pause(target);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    cluster.resume(target);
  } else {
    await cluster.kill(target);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await cluster.restart(target);
  }
  return `${fault} node ${target}`;
}

describe('fault injection', () => {
  it(`survives ${ROUNDS} fault rounds without losing or duplicating acknowledged records`, async () => {
    const production = startProducing();
    let survived = 0;
    const faults: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const before = production.count();
      const startedAt = new Date().toISOString();
      const fault = await injectFault(round);
      faults.push(`${startedAt} ${fault} (after ${before} acknowledged, last value ${production.acknowledged.flat().reduce((a, b) => Math.max(a, b), -1)})`);
      await healthy();
      await eventually(`production after ${fault}`, () => (production.count() > before + 10 ? true : undefined), 30_000);
      survived += 1;
    }
    await production.stop();
    console.log(`chaos: ${survived} fault rounds survived, ${production.count()} records acknowledged`);

    const consumed = await readBack(production.acknowledged);
    await healthy();
    for (const node of cluster.nodes) await cluster.kill(node.nodeId);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const acknowledged = production.acknowledged[partition]!;
      const replicas = cluster.nodes.map((node) => readReplica(node.dataDirectory, partition));
      const missing = acknowledged.filter((value) => !consumed[partition]!.includes(value));
      if (missing.length > 0) {
        const where = replicas.map((values, index) => `node ${index + 1}: ${missing.slice(0, 5).map((value) => values.indexOf(value)).join(',')} of ${values.length}`);
        console.log(`chaos: partition ${partition} misses acknowledged ${missing.slice(0, 10).join(',')}; offsets on replicas: ${where.join('; ')}`);
        for (const node of cluster.nodes) writeFileSync(path.join(os.tmpdir(), `runnel-chaos-node-${node.nodeId}.log`), node.logText());
        console.log(`chaos: faults ${faults.join(' | ')}; node logs in ${os.tmpdir()}/runnel-chaos-node-N.log`);
      }
      // Every replica holds the same record at every offset, and every acknowledged record.
      const shortest = Math.min(...replicas.map((values) => values.length));
      for (const values of replicas) {
        expect(values.slice(0, shortest)).toEqual(replicas[0]!.slice(0, shortest));
        const last = acknowledged.at(-1);
        if (last !== undefined) expect(values).toContain(last);
      }
      // Consumers see each acknowledged record exactly once, in the order it was acknowledged.
      const acknowledgedSet = new Set(acknowledged);
      expect(consumed[partition]!.filter((value) => acknowledgedSet.has(value))).toEqual(acknowledged);
    }
  }, 120_000 + ROUNDS * 40_000);
});

/** Consumes every partition from the start until the last acknowledged value of each is seen. */
async function readBack(acknowledged: number[][]): Promise<number[][]> {
  const consumer = kafka.consumer({ groupId: `chaos-check-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const seen: number[][] = Array.from({ length: PARTITIONS }, () => []);
  await consumer.run({ eachMessage: async ({ partition, message }) => { seen[partition]!.push(Number(message.value!.toString())); } });
  await eventually('every acknowledged record read back', () => (acknowledged.every((list, partition) => list.length === 0 || seen[partition]!.includes(list.at(-1)!)) ? true : undefined), 60_000);
  await consumer.disconnect();
  return seen;
}

function readReplica(dataDirectory: string, partition: number): number[] {
  const log = PartitionLog.open(path.join(dataDirectory, `${TOPIC}-${partition}`), { ...DEFAULT_LOG_CONFIG }, { log: () => {} });
  const values: number[] = [];
  try {
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const read = log.read(offset, 1024 * 1024);
      if (read.status !== 'ok' || read.records.length === 0) break;
      for (const { position } of iterateBatches(read.records)) {
        for (const record of consumerRecords(decodeBatch(read.records, position))) values.push(Number(record.value?.toString()));
      }
      offset = read.nextOffset;
    }
  } finally {
    log.close();
  }
  return values;
}
