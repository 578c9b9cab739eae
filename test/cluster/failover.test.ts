// Failover on a 3-node cluster: kafkajs produces with acks=all to a topic with replication
// factor 3 and min.insync.replicas=2; the partition leader is SIGKILLed mid-stream; the
// controller elects a new leader from the ISR, production continues, and every acknowledged
// record is read back exactly once and in order. The killed node then returns, truncates
// anything the new leader never had and catches up as a follower.
import type { Admin as KafkaAdmin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupCluster, createTopicsRetrying, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { expectEachOnceInOrder, expectReplicasAgree, ledPartition, NumberedProducer, readBack, readReplica } from '../helpers/replicas.ts';

const TOPIC = 'failover';
let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  ({ kafka, admin } = await kafkajsForCluster(cluster, 'failover', 30));
  await createTopicsRetrying(admin, [{ topic: TOPIC, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }]);
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
});

describe('leader failover', () => {
  it('keeps every acknowledged record exactly once and in order through a leader kill', async () => {
    const first = await eventually('a full ISR', async () => {
      const partition = await ledPartition(admin, TOPIC, 0);
      return partition.isr.length === 3 ? partition : undefined;
    });
    // Unacknowledged batches may or may not be in the log; the checks allow both.
    const producer = new NumberedProducer(kafka, TOPIC);
    const acknowledged = producer.acknowledged[0]!;
    for (let round = 0; round < 20; round++) await producer.sendBatch();
    await cluster.kill(first.leader);
    const second = await eventually('a new leader', async () => {
      const now = await ledPartition(admin, TOPIC, 0);
      return now.leader !== first.leader ? now : undefined;
    }, 30_000);
    expect(first.isr).toContain(second.leader);
    const beforeKill = acknowledged.length;
    for (let round = 0; round < 20; round++) await producer.sendBatch();
    expect(acknowledged.length).toBeGreaterThan(beforeKill);
    await producer.close();

    const lastAcknowledged = acknowledged.at(-1);
    const [seen] = await readBack(kafka, TOPIC, [lastAcknowledged]);
    expectEachOnceInOrder(seen!, acknowledged);

    // The killed node comes back as a follower and catches up; the ISR grows back to three.
    await cluster.restart(first.leader);
    await eventually('the old leader back in the ISR', async () => ((await ledPartition(admin, TOPIC, 0)).isr.length === 3 ? true : undefined), 30_000);

    // Every replica holds the same record at every offset it has, and all acknowledged ones.
    for (const node of cluster.nodes) await cluster.kill(node.nodeId);
    expectReplicasAgree(cluster.nodes.map((node) => readReplica(node.dataDirectory, TOPIC, 0)), lastAcknowledged);
    // Its own waits allow 30 s each (an election, a restart, a catch-up); a loaded machine needs them.
  }, 180_000);
});
