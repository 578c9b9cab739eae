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
import type { Admin as KafkaAdmin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { cleanupCluster, createTopicsRetrying, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { expectEachOnceInOrder, expectReplicasAgree, ledPartition, NumberedProducer, readBack, readReplica } from '../helpers/replicas.ts';

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
  await createTopicsRetrying(admin, [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }]);
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

async function injectFault(round: number): Promise<string> {
  const fault = FAULTS[round % FAULTS.length]!;
  let target: number;
  if (fault === 'kill-controller') target = (await admin.describeCluster()).controller ?? 1;
  else if (fault === 'kill-random') target = 1 + Math.floor(Math.random() * 3);
  else target = (await ledPartition(admin, TOPIC, round % PARTITIONS)).leader;
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
    const production = new NumberedProducer(kafka, TOPIC, { partitions: PARTITIONS, retries: 10, timeoutMs: 4000 });
    const sending = production.keepSending();
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
    await sending.stop();
    console.log(`chaos: ${survived} fault rounds survived, ${production.count()} records acknowledged`);

    const consumed = await readBack(kafka, TOPIC, production.acknowledged.map((values) => values.at(-1)), 60_000);
    await healthy();
    for (const node of cluster.nodes) await cluster.kill(node.nodeId);
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const acknowledged = production.acknowledged[partition]!;
      const replicas = cluster.nodes.map((node) => readReplica(node.dataDirectory, TOPIC, partition));
      const missing = acknowledged.filter((value) => !consumed[partition]!.includes(value));
      if (missing.length > 0) {
        const where = replicas.map((values, index) => `node ${index + 1}: ${missing.slice(0, 5).map((value) => values.indexOf(value)).join(',')} of ${values.length}`);
        console.log(`chaos: partition ${partition} misses acknowledged ${missing.slice(0, 10).join(',')}; offsets on replicas: ${where.join('; ')}`);
        for (const node of cluster.nodes) writeFileSync(path.join(os.tmpdir(), `runnel-chaos-node-${node.nodeId}.log`), node.logText());
        console.log(`chaos: faults ${faults.join(' | ')}; node logs in ${os.tmpdir()}/runnel-chaos-node-N.log`);
      }
      // Every replica holds the same record at every offset, and every acknowledged record.
      expectReplicasAgree(replicas, acknowledged.at(-1));
      // Consumers see each acknowledged record exactly once, in the order it was acknowledged.
      expectEachOnceInOrder(consumed[partition]!, acknowledged);
    }
  }, 120_000 + ROUNDS * 40_000);
});
