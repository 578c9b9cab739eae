// Raw-protocol requests the idempotence and transaction tests share: each sends one request on
// a RawConnection and returns the part of the answer the tests look at.
import { expect } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { decodeBatch, encodeBatch, iterateBatches } from '../../../core/records/batch.ts';
import { isControl } from '../../../core/records/header.ts';
import type { RawConnection } from '../../helpers/raw-connection.ts';

export async function createTopic(connection: RawConnection, name: string, numPartitions = 1): Promise<void> {
  const response = await connection.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  expect(response.body.topics[0].errorCode).toBe(ErrorCode.NONE);
}

export async function initProducerId(connection: RawConnection, transactionalId: string | null, options: { timeoutMs?: number; version?: number; producerId?: bigint; producerEpoch?: number } = {}): Promise<{ errorCode: number; producerId: bigint; producerEpoch: number }> {
  const response = await connection.request(ApiKey.InitProducerId, options.version ?? 1, {
    transactionalId, transactionTimeoutMs: options.timeoutMs ?? 60_000, producerId: options.producerId ?? -1n, producerEpoch: options.producerEpoch ?? -1,
  });
  return response.body;
}

export interface BatchSpec {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  values: string[];
  /** Set for transactional batches: the produce request names the transactional id. */
  transactionalId?: string;
}

export async function produce(connection: RawConnection, topic: string, partition: number, batch: BatchSpec): Promise<{ errorCode: number; baseOffset: bigint }> {
  const records = encodeBatch({
    producerId: batch.producerId, producerEpoch: batch.producerEpoch, baseSequence: batch.baseSequence, transactional: batch.transactionalId !== undefined,
    records: batch.values.map((value) => ({ key: `k-${value}`, value })),
  });
  const response = await connection.request(ApiKey.Produce, 8, {
    transactionalId: batch.transactionalId ?? null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return response.body.responses[0].partitionResponses[0];
}

/** The versions the broker advertises for an API in its ApiVersions answer, undefined if none. */
export async function advertisedVersions(connection: RawConnection, apiKey: number): Promise<{ minVersion: number; maxVersion: number } | undefined> {
  const versions = await connection.request(ApiKey.ApiVersions, 0, {});
  return versions.body.apiKeys.find((entry: { apiKey: number }) => entry.apiKey === apiKey);
}

export async function addPartitions(connection: RawConnection, transactionalId: string, producer: { producerId: bigint; producerEpoch: number }, topic: string, partitions: number[], version = 1): Promise<number[]> {
  const response = await connection.request(ApiKey.AddPartitionsToTxn, version, {
    v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producer.producerId, v3AndBelowProducerEpoch: producer.producerEpoch,
    v3AndBelowTopics: [{ name: topic, partitions }], transactions: [],
  });
  return response.body.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: { partitionErrorCode: number }) => p.partitionErrorCode);
}

export async function endTransaction(connection: RawConnection, transactionalId: string, producer: { producerId: bigint; producerEpoch: number }, committed: boolean): Promise<number> {
  const response = await connection.request(ApiKey.EndTxn, 1, { transactionalId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, committed });
  return response.body.errorCode;
}

export async function addOffsets(connection: RawConnection, transactionalId: string, producer: { producerId: bigint; producerEpoch: number }, groupId: string): Promise<number> {
  const response = await connection.request(ApiKey.AddOffsetsToTxn, 1, { transactionalId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, groupId });
  return response.body.errorCode;
}

export async function txnOffsetCommit(connection: RawConnection, transactionalId: string, producer: { producerId: bigint; producerEpoch: number }, groupId: string, topic: string, offset: bigint): Promise<number> {
  const response = await connection.request(ApiKey.TxnOffsetCommit, 2, {
    transactionalId, groupId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, generationId: -1, memberId: '', groupInstanceId: null,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: '' }] }],
  });
  return response.body.topics[0].partitions[0].errorCode;
}

export async function committedOffset(connection: RawConnection, groupId: string, topic: string): Promise<bigint> {
  const response = await connection.request(ApiKey.OffsetFetch, 5, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], groups: [], requireStable: false });
  return response.body.topics[0].partitions[0].committedOffset;
}

/** OffsetFetch v7 with requireStable: the error code and offset of partition 0. */
export async function stableOffset(connection: RawConnection, groupId: string, topic: string): Promise<{ errorCode: number; committedOffset: bigint }> {
  const response = await connection.request(ApiKey.OffsetFetch, 7, { groupId, topics: [{ name: topic, partitionIndexes: [0] }], groups: [], requireStable: true });
  return response.body.topics[0].partitions[0];
}

export async function latestOffset(connection: RawConnection, topic: string, partition: number, isolationLevel: number): Promise<bigint> {
  const response = await connection.request(ApiKey.ListOffsets, 2, {
    replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }],
  });
  return response.body.topics[0].partitions[0].offset;
}

export interface FetchedPartition {
  /** Data records with their offsets and producer ids; control batches are left out. */
  records: { offset: bigint; value: string; producerId: bigint }[];
  controls: { offset: bigint; producerId: bigint }[];
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null;
  highWatermark: bigint;
  lastStableOffset: bigint;
}

/** Everything from offset 0 that a consumer with this isolation level may read. */
export async function fetchAll(connection: RawConnection, topic: string, partition: number, isolationLevel: number): Promise<FetchedPartition> {
  const response = await connection.request(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const answer = response.body.responses[0].partitions[0];
  expect(answer.errorCode).toBe(ErrorCode.NONE);
  const result: FetchedPartition = {
    records: [], controls: [], abortedTransactions: answer.abortedTransactions,
    highWatermark: answer.highWatermark, lastStableOffset: answer.lastStableOffset,
  };
  const bytes: Buffer = answer.records ?? Buffer.alloc(0);
  for (const { position, header } of iterateBatches(bytes)) {
    if (isControl(header.attributes)) { result.controls.push({ offset: header.baseOffset, producerId: header.producerId }); continue; }
    const batch = decodeBatch(bytes, position);
    for (const record of batch.records) {
      result.records.push({ offset: header.baseOffset + BigInt(record.offsetDelta), value: record.value!.toString(), producerId: header.producerId });
    }
  }
  return result;
}

/** What a read_committed consumer delivers: fetched records minus those of aborted transactions. */
export function committedValues(fetched: FetchedPartition): string[] {
  const aborted = fetched.abortedTransactions ?? [];
  return fetched.records.filter((record) => !aborted.some((a) => {
    const marker = fetched.controls.find((c) => c.producerId === a.producerId && c.offset > a.firstOffset)?.offset ?? BigInt(Number.MAX_SAFE_INTEGER);
    return record.producerId === a.producerId && record.offset >= a.firstOffset && record.offset < marker;
  })).map((record) => record.value);
}
