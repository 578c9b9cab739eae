// Clients this project did not write, against a 3-node cluster (RF=3, min.insync.replicas=2):
// kafkajs and kcat (librdkafka) see all three brokers and every replica of a replicated topic,
// kcat round-trips records through it, and a kafkajs idempotent acks=all producer and a kafkajs
// consumer group both carry on while the leader of a partition is SIGKILLed.
import type { Admin as KafkaAdmin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../core/protocol/index.ts';
import { cleanupCluster, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { RawConnection } from '../helpers/raw-connection.ts';
import { kcat } from '../helpers/kcat.ts';

const METADATA_TOPIC = 'compat-rf3';
const KCAT_TOPIC = 'compat-kcat-rf3';
const FAILOVER_TOPIC = 'compat-failover';
const PARTITIONS = 3;

let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  ({ kafka, admin } = await kafkajsForCluster(cluster, 'cluster-compat'));
  const configEntries = [{ name: 'min.insync.replicas', value: '2' }];
  await admin.createTopics({
    topics: [METADATA_TOPIC, KCAT_TOPIC, FAILOVER_TOPIC].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries })),
  });
  for (const topic of [METADATA_TOPIC, KCAT_TOPIC, FAILOVER_TOPIC]) await fullIsr(topic);
}, 90_000);

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
}, 60_000);

interface PartitionView { partitionId: number; leader: number; replicas: number[]; isr: number[] }

async function partitionsOf(topic: string): Promise<PartitionView[]> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  return metadata.topics[0]?.partitions ?? [];
}

/** Waits until every partition of `topic` has a leader and all three replicas in its ISR. */
async function fullIsr(topic: string): Promise<PartitionView[]> {
  // Brokers apply metadata a moment apart; the one asked may not know the topic yet.
  return eventually(`full ISRs for ${topic}`, async () => {
    const partitions = await partitionsOf(topic);
    return partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0 && p.isr.length === 3) ? partitions : undefined;
  }, 30_000);
}

/**
 * The broker a group's FindCoordinator names, asked of the node `nodeId` directly. The first
 * request creates __consumer_offsets, so COORDINATOR_NOT_AVAILABLE may come first.
 */
async function groupCoordinator(groupId: string, nodeId: number): Promise<number> {
  return eventually(`a coordinator for ${groupId} from node ${nodeId}`, async () => {
    const connection = await RawConnection.connect(cluster.node(nodeId).port);
    try {
      const { body } = await connection.request(ApiKey.FindCoordinator, 1, { key: groupId, keyType: 0 });
      if (body.errorCode !== 0) throw new Error(`FindCoordinator answered error ${body.errorCode}`);
      return body.nodeId as number;
    } finally {
      connection.destroy();
    }
  }, 30_000);
}

describe('kafkajs and kcat on a 3-node cluster', () => {
  it('kafkajs metadata lists all three brokers and an RF=3 topic with leaders and full ISRs', async () => {
    const described = await admin.describeCluster();
    expect(described.brokers.map((broker) => broker.nodeId).sort()).toEqual([1, 2, 3]);
    for (const broker of described.brokers) expect(broker.port).toBe(cluster.node(broker.nodeId).port);
    expect([1, 2, 3]).toContain(described.controller);

    const partitions = await fullIsr(METADATA_TOPIC);
    expect(partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    for (const partition of partitions) {
      expect([...partition.replicas].sort()).toEqual([1, 2, 3]);
      expect([...partition.isr].sort()).toEqual([1, 2, 3]);
      expect(partition.replicas).toContain(partition.leader);
    }
    // Replica j of partition i sits on broker (i + j) mod n, so the preferred leaders differ.
    expect(new Set(partitions.map((p) => p.leader)).size).toBe(3);
  });

  it('kcat -L lists all three brokers and the replicas of the RF=3 topic', async () => {
    const run = await kcat(['-b', cluster.bootstrap.join(','), '-L', '-t', METADATA_TOPIC]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('3 brokers');
    for (const node of cluster.nodes) expect(run.stdout).toContain(`broker ${node.nodeId} at 127.0.0.1:${node.port}`);
    expect(run.stdout).toMatch(new RegExp(`topic "${METADATA_TOPIC}" with 3 partitions`));
    const lines = [...run.stdout.matchAll(/partition (\d+), leader (\d+), replicas: ([\d,]+), isrs: ([\d,]+)/g)];
    expect(lines).toHaveLength(3);
    for (const [, , leader, replicas, isrs] of lines) {
      expect(replicas!.split(',').sort()).toEqual(['1', '2', '3']);
      expect(isrs!.split(',').sort()).toEqual(['1', '2', '3']);
      expect(['1', '2', '3']).toContain(leader);
    }
  });

  it('kcat produces with acks=all to the RF=3 topic and consumes every record back', async () => {
    const lines = Array.from({ length: 300 }, (_, index) => `key${index % 11}:rf3-value-${index}`);
    const produced = await kcat(['-b', cluster.bootstrap.join(','), '-t', KCAT_TOPIC, '-P', '-K', ':', '-X', 'acks=all', '-X', 'linger.ms=5'], lines.join('\n') + '\n');
    expect(produced.code, produced.stderr).toBe(0);
    const consumed = await kcat(['-b', cluster.bootstrap.join(','), '-t', KCAT_TOPIC, '-C', '-o', 'beginning', '-e', '-f', '%k:%s\n']);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(consumed.stdout.trim().split('\n').sort()).toEqual([...lines].sort());
  });

  it('a kafkajs producer and consumer group carry on through a partition leader SIGKILL', async () => {
    const groupId = 'compat-failover-group';
    const partitions = await fullIsr(FAILOVER_TOPIC);
    // The victim leads a data partition but is not the group's coordinator (killing the
    // coordinator is test/cluster/coordinator-failover.test.ts); every node is asked, so all
    // agree on who the coordinator is.
    const coordinator = await groupCoordinator(groupId, 1);
    for (const node of cluster.nodes) expect(await groupCoordinator(groupId, node.nodeId)).toBe(coordinator);
    const target = partitions.find((p) => p.leader !== coordinator);
    if (target === undefined) throw new Error(`every partition is led by the coordinator ${coordinator}`);
    const victim = target.leader;

    const consumed: Set<number>[] = Array.from({ length: PARTITIONS }, () => new Set());
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
    await consumer.connect();
    await consumer.subscribe({ topic: FAILOVER_TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => { consumed[partition]!.add(Number(message.value!.toString())); } });

    const production = startProducing();
    try {
      await eventually('records produced and consumed before the kill', () => (
        production.acknowledged[target.partitionId]!.length >= 50 && consumed[target.partitionId]!.size >= 20 ? true : undefined
      ), 30_000);
      const acknowledgedBeforeKill = production.acknowledged[target.partitionId]!.length;
      // Nothing moved leadership since the victim was chosen, so the kill hits the leader.
      expect((await partitionsOf(FAILOVER_TOPIC)).find((p) => p.partitionId === target.partitionId)?.leader).toBe(victim);
      await cluster.kill(victim);

      const newLeader = await eventually(`a new leader for ${FAILOVER_TOPIC}-${target.partitionId}`, async () => {
        const leader = (await partitionsOf(FAILOVER_TOPIC)).find((p) => p.partitionId === target.partitionId)?.leader;
        return leader !== undefined && leader >= 0 && leader !== victim ? leader : undefined;
      }, 30_000);
      expect(target.isr).toContain(newLeader);
      // Production resumes on the partition whose leader died, and the group reads what follows.
      await eventually('acknowledged production on the failed-over partition', () => (
        production.acknowledged[target.partitionId]!.length >= acknowledgedBeforeKill + 50 ? true : undefined
      ), 45_000);
    } finally {
      await production.stop();
    }
    expect(production.count()).toBeGreaterThan(0);

    await eventually('every acknowledged record consumed', () => (
      production.acknowledged.every((values, partition) => values.every((value) => consumed[partition]!.has(value))) ? true : undefined
    ), 60_000).catch((error: Error) => {
      const missing = production.acknowledged.map((values, partition) => values.filter((value) => !consumed[partition]!.has(value)).length);
      throw new Error(`${error.message}; missing per partition ${missing.join(',')} (victim node ${victim}, partition ${target.partitionId})`);
    });
    await consumer.disconnect();
    console.log(`cluster-clients: killed node ${victim} (leader of partition ${target.partitionId}; coordinator ${coordinator}); ${production.count()} records acknowledged, ${production.failedSends()} sends failed and retried with a new producer`);
    // The coordinator survived, so the group stayed whole: it is still the same broker.
    expect(await groupCoordinator(groupId, coordinator)).toBe(coordinator);
  }, 180_000);
});

/**
 * Writes numbered records round-robin over the partitions until stopped and keeps what was
 * acknowledged. After a failed send the producer is replaced: kafkajs hands a failed batch's
 * sequence numbers to the next batch, so if the broker did write the failed one, the next would
 * be taken for its duplicate and acknowledged without being written (see chaos.test.ts).
 */
function startProducing(): { acknowledged: number[][]; stop: () => Promise<void>; count: () => number; failedSends: () => number } {
  const acknowledged: number[][] = Array.from({ length: PARTITIONS }, () => []);
  let next = 0;
  let failed = 0;
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
      const partition = (next / 5) % PARTITIONS;
      const values = Array.from({ length: 5 }, (_, index) => next + index);
      next += 5;
      try {
        await producer.send({ topic: FAILOVER_TOPIC, acks: -1, timeout: 4000, messages: values.map((value) => ({ partition, value: String(value) })) });
        acknowledged[partition]!.push(...values);
      } catch {
        // Unacknowledged: the records may or may not be in the log, and the check allows both.
        failed += 1;
        await producer.disconnect().catch(() => undefined);
        producer = null;
      }
    }
    await producer?.disconnect().catch(() => undefined);
  })();
  return { acknowledged, stop: async () => { running = false; await loop; }, count: () => acknowledged.reduce((sum, list) => sum + list.length, 0), failedSends: () => failed };
}
