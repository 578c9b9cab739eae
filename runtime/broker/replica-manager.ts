// Owns every partition this broker hosts: the log, the high watermark and the leader epoch.
// All appends go through `append` here, the one code path that changes a partition's log and
// wakes the fetches waiting on it. On a single node every partition is led here and the
// in-sync replica set is this broker alone, so an append is committed as soon as it is written.
import { ErrorCode } from '../../core/protocol/errors.ts';
import { batchSizeAt } from '../../core/records/header.ts';
import { validateBatch } from '../../core/records/batch.ts';
import type { PartitionLog } from '../../state/log/partition-log.ts';
import type { Logger } from '../logger.ts';
import { FetchPurgatory } from './fetch-purgatory.ts';

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
}

export interface FetchPartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  records: Buffer | null;
}

export interface FetchOptions {
  minBytes: number;
  maxBytes: number;
  maxWaitMs: number;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class ReplicaManager {
  private readonly partitions = new Map<string, PartitionState>();
  readonly purgatory = new FetchPurgatory();

  constructor(private readonly logger: Logger) {}

  add(state: PartitionState): void {
    this.partitions.set(partitionKey(state.topic, state.partition), state);
  }

  remove(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    this.partitions.delete(key);
    this.purgatory.wakeAll(key);
  }

  get(topic: string, partition: number): PartitionState | undefined {
    return this.partitions.get(partitionKey(topic, partition));
  }

  /**
   * Validates and appends the batches of one partition of a produce request. The records buffer
   * is a slice of the request frame; offsets are patched into it and it goes to disk as is.
   */
  append(topic: string, partition: number, records: Buffer | null, acks: number): ProduceResult {
    const state = this.get(topic, partition);
    const failed = (errorCode: number, errorMessage: string | null = null): ProduceResult => ({
      errorCode, errorMessage, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: state?.log.logStartOffset ?? -1n,
    });
    if (state === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (records === null || records.length === 0) return failed(ErrorCode.CORRUPT_MESSAGE, 'no record batch');
    if (acks === -1 && state.minInsyncReplicas > 1) {
      return failed(ErrorCode.NOT_ENOUGH_REPLICAS, `min.insync.replicas=${state.minInsyncReplicas} but this partition has 1 in-sync replica`);
    }
    let appendedBytes = 0;
    let position = 0;
    while (position < records.length) {
      const size = batchSizeAt(records, position);
      if (size < 0 || position + size > records.length) return failed(ErrorCode.CORRUPT_MESSAGE, 'truncated record batch');
      const verdict = validateBatch(records, position, size, { maxMessageBytes: state.maxMessageBytes, requireKeys: state.requireKeys });
      if (!verdict.ok) {
        this.logger.warn('rejected batch', { topic, partition, error: verdict.message });
        return failed(verdict.errorCode, verdict.message);
      }
      appendedBytes += size;
      position += size;
    }
    const appended = state.log.append(records, { leaderEpoch: state.leaderEpoch });
    state.highWatermark = state.log.logEndOffset;
    this.purgatory.onAppend(partitionKey(topic, partition), appendedBytes);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: appended.baseOffset,
      logAppendTimeMs: appended.logAppendTimeMs === undefined || appended.logAppendTimeMs === null ? -1n : BigInt(appended.logAppendTimeMs),
      logStartOffset: state.log.logStartOffset,
    };
  }

  /**
   * Appends a batch the broker built itself (group offsets, transaction markers), which needs
   * no validation. Returns null on success or why it failed.
   */
  appendInternal(topic: string, partition: number, batch: Buffer): string | null {
    const state = this.get(topic, partition);
    if (state === undefined) return `partition ${topic}-${partition} is not hosted here`;
    state.log.append(batch, { leaderEpoch: state.leaderEpoch });
    state.highWatermark = state.log.logEndOffset;
    this.purgatory.onAppend(partitionKey(topic, partition), batch.length);
    return null;
  }

  /** Reads each partition once; parks the fetch when fewer than minBytes are there. */
  fetch(requests: FetchPartitionRequest[], options: FetchOptions): Promise<FetchPartitionResult[]> {
    const first = this.readAll(requests, options.maxBytes);
    const bytes = first.reduce((sum, result) => sum + (result.records?.length ?? 0), 0);
    const anyError = first.some((result) => result.errorCode !== ErrorCode.NONE);
    if (options.maxWaitMs <= 0 || bytes >= options.minBytes || anyError || requests.length === 0) return Promise.resolve(first);
    return new Promise((resolve) => {
      const keys = requests.map((request) => partitionKey(request.topic, request.partition));
      this.purgatory.park(keys, options.minBytes - bytes, options.maxWaitMs, () => resolve(this.readAll(requests, options.maxBytes)));
    });
  }

  private readAll(requests: FetchPartitionRequest[], responseMaxBytes: number): FetchPartitionResult[] {
    let remainingBytes = responseMaxBytes;
    let sawRecords = false;
    return requests.map((request) => {
      const result = this.readOne(request, remainingBytes, !sawRecords);
      const size = result.records?.length ?? 0;
      if (size > 0) sawRecords = true;
      remainingBytes = Math.max(0, remainingBytes - size);
      return result;
    });
  }

  private readOne(request: FetchPartitionRequest, remainingBytes: number, minOneBatch: boolean): FetchPartitionResult {
    const state = this.get(request.topic, request.partition);
    const empty = { topic: request.topic, partition: request.partition, highWatermark: -1n, lastStableOffset: -1n, logStartOffset: -1n, records: null };
    if (state === undefined) return { ...empty, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    const { log } = state;
    const base = { ...empty, highWatermark: state.highWatermark, lastStableOffset: state.highWatermark, logStartOffset: log.logStartOffset };
    if (request.fetchOffset < log.logStartOffset || request.fetchOffset > log.logEndOffset) {
      return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    }
    const maxBytes = Math.min(request.partitionMaxBytes, remainingBytes);
    if (request.fetchOffset >= state.highWatermark || (maxBytes <= 0 && !minOneBatch)) {
      return { ...base, errorCode: ErrorCode.NONE, records: Buffer.alloc(0) };
    }
    const read = log.read(request.fetchOffset, maxBytes, { maxOffset: state.highWatermark, minOneBatch });
    return { ...base, errorCode: ErrorCode.NONE, records: read.records };
  }

  /** ListOffsets: -1 latest, -2 earliest, -3 max timestamp, else the first offset at or after the time. */
  listOffset(topic: string, partition: number, timestamp: bigint): { errorCode: number; offset: bigint; timestamp: bigint; leaderEpoch: number } {
    const state = this.get(topic, partition);
    if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1n, timestamp: -1n, leaderEpoch: -1 };
    const { log, leaderEpoch } = state;
    if (timestamp === -1n) return { errorCode: ErrorCode.NONE, offset: state.highWatermark, timestamp: -1n, leaderEpoch };
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
    for (const state of this.partitions.values()) visit(state);
  }

}
