// A 3-node cluster (combined broker + controller processes): metadata lists every broker and
// the partition leaders the controller placed; CreateTopics with replication factor 3 goes
// through the controller; a broker that does not lead a partition refuses Produce with
// NOT_LEADER_OR_FOLLOWER; acks=all records reach every replica and consumers read them back.
import { Kafka, logLevel, type Admin as KafkaAdmin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../core/protocol/index.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { encodeBatch } from '../../core/records/batch.ts';
import { RequestChannel } from '../../runtime/cluster/request-channel.ts';
import { cleanupCluster, eventually, startCluster, type TestCluster } from '../helpers/cluster.ts';

let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, overrides: { 'min.insync.replicas': '2' } });
  kafka = new Kafka({ clientId: 'cluster-basics', brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, retry: { retries: 15, initialRetryTime: 100, maxRetryTime: 1000 } });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await cleanupCluster();
});

describe('3-node cluster', () => {
  it('lists every live broker and an active controller in Metadata', async () => {
    const described = await eventually('three live brokers', async () => {
      const result = await admin.describeCluster();
      return result.brokers.length === 3 && result.controller !== null && result.controller >= 1 ? result : undefined;
    });
    expect(described.brokers.map((broker) => broker.nodeId).sort()).toEqual([1, 2, 3]);
    expect(described.brokers.map((broker) => broker.port).sort()).toEqual(cluster.nodes.map((node) => node.port).sort());
  });

  it('creates a replicated topic through the controller with (i + j) mod n placement', async () => {
    await eventually('three live brokers', async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined));
    expect(await admin.createTopics({ topics: [{ topic: 'replicated', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true })).toBe(true);
    // Each broker learns of the topic when it applies the committed records, a moment apart.
    const metadata = await eventually('the topic on every broker', () => admin.fetchTopicMetadata({ topics: ['replicated'] }));
    const partitions = [...metadata.topics[0]!.partitions].sort((a, b) => a.partitionId - b.partitionId);
    expect(partitions.map((p) => p.replicas)).toEqual([[1, 2, 3], [2, 3, 1], [3, 1, 2]]);
    expect(partitions.map((p) => p.leader)).toEqual([1, 2, 3]);
    const refused = await admin.createTopics({ topics: [{ topic: 'too-many', numPartitions: 1, replicationFactor: 4 }] }).then(() => null, (error: unknown) => error);
    expect((refused as { errors?: { type: string; topic: string }[] } | null)?.errors?.[0]).toMatchObject({ type: 'INVALID_REPLICATION_FACTOR', topic: 'too-many' });
  });

  it('refuses Produce and Fetch on a broker that does not lead the partition, naming the leader', async () => {
    await eventually('topic leaders', async () => ((await admin.fetchTopicMetadata({ topics: ['replicated'] })).topics[0]!.partitions.length === 3 ? true : undefined));
    // Partition 0 is led by broker 1; broker 2 follows it.
    const channel = new RequestChannel({ host: '127.0.0.1', port: cluster.node(2).port }, 'test');
    try {
      // Broker 2 may apply the topic's records a moment after the broker the admin asked.
      const errorCode = await eventually('broker 2 to know the topic', async () => {
        const response = await channel.send(ApiKey.Produce, 9, {
          transactionalId: null, acks: -1, timeoutMs: 5000,
          topicData: [{ name: 'replicated', partitionData: [{ index: 0, records: encodeBatch({ records: [{ key: null, value: Buffer.from('x') }] }) }] }],
        }, 10_000);
        const code = response.responses[0]!.partitionResponses[0]!.errorCode;
        return code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? undefined : code;
      });
      expect(errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      // A consumer's Fetch gets the same error and is told who leads, with the leader epoch.
      const fetched = await channel.send(ApiKey.Fetch, 12, {
        replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024 * 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 'replicated', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1024 * 1024 }] }],
        forgottenTopicsData: [], rackId: '',
      }, 10_000);
      const partition = fetched.responses[0]!.partitions[0]!;
      expect(partition.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      expect(partition.currentLeader).toEqual({ leaderId: 1, leaderEpoch: 0 });
      // On the leader, a consumer with a newer epoch than the leader's is told UNKNOWN_LEADER_EPOCH.
      const leaderChannel = new RequestChannel({ host: '127.0.0.1', port: cluster.node(1).port }, 'test');
      try {
        // Broker 1 too may apply the topic's records after broker 2 did (seen under load).
        const fencedCode = await eventually('broker 1 to know the topic', async () => {
          const fenced = await leaderChannel.send(ApiKey.Fetch, 12, {
            replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024 * 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
            topics: [{ topic: 'replicated', partitions: [{ partition: 0, currentLeaderEpoch: 7, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1024 * 1024 }] }],
            forgottenTopicsData: [], rackId: '',
          }, 10_000);
          const code = fenced.responses[0]!.partitions[0]!.errorCode;
          return code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? undefined : code;
        });
        expect(fencedCode).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
      } finally {
        leaderChannel.close();
      }
    } finally {
      channel.close();
    }
  });

  it('grows and deletes replicated topics through the controller', async () => {
    await admin.createTopics({ topics: [{ topic: 'short-lived', numPartitions: 1, replicationFactor: 2 }] });
    await eventually('the topic on every broker', () => admin.fetchTopicMetadata({ topics: ['short-lived'] }));
    await admin.createPartitions({ topicPartitions: [{ topic: 'short-lived', count: 3 }] });
    const grown = await eventually('three partitions', async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: ['short-lived'] });
      return metadata.topics[0]!.partitions.length === 3 ? metadata.topics[0]! : undefined;
    });
    const replicas = [...grown.partitions].sort((a, b) => a.partitionId - b.partitionId).map((p) => p.replicas);
    expect(replicas).toEqual([[1, 2], [2, 3], [3, 1]]);
    await admin.deleteTopics({ topics: ['short-lived'] });
    // Every broker drops it: ask each one directly.
    for (const address of cluster.bootstrap) {
      const single = new Kafka({ clientId: 'one-broker', brokers: [address], logLevel: logLevel.NOTHING }).admin();
      await single.connect();
      try {
        await eventually(`the topic gone from ${address}`, async () => (!(await single.listTopics()).includes('short-lived') ? true : undefined));
      } finally {
        await single.disconnect();
      }
    }
  });

  it('acknowledges acks=all records and serves them to a consumer', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const messages = Array.from({ length: 20 }, (_, index) => ({ key: `k${index % 3}`, value: `v-${batch}-${index}` }));
      await producer.send({ topic: 'replicated', acks: -1, messages });
      sent.push(...messages.map((message) => message.value));
    }
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'basics-reader' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'replicated', fromBeginning: true });
    const received: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => { received.push(message.value!.toString()); } });
    await eventually('every record consumed', () => (received.length >= sent.length ? true : undefined), 30_000);
    await consumer.disconnect();
    expect([...received].sort()).toEqual([...sent].sort());
  });
});

describe('controlled shutdown', () => {
  it('moves leadership away before the node exits', async () => {
    const before = await eventually('partition 2 led by broker 3', async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: ['replicated'] });
      const partition = metadata.topics[0]!.partitions.find((p) => p.partitionId === 2)!;
      return partition.leader === 3 ? partition : undefined;
    });
    expect(before.leader).toBe(3);
    expect(await cluster.stop(3)).toBe(0);
    expect(cluster.node(3).logText()).toMatch(/controlled shutdown fenced=true/);
    const after = await eventually('a new leader for partition 2', async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: ['replicated'] });
      const partition = metadata.topics[0]!.partitions.find((p) => p.partitionId === 2)!;
      return partition.leader !== 3 ? partition : undefined;
    });
    expect([1, 2]).toContain(after.leader);
    expect(after.isr).not.toContain(3);
  });
});
