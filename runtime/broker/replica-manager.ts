// Owns every partition this broker hosts: the log, the high watermark and the leader epoch.
// All appends go through `append` here, the one code path that changes a partition's log and
// wakes the fetches waiting on it. On a single node every partition is led here and the
// in-sync replica set is this broker alone, so an append is committed as soon as it is written.
// Each partition's producer state (sequences, epochs, open and aborted transactions) is checked
// and updated on that same path, from batch headers only.
import { ErrorCode } from '../../core/protocol/errors.ts';
import { batchSizeAt, isTransactional, readBatchHeader, type BatchHeader } from '../../core/records/header.ts';
import { encodeControlBatch, validateBatch } from '../../core/records/batch.ts';
import type { PartitionLog } from '../../state/log/partition-log.ts';
import type { Logger } from '../logger.ts';
import { FetchPurgatory } from './fetch-purgatory.ts';
import { ProducePurgatory } from './produce-purgatory.ts';
import type { ProducerStateTable } from './producer-state.ts';
import { leaderHighWatermark, type PartitionReplication } from './replication.ts';

/** Fetch and ListOffsets isolation levels. */
export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export interface PartitionState {
  topic: string;
  partition: number;
  log: PartitionLog;
  /** Offsets below this are committed and visible to consumers. */
  highWatermark: bigint;
  /** Bumped on every leader change; clients use it to fence stale leaders. */
  leaderEpoch: number;
  /** max.message.bytes of the topic. */
  maxMessageBytes: number;
  /** Compacted topics need a key on every record. */
  requireKeys: boolean;
  minInsyncReplicas: number;
  /** Idempotence and transactions: epochs, sequences, open and aborted transactions. */
  producers: ProducerStateTable;
  /** Only in a cluster: leader or follower, the ISR and the followers' progress. */
  replication?: PartitionReplication;
}

export interface ProduceResult {
  errorCode: number;
  errorMessage: string | null;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  logStartOffset: bigint;
}

export interface FetchPartitionRequest {
  topic: string;
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  /** Fetch v9+: the leader epoch the client knows; checked on replicated partitions (-1 skips). */
  currentLeaderEpoch?: number;
}

export interface FetchPartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  /** read_committed only: aborted transactions overlapping the returned records. */
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[];
  records: Buffer | null;
}

export interface FetchOptions {
  minBytes: number;
  maxBytes: number;
  maxWaitMs: number;
  /** READ_UNCOMMITTED reads up to the high watermark, READ_COMMITTED up to the last stable offset. */
  isolationLevel: number;
}

/** The first offset of the earliest open transaction, else the high watermark. */
export function lastStableOffset(state: PartitionState): bigint {
  return state.producers.lastStableOffset(state.highWatermark);
}

/**
 * Asks the transaction coordinator whether a transactional write may open a transaction on a
 * partition: the producer must have added the partition to its ongoing transaction first.
 * Returns an error code, NONE when the write may go ahead.
 */
export type TransactionalWriteCheck = (write: { transactionalId: string | null; producerId: bigint; producerEpoch: number; topic: string; partition: number }) => number;

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Followers' fetches wait under their own key: they are woken by appends, while consumers of
 * a replicated partition are woken only when the high watermark moves.
 */
export function followerKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}\u0000followers`;
}

export class ReplicaManager {
  /** Hosted partitions by topic and partition: get() on every request builds no key. */
  private readonly byTopic = new Map<string, Map<number, PartitionState>>();
  readonly purgatory = new FetchPurgatory();
  readonly producePurgatory = new ProducePurgatory();

  constructor(private readonly logger: Logger, private readonly checkTransactionalWrite: TransactionalWriteCheck = () => ErrorCode.NONE) {}

  add(state: PartitionState): void {
    let partitions = this.byTopic.get(state.topic);
    if (partitions === undefined) this.byTopic.set(state.topic, partitions = new Map());
    partitions.set(state.partition, state);
  }

  remove(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    const partitions = this.byTopic.get(topic);
    partitions?.delete(partition);
    if (partitions?.size === 0) this.byTopic.delete(topic);
    this.purgatory.wakeAll(key);
    this.producePurgatory.failAll(key, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.byTopic.get(topic)?.get(partition);
  }

  /**
   * Validates and appends the batches of one partition of a produce request. The records buffer
   * is a slice of the request frame; offsets are patched into it and it goes to disk as is.
   */
  append(topic: string, partition: number, records: Buffer | null, acks: number, transactionalId: string | null = null): ProduceResult {
    const state = this.get(topic, partition);
    if (state === undefined) return produceFailure(state, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, null);
    if (state.replication !== undefined && state.replication.role !== 'leader') return produceFailure(state, ErrorCode.NOT_LEADER_OR_FOLLOWER, null);
    if (records === null || records.length === 0) return produceFailure(state, ErrorCode.CORRUPT_MESSAGE, 'no record batch');
    const insyncCount = state.replication?.isr.length ?? 1;
    if (acks === -1 && state.minInsyncReplicas > insyncCount) {
      return produceFailure(state, ErrorCode.NOT_ENOUGH_REPLICAS, `min.insync.replicas=${state.minInsyncReplicas} but this partition has ${insyncCount} in-sync replica(s)`);
    }
    let appendedBytes = 0;
    let position = 0;
    const headers: BatchHeader[] = [];
    while (position < records.length) {
      const size = batchSizeAt(records, position);
      if (size < 0 || position + size > records.length) return produceFailure(state, ErrorCode.CORRUPT_MESSAGE, 'truncated record batch');
      const verdict = validateBatch(records, position, size, { maxMessageBytes: state.maxMessageBytes, requireKeys: state.requireKeys });
      if (!verdict.ok) {
        this.logger.warn('rejected batch', { topic, partition, error: verdict.message });
        return produceFailure(state, verdict.errorCode, verdict.message);
      }
      headers.push(verdict.header);
      appendedBytes += size;
      position += size;
    }
    // Plain producers (no producer id) skip the producer state entirely.
    const idempotent = headers.some((header) => header.producerId >= 0n);
    if (idempotent) {
      const producerVerdict = state.producers.checkAppend(headers);
      if (producerVerdict.kind === 'reject') return produceFailure(state, producerVerdict.errorCode, producerVerdict.message);
      if (producerVerdict.kind === 'duplicate') {
        return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: producerVerdict.firstOffset, logAppendTimeMs: -1n, logStartOffset: state.log.logStartOffset };
      }
      const refused = this.verifyTransactionStart(state, headers, transactionalId);
      if (refused !== ErrorCode.NONE) return produceFailure(state, refused, 'the partition was not added to an ongoing transaction of this producer');
    }
    const appended = state.log.append(records, { leaderEpoch: state.leaderEpoch });
    if (idempotent) recordAppends(state, headers, appended.baseOffset);
    state.producers.afterAppend(state.log);
    this.afterLeaderAppend(state, appendedBytes);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: appended.baseOffset,
      logAppendTimeMs: appended.logAppendTimeMs === undefined || appended.logAppendTimeMs === null ? -1n : BigInt(appended.logAppendTimeMs),
      logStartOffset: state.log.logStartOffset,
    };
  }

  /**
   * A transactional batch that would open a transaction on this partition must belong to an
   * ongoing transaction that contains the partition. Without the check a client that skips
   * AddPartitionsToTxn would leave a transaction no coordinator knows about, and the last
   * stable offset would stay behind it forever (Kafka's "hanging transaction", KIP-890).
   */
  private verifyTransactionStart(state: PartitionState, headers: readonly BatchHeader[], transactionalId: string | null): number {
    for (const header of headers) {
      if (!isTransactional(header.attributes) || state.producers.hasOpenTransaction(header.producerId)) continue;
      const errorCode = this.checkTransactionalWrite({
        transactionalId, producerId: header.producerId, producerEpoch: header.producerEpoch, topic: state.topic, partition: state.partition,
      });
      if (errorCode !== ErrorCode.NONE) return errorCode;
    }
    return ErrorCode.NONE;
  }

  /**
   * Appends a batch the broker built itself (group offsets, transaction markers), which needs
   * no validation. Returns null on success or why it failed.
   */
  appendInternal(topic: string, partition: number, batch: Buffer): string | null {
    const state = this.get(topic, partition);
    if (state === undefined) return `partition ${topic}-${partition} is not hosted here`;
    const header = readBatchHeader(batch, 0);
    const appended = state.log.append(batch, { leaderEpoch: state.leaderEpoch });
    recordAppends(state, [header], appended.baseOffset);
    state.producers.afterAppend(state.log);
    this.afterLeaderAppend(state, batch.length);
    return null;
  }

  /**
   * Writes a transaction marker (a control batch) for the producer and closes its open
   * transaction on this partition. Returns false when the partition no longer exists.
   */
  appendMarker(topic: string, partition: number, marker: { producerId: bigint; producerEpoch: number; commit: boolean; coordinatorEpoch: number }): boolean {
    const state = this.get(topic, partition);
    if (state === undefined) return false;
    const batch = encodeControlBatch({
      type: marker.commit ? 'commit' : 'abort', producerId: marker.producerId, producerEpoch: marker.producerEpoch,
      coordinatorEpoch: marker.coordinatorEpoch, timestamp: Date.now(),
    });
    const appended = state.log.append(batch, { leaderEpoch: state.leaderEpoch });
    const firstOffset = state.producers.recordMarker(marker.producerId, marker.producerEpoch, appended.baseOffset, marker.commit, marker.coordinatorEpoch);
    if (!marker.commit && firstOffset !== null) {
      // The segment holding the marker indexes the aborted transaction for read_committed fetches.
      const stable = state.producers.lastStableOffset(appended.baseOffset + 1n);
      state.log.appendAbortedTransaction({ producerId: marker.producerId, firstOffset, lastOffset: appended.baseOffset, lastStableOffset: stable });
    }
    state.producers.afterAppend(state.log);
    this.afterLeaderAppend(state, batch.length);
    return true;
  }

  /**
   * After an append on the leader: alone, the records are committed at once; with followers
   * they wake the followers' fetches and commit when the high watermark passes them.
   */
  private afterLeaderAppend(state: PartitionState, bytes: number): void {
    if (state.replication === undefined) {
      state.highWatermark = state.log.logEndOffset;
      this.purgatory.onAppend(partitionKey(state.topic, state.partition), bytes);
      return;
    }
    this.purgatory.onAppend(followerKey(state.topic, state.partition), bytes);
    this.advanceHighWatermark(state);
  }

  /**
   * Moves a replicated partition's high watermark forward (never back): on the leader to the
   * smallest log end offset of the ISR, on a follower to `followerMark` (the leader's, capped
   * at the local log end). Wakes the consumers and acks=all producers it satisfies.
   */
  advanceHighWatermark(state: PartitionState, followerMark?: bigint): void {
    const replication = state.replication;
    if (replication === undefined) return;
    let mark = followerMark ?? (replication.role === 'leader' ? leaderHighWatermark(replication, state.log.logEndOffset) : state.highWatermark);
    if (mark > state.log.logEndOffset) mark = state.log.logEndOffset;
    if (mark <= state.highWatermark) return;
    state.highWatermark = mark;
    const key = partitionKey(state.topic, state.partition);
    this.purgatory.wakeAll(key);
    this.producePurgatory.onHighWatermark(key, mark);
  }

  /**
   * acks=all: resolves once the records below `requiredOffset` are on every in-sync replica,
   * with NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below min.insync.replicas on the
   * way. A single node has committed them already.
   */
  async awaitReplication(topic: string, partition: number, requiredOffset: bigint, timeoutMs: number): Promise<number> {
    const state = this.get(topic, partition);
    if (state === undefined) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (state.replication === undefined) return ErrorCode.NONE;
    const errorCode = state.highWatermark >= requiredOffset
      ? ErrorCode.NONE
      : await this.producePurgatory.wait(partitionKey(topic, partition), requiredOffset, timeoutMs);
    if (errorCode !== ErrorCode.NONE) return errorCode;
    const now = this.get(topic, partition);
    if (now?.replication === undefined || now.replication.role !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return now.replication.isr.length < now.minInsyncReplicas ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : ErrorCode.NONE;
  }

  /** Reads each partition once; parks the fetch when fewer than minBytes are there. */
  fetch(requests: FetchPartitionRequest[], options: FetchOptions): Promise<FetchPartitionResult[]> {
    const first = this.readAll(requests, options.maxBytes, options.isolationLevel);
    const bytes = first.reduce((sum, result) => sum + (result.records?.length ?? 0), 0);
    const anyError = first.some((result) => result.errorCode !== ErrorCode.NONE);
    if (options.maxWaitMs <= 0 || bytes >= options.minBytes || anyError || requests.length === 0) return Promise.resolve(first);
    return new Promise((resolve) => {
      const keys = requests.map((request) => partitionKey(request.topic, request.partition));
      this.purgatory.park(keys, options.minBytes - bytes, options.maxWaitMs, () => resolve(this.readAll(requests, options.maxBytes, options.isolationLevel)));
    });
  }

  private readAll(requests: FetchPartitionRequest[], responseMaxBytes: number, isolationLevel: number): FetchPartitionResult[] {
    let remainingBytes = responseMaxBytes;
    let sawRecords = false;
    return requests.map((request) => {
      const result = this.readOne(request, remainingBytes, !sawRecords, isolationLevel);
      const size = result.records?.length ?? 0;
      if (size > 0) sawRecords = true;
      remainingBytes = Math.max(0, remainingBytes - size);
      return result;
    });
  }

  private readOne(request: FetchPartitionRequest, remainingBytes: number, minOneBatch: boolean, isolationLevel: number): FetchPartitionResult {
    const state = this.get(request.topic, request.partition);
    if (state === undefined) return fetchResult(request, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n, -1n, -1n, null);
    if (state.replication !== undefined && state.replication.role !== 'leader') return fetchResult(request, ErrorCode.NOT_LEADER_OR_FOLLOWER, -1n, -1n, -1n, null);
    // A client with an older epoch has stale metadata (FENCED_LEADER_EPOCH); one with a newer
    // epoch knows of a change this broker has not applied yet (UNKNOWN_LEADER_EPOCH).
    const epoch = request.currentLeaderEpoch ?? -1;
    if (state.replication !== undefined && epoch >= 0 && epoch !== state.leaderEpoch) {
      return fetchResult(request, epoch < state.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH, -1n, -1n, -1n, null);
    }
    const { log } = state;
    const stable = lastStableOffset(state);
    if (request.fetchOffset < log.logStartOffset || request.fetchOffset > log.logEndOffset) {
      return fetchResult(request, ErrorCode.OFFSET_OUT_OF_RANGE, state.highWatermark, stable, log.logStartOffset, null);
    }
    // read_committed consumers see nothing at or above the first open transaction.
    const readLimit = isolationLevel === READ_COMMITTED ? stable : state.highWatermark;
    const maxBytes = Math.min(request.partitionMaxBytes, remainingBytes);
    if (request.fetchOffset >= readLimit || (maxBytes <= 0 && !minOneBatch)) {
      return fetchResult(request, ErrorCode.NONE, state.highWatermark, stable, log.logStartOffset, EMPTY_RECORDS);
    }
    const read = log.read(request.fetchOffset, maxBytes, { maxOffset: readLimit, minOneBatch });
    const result = fetchResult(request, ErrorCode.NONE, state.highWatermark, stable, log.logStartOffset, read.records);
    if (isolationLevel === READ_COMMITTED && read.records.length > 0) {
      result.abortedTransactions = log.collectAbortedTransactions(request.fetchOffset, read.nextOffset);
    }
    return result;
  }

  /** ListOffsets: -1 latest, -2 earliest, -3 max timestamp, else the first offset at or after the time. */
  listOffset(topic: string, partition: number, timestamp: bigint, isolationLevel: number = READ_UNCOMMITTED): { errorCode: number; offset: bigint; timestamp: bigint; leaderEpoch: number } {
    const state = this.get(topic, partition);
    if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1n, timestamp: -1n, leaderEpoch: -1 };
    if (state.replication !== undefined && state.replication.role !== 'leader') return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, offset: -1n, timestamp: -1n, leaderEpoch: -1 };
    const { log, leaderEpoch } = state;
    if (timestamp === -1n) {
      const latest = isolationLevel === READ_COMMITTED ? lastStableOffset(state) : state.highWatermark;
      return { errorCode: ErrorCode.NONE, offset: latest, timestamp: -1n, leaderEpoch };
    }
    if (timestamp === -2n) return { errorCode: ErrorCode.NONE, offset: log.logStartOffset, timestamp: -1n, leaderEpoch };
    if (timestamp === -3n) {
      const found = log.maxTimestampOffset?.() ?? null;
      return found === null
        ? { errorCode: ErrorCode.NONE, offset: -1n, timestamp: -1n, leaderEpoch }
        : { errorCode: ErrorCode.NONE, offset: found.offset, timestamp: found.timestamp, leaderEpoch };
    }
    if (timestamp < 0n) return { errorCode: ErrorCode.UNSUPPORTED_VERSION, offset: -1n, timestamp: -1n, leaderEpoch };
    const found = log.offsetForTimestamp(timestamp);
    if (found === null || found.offset >= state.highWatermark) return { errorCode: ErrorCode.NONE, offset: -1n, timestamp: -1n, leaderEpoch };
    return { errorCode: ErrorCode.NONE, offset: found.offset, timestamp: found.timestamp, leaderEpoch };
  }

  /** DeleteRecords: moves the log start offset; -1 means the high watermark. */
  deleteRecords(topic: string, partition: number, offset: bigint): { errorCode: number; lowWatermark: bigint } {
    const state = this.get(topic, partition);
    if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, lowWatermark: -1n };
    const target = offset === -1n ? state.highWatermark : offset;
    if (target < 0n || target > state.highWatermark) return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, lowWatermark: state.log.logStartOffset };
    if (target > state.log.logStartOffset) state.log.deleteRecordsBefore(target);
    return { errorCode: ErrorCode.NONE, lowWatermark: state.log.logStartOffset };
  }

  /** Visits every hosted partition (retention, shutdown). */
  forEach(visit: (state: PartitionState) => void): void {
    for (const partitions of this.byTopic.values()) {
      for (const state of partitions.values()) visit(state);
    }
  }

}

/** Shared empty answer: nothing reads or writes into it. */
const EMPTY_RECORDS = Buffer.alloc(0);

function fetchResult(request: FetchPartitionRequest, errorCode: number, highWatermark: bigint, lastStable: bigint, logStartOffset: bigint, records: Buffer | null): FetchPartitionResult {
  return { topic: request.topic, partition: request.partition, errorCode, highWatermark, lastStableOffset: lastStable, logStartOffset, abortedTransactions: [], records };
}

function produceFailure(state: PartitionState | undefined, errorCode: number, errorMessage: string | null): ProduceResult {
  return { errorCode, errorMessage, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: state?.log.logStartOffset ?? -1n };
}

/** Tells the producer state about appended batches; the log assigned offsets from `baseOffset` on. */
function recordAppends(state: PartitionState, headers: readonly BatchHeader[], baseOffset: bigint): void {
  let next = baseOffset;
  for (const header of headers) {
    if (header.producerId >= 0n) state.producers.recordAppend({ ...header, baseOffset: next });
    next += BigInt(header.lastOffsetDelta) + 1n;
  }
}

