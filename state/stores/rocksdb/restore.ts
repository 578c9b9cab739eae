// Restoration: replays changelog records into a store in large write batches before the task
// processes anything. One batch is written while the next is gathered, which keeps both the
// event loop and RocksDB's write thread busy; more than one in flight buys nothing because
// batches must apply in order. The source hands over records in chunks as the consumer fetched
// them; a chunk is never split across write batches, so every batch ends at a known changelog
// offset that listeners (Kafka Streams' StateRestoreListener shape) and the checkpoint can use.
// Progress (restored, total, rate, ETA) goes to onProgress at most once per progressIntervalMs
// and once at the end, and to the listener after every batch.
import { LIMITS } from '../../../core/limits.ts';
import type { ChangelogRecord } from '../../../core/topology/processor.ts';

export interface RestoreTarget {
  /** Applies records as one atomic batch; successive calls apply in call order. */
  applyBatch(records: readonly ChangelogRecord[]): Promise<void>;
}

/**
 * Restores into a synchronous store (an in-memory store, or any StateStore's restore) through the
 * same loop, so its restoration reports progress to the same listeners.
 */
export function synchronousRestoreTarget(store: { restore(records: readonly ChangelogRecord[]): void }): RestoreTarget {
  return {
    applyBatch: async (records) => {
      store.restore(records);
    },
  };
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Records as one fetch returned them, with the consumer position after them. */
export interface ChangelogChunk {
  readonly records: readonly ChangelogRecord[];
  /** The offset after the chunk's last record (compaction and markers leave gaps in offsets). */
  readonly nextOffset: bigint;
}

/** A plain array carries no offsets; they are then counted from startingOffset, as if the log had no gaps. */
export type RestoreChunk = readonly ChangelogRecord[] | ChangelogChunk;

export interface RestoreProgress {
  readonly restored: number;
  /** Records expected in all (changelog end offset minus start), when known. */
  readonly total: number | null;
  readonly recordsPerSecond: number;
  /** Estimated time left, when the total is known and the rate is above zero. */
  readonly etaMs: number | null;
  readonly done: boolean;
  /** The changelog offset to resume from: after the last record applied. */
  readonly nextOffset: bigint;
}

/**
 * Told about one store's restoration, in Kafka Streams' StateRestoreListener shape, with the
 * progress so far added to the batch and end calls. Every method is optional.
 */
export interface StateRestoreListener {
  onRestoreStart?(topicPartition: TopicPartition, storeName: string, startingOffset: bigint, endingOffset: bigint | null): void;
  onBatchRestored?(topicPartition: TopicPartition, storeName: string, batchEndOffset: bigint, numRestored: number, progress: RestoreProgress): void;
  onRestoreEnd?(topicPartition: TopicPartition, storeName: string, totalRestored: number, progress: RestoreProgress): void;
}

export interface RestoreOptions {
  /** Records expected; defaults to endingOffset - startingOffset when both are known. */
  readonly total?: number;
  readonly onProgress?: (progress: RestoreProgress) => void;
  readonly progressIntervalMs?: number;
  /** Records per write batch; whole chunks are added until a batch reaches this size. */
  readonly batchRecords?: number;
  /** The clock, replaceable in tests. */
  readonly nowMs?: () => number;
  readonly listener?: StateRestoreListener;
  /** The changelog partition, for the listener. */
  readonly topicPartition?: TopicPartition;
  readonly storeName?: string;
  /** The checkpointed offset restoration starts from (0 without a checkpoint). */
  readonly startingOffset?: bigint;
  /** The changelog's end offset when restoration started. */
  readonly endingOffset?: bigint;
}

/** Applies every record from source, in order; resolves with the final progress. */
export async function restoreChangelog(
  target: RestoreTarget,
  source: AsyncIterable<RestoreChunk> | Iterable<RestoreChunk>,
  options: RestoreOptions = {},
): Promise<RestoreProgress> {
  const batchRecords = options.batchRecords ?? LIMITS.restoreBatchRecordsDefault;
  if (!Number.isInteger(batchRecords) || batchRecords < 1 || batchRecords > LIMITS.restoreBatchRecordsMax) throw new Error(`batchRecords must be 1..${LIMITS.restoreBatchRecordsMax}`);
  const meter = new RestoreMeter(options);
  let inFlight: Promise<void> = Promise.resolve();
  let inFlightCount = 0;
  let inFlightNextOffset = meter.nextOffset;
  let buffer: ChangelogRecord[] = [];
  let bufferNextOffset = meter.nextOffset;
  const submit = async (): Promise<void> => {
    await inFlight;
    meter.applied(inFlightCount, inFlightNextOffset);
    inFlight = target.applyBatch(buffer);
    inFlightCount = buffer.length;
    inFlightNextOffset = bufferNextOffset;
    buffer = [];
  };
  meter.start();
  for await (const chunk of source) {
    const records = isChunk(chunk) ? chunk.records : chunk;
    if (records.length > LIMITS.restoreBatchRecordsMax) throw new Error(`a changelog chunk of ${records.length} records exceeds ${LIMITS.restoreBatchRecordsMax}`);
    // Pushing one by one beats concat or spread for the large batches restoration builds.
    for (let index = 0; index < records.length; index++) buffer.push(records[index] as ChangelogRecord);
    bufferNextOffset = isChunk(chunk) ? chunk.nextOffset : bufferNextOffset + BigInt(records.length);
    if (buffer.length >= batchRecords) await submit();
  }
  if (buffer.length > 0) await submit();
  await inFlight;
  meter.applied(inFlightCount, inFlightNextOffset);
  return meter.finish();
}

function isChunk(chunk: RestoreChunk): chunk is ChangelogChunk {
  return !Array.isArray(chunk);
}

/** Counts applied records and tells onProgress and the listener. */
class RestoreMeter {
  private restored = 0;
  private readonly total: number | null;
  private readonly nowMs: () => number;
  private readonly intervalMs: number;
  private readonly topicPartition: TopicPartition;
  private readonly storeName: string;
  private startedMs = 0;
  private lastReportMs = 0;
  nextOffset: bigint;

  constructor(private readonly options: RestoreOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.intervalMs = options.progressIntervalMs ?? 1_000;
    this.nextOffset = options.startingOffset ?? 0n;
    const { endingOffset } = options;
    this.total = options.total ?? (endingOffset === undefined ? null : Math.max(0, Number(endingOffset - this.nextOffset)));
    this.topicPartition = options.topicPartition ?? { topic: '', partition: 0 };
    this.storeName = options.storeName ?? '';
  }

  start(): void {
    this.startedMs = this.nowMs();
    this.lastReportMs = this.startedMs;
    this.options.listener?.onRestoreStart?.(this.topicPartition, this.storeName, this.nextOffset, this.options.endingOffset ?? null);
  }

  applied(count: number, nextOffset: bigint): void {
    if (count === 0) return;
    this.restored += count;
    this.nextOffset = nextOffset;
    const now = this.nowMs();
    const listener = this.options.listener;
    if (listener?.onBatchRestored !== undefined) listener.onBatchRestored(this.topicPartition, this.storeName, nextOffset - 1n, count, this.progress(now, false));
    if (this.options.onProgress === undefined || now - this.lastReportMs < this.intervalMs) return;
    this.lastReportMs = now;
    this.options.onProgress(this.progress(now, false));
  }

  finish(): RestoreProgress {
    const progress = this.progress(this.nowMs(), true);
    this.options.onProgress?.(progress);
    this.options.listener?.onRestoreEnd?.(this.topicPartition, this.storeName, this.restored, progress);
    return progress;
  }

  private progress(now: number, done: boolean): RestoreProgress {
    const elapsedMs = Math.max(now - this.startedMs, 1);
    const recordsPerSecond = (this.restored * 1000) / elapsedMs;
    const remaining = this.total === null ? null : Math.max(this.total - this.restored, 0);
    const etaMs = done ? 0 : remaining === null || recordsPerSecond === 0 ? null : (remaining * 1000) / recordsPerSecond;
    return { restored: this.restored, total: this.total, recordsPerSecond, etaMs, done, nextOffset: this.nextOffset };
  }
}
