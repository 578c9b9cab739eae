// Transactions on a 3-node cluster where the data partitions and the transaction coordinator
// sit on different brokers. First, markers are fenced by coordinator epoch: once a coordinator
// of a newer epoch (the leader epoch of the __transaction_state partition) has ended a
// transaction on a partition, a marker of the deposed coordinator is refused with
// TRANSACTION_COORDINATOR_FENCED, by the partition's leader and by the replica that leads it
// after a kill (the epoch is rebuilt from the markers in the log). The deposed coordinator is
// played by WriteTxnMarkers sent over the wire with the old epoch.
// Second, KIP-890's verification: a transactional batch that would open a transaction on a
// partition led away from the coordinator is refused (INVALID_TXN_STATE) unless the partition
// was added to the producer's ongoing transaction, which the leader asks the coordinator; a
// TxnOffsetCommit to a group coordinator elsewhere likewise needs AddOffsetsToTxn first.
import type { Admin as KafkaAdmin, Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { ApiKey } from '../../core/protocol/index.ts';
import { encodeBatch } from '../../core/records/batch.ts';
import { TRANSACTION_STATE_TOPIC } from '../../runtime/broker/transaction-log.ts';
import { Producer } from '../../runtime/client/producer.ts';
import { cleanupCluster, createTopicsRetrying, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { RawConnection } from '../helpers/raw-connection.ts';

const FENCED_TOPIC = 'fenced-markers';
const VERIFIED_TOPIC = 'verified-writes';
const KEY_TYPE_TRANSACTION = 1;

let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  // One __transaction_state partition: its leader epoch is every transactional id's coordinator epoch.
  cluster = await startCluster({ nodes: 3, overrides: { 'transaction.state.log.num.partitions': '1', 'offsets.topic.num.partitions': '3' } });
  ({ kafka, admin } = await kafkajsForCluster(cluster, 'transaction-fencing', 30));
  const configEntries = [{ name: 'min.insync.replicas', value: '2' }];
  await createTopicsRetrying(admin, [{ topic: FENCED_TOPIC, numPartitions: 1, replicationFactor: 3, configEntries }, { topic: VERIFIED_TOPIC, numPartitions: 3, replicationFactor: 3, configEntries }]);
}, 90_000);

afterEach((context) => {
  if (context.task.result?.state !== 'fail') return;
  for (const node of cluster.nodes) {
    const lines = node.logText().split('\n').filter((line) => /coordinat|transaction|marker|verif|WARN|ERROR/i.test(line));
    console.log(`--- node ${node.nodeId} ---\n${lines.slice(-40).join('\n')}`);
  }
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
}, 60_000);

/** One request to one live node (the given one, else any). */
async function ask(apiKey: number, version: number, body: unknown, nodeId?: number): Promise<any> {
  const node = nodeId === undefined ? cluster.nodes.find((candidate) => cluster.isRunning(candidate.nodeId)) : cluster.node(nodeId);
  if (node === undefined) throw new Error('no live node');
  const connection = await RawConnection.connect(node.port);
  try {
    return (await connection.request(apiKey, version, body)).body;
  } finally {
    connection.destroy();
  }
}

/** A partition's leader and leader epoch as a live node's Metadata (v9) gives them. */
async function partitionLeader(topic: string, partition: number): Promise<{ leaderId: number; leaderEpoch: number }> {
  const body = await ask(ApiKey.Metadata, 9, { topics: [{ name: topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
  const found = body.topics[0]?.partitions.find((candidate: { partitionIndex: number }) => candidate.partitionIndex === partition);
  if (found === undefined) throw new Error(`no metadata for ${topic}-${partition}`);
  return { leaderId: found.leaderId, leaderEpoch: found.leaderEpoch };
}

async function transactionCoordinator(transactionalId: string): Promise<number | undefined> {
  const body = await ask(ApiKey.FindCoordinator, 1, { key: transactionalId, keyType: KEY_TYPE_TRANSACTION });
  return body.errorCode === ErrorCode.NONE ? body.nodeId as number : undefined;
}

/** Runs one transaction of `values` on `topic`-0 to its commit, with a new producer whenever one fails (a coordinator moved mid-way). */
async function commitOnce(producer: { current: Producer }, transactionalId: string, topic: string, values: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await producer.current.beginTransaction();
      for (const value of values) await producer.current.send({ topic, messages: [{ partition: 0, value }] });
      await producer.current.commitTransaction();
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      await producer.current.close().catch(() => undefined);
      producer.current = newProducer(transactionalId);
    }
  }
}

function newProducer(transactionalId: string): Producer {
  return new Producer({ bootstrapServers: liveBootstrap(), 'transactional.id': transactionalId, lingerMs: 1, requestTimeoutMs: 4000, retries: 30, retryBackoffMs: 100 });
}

function liveBootstrap(): string[] {
  return cluster.nodes.filter((node) => cluster.isRunning(node.nodeId)).map((node) => `127.0.0.1:${node.port}`);
}

async function readCommitted(topic: string, partitions: number, expectedCount: number): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${Date.now()}`, readUncommitted: false });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? ''); } });
    await eventually(`${expectedCount} committed records of ${topic} (${partitions} partitions)`, () => (values.length >= expectedCount ? true : undefined), 30_000);
    // Anything that should not be there would come right behind.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return values.sort();
  } finally {
    await consumer.disconnect();
  }
}

/** A group id whose coordinator is a live node other than `nodeId`, with that coordinator. */
async function groupCoordinatedAwayFrom(nodeId: number): Promise<{ id: string; coordinator: number }> {
  for (let index = 0; index < 50; index++) {
    const id = `verified-group-${index}`;
    const body = await ask(ApiKey.FindCoordinator, 1, { key: id, keyType: 0 });
    if (body.errorCode === ErrorCode.NONE && body.nodeId !== nodeId) return { id, coordinator: body.nodeId as number };
  }
  throw new Error(`no group id coordinated away from node ${nodeId}`);
}

describe('transaction markers fenced by coordinator epoch', () => {
  it('refuses a deposed coordinator\'s marker on the data partition, before and after the partition changes leader', async () => {
    const transactionalId = 'fencing-transactions';
    const producer = { current: newProducer(transactionalId) };
    try {
      await commitOnce(producer, transactionalId, FENCED_TOPIC, ['first']);
      const coordinator = await eventually('the transaction coordinator', () => transactionCoordinator(transactionalId), 30_000);
      const before = await partitionLeader(TRANSACTION_STATE_TOPIC, 0);
      expect(before.leaderId).toBe(coordinator);

      // The coordinator dies; the node that takes __transaction_state-0 over coordinates in a newer epoch.
      await cluster.kill(coordinator);
      const after = await eventually('a new leader of __transaction_state-0', async () => {
        const described = await partitionLeader(TRANSACTION_STATE_TOPIC, 0);
        return described.leaderId >= 0 && described.leaderId !== coordinator ? described : undefined;
      }, 30_000);
      expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
      await commitOnce(producer, transactionalId, FENCED_TOPIC, ['second']);
      const { producerId, producerEpoch } = producer.current.producerIdentity;

      // The deposed coordinator's abort, as it would send it, reaches the data partition's leader.
      const staleAbort = {
        markers: [{ producerId, producerEpoch, transactionResult: false, topics: [{ name: FENCED_TOPIC, partitionIndexes: [0] }], coordinatorEpoch: before.leaderEpoch }],
      };
      /** The leader's answer once it is one about the marker (not a leader or ISR still settling). */
      const writeStale = (leaderId: number): Promise<number> => eventually(`an answer about the marker from node ${leaderId}`, async () => {
        const body = await ask(ApiKey.WriteTxnMarkers, 1, staleAbort, leaderId);
        const errorCode = body.markers[0].topics[0].partitions[0].errorCode as number;
        return errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || errorCode === ErrorCode.NOT_ENOUGH_REPLICAS ? undefined : errorCode;
      });
      const dataLeader = await eventually('a leader of the fenced topic', async () => {
        const described = await partitionLeader(FENCED_TOPIC, 0);
        return described.leaderId >= 0 ? described.leaderId : undefined;
      });
      expect(await writeStale(dataLeader)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);

      // Every node back, then the data partition's leader dies: its successor knows the epoch from its own copy of the log.
      await cluster.restart(coordinator);
      await eventually('the data partition fully in sync', async () => {
        const metadata = await admin.fetchTopicMetadata({ topics: [FENCED_TOPIC] });
        return metadata.topics[0]?.partitions[0]?.isr.length === 3 ? true : undefined;
      }, 30_000);
      await cluster.kill(dataLeader);
      const nextLeader = await eventually('a new leader of the fenced topic', async () => {
        const described = await partitionLeader(FENCED_TOPIC, 0);
        return described.leaderId >= 0 && described.leaderId !== dataLeader ? described.leaderId : undefined;
      }, 30_000);
      expect(await writeStale(nextLeader)).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
      await cluster.restart(dataLeader);

      // Nothing was aborted: both committed transactions are whole.
      expect(await readCommitted(FENCED_TOPIC, 1, 2)).toEqual(['first', 'second']);
    } finally {
      await producer.current.close().catch(() => undefined);
    }
  }, 180_000);
});

describe('transactional writes verified with the coordinator (KIP-890)', () => {
  it('refuses a transactional batch for a partition not added to the transaction, on a leader other than the coordinator', async () => {
    const transactionalId = 'verified-transactions';
    await eventually('all three brokers live', async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined), 30_000);
    const producer = newProducer(transactionalId);
    try {
      await producer.beginTransaction();
      const coordinator = await eventually('the transaction coordinator', () => transactionCoordinator(transactionalId), 30_000);
      const leaders = await Promise.all([0, 1, 2].map((partition) => partitionLeader(VERIFIED_TOPIC, partition)));
      const away = leaders.findIndex((leader) => leader.leaderId >= 0 && leader.leaderId !== coordinator);
      expect(away, `a partition of ${VERIFIED_TOPIC} led away from coordinator ${coordinator}`).toBeGreaterThanOrEqual(0);
      const added = (away + 1) % 3;
      await producer.send({ topic: VERIFIED_TOPIC, messages: [{ partition: added, value: 'added' }] });
      const { producerId, producerEpoch } = producer.producerIdentity;

      // A client that skips AddPartitionsToTxn for partition `away` writes to its leader directly.
      const produceAway = async (value: string) => {
        const records = encodeBatch({ baseOffset: 0n, producerId, producerEpoch, baseSequence: 0, transactional: true, records: [{ value }] });
        const body = await ask(ApiKey.Produce, 9, {
          transactionalId, acks: -1, timeoutMs: 10_000, topicData: [{ name: VERIFIED_TOPIC, partitionData: [{ index: away, records }] }],
        }, leaders[away]!.leaderId);
        return body.responses[0].partitionResponses[0].errorCode as number;
      };
      expect(await produceAway('never added')).toBe(ErrorCode.INVALID_TXN_STATE);

      // Once the partition is part of the transaction, the same write goes through.
      const addBody = await ask(ApiKey.AddPartitionsToTxn, 3, {
        v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch,
        v3AndBelowTopics: [{ name: VERIFIED_TOPIC, partitions: [away] }],
      }, coordinator);
      expect(addBody.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode).toBe(ErrorCode.NONE);
      expect(await produceAway('added late')).toBe(ErrorCode.NONE);

      // TxnOffsetCommit to a group coordinator that is not the transaction coordinator: refused
      // until AddOffsetsToTxn has put the group's offsets partition into the transaction.
      const groupId = await groupCoordinatedAwayFrom(coordinator);
      const commitOffsets = async () => {
        const body = await ask(ApiKey.TxnOffsetCommit, 3, {
          transactionalId, groupId: groupId.id, producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
          topics: [{ name: VERIFIED_TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }] }],
        }, groupId.coordinator);
        return body.topics[0].partitions[0].errorCode as number;
      };
      expect(await commitOffsets()).toBe(ErrorCode.INVALID_TXN_STATE);
      const addOffsets = await ask(ApiKey.AddOffsetsToTxn, 1, { transactionalId, producerId, producerEpoch, groupId: groupId.id }, coordinator);
      expect(addOffsets.errorCode).toBe(ErrorCode.NONE);
      expect(await commitOffsets()).toBe(ErrorCode.NONE);

      await producer.commitTransaction();
      expect(await readCommitted(VERIFIED_TOPIC, 3, 2)).toEqual(['added', 'added late']);
      const offsets = await admin.fetchOffsets({ groupId: groupId.id, topics: [VERIFIED_TOPIC] });
      expect(offsets[0]?.partitions.find((partition) => partition.partition === 0)?.offset).toBe('1');
    } finally {
      await producer.close().catch(() => undefined);
    }
  }, 120_000);
});
