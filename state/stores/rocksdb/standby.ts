// A standby replica of a store kept warm by following its changelog (num.standby.replicas), so a
// failover restores only the tail. The runtime polls the changelog partition and hands each
// fetched chunk to apply(); the updater gathers chunks into large write batches, one written
// while the next gathers (the restoration pattern, but without an end), and remembers the
// changelog offset each batch reaches. commit() writes what is gathered, flushes the store and
// returns the offset to put in the task's checkpoint: only offsets whose records the store holds
// durably are ever checkpointed, so a crash re-reads at most what came after the checkpoint.
import { LIMITS } from '../../../core/limits.ts';
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import type { ChangelogOffset } from '../../checkpoint/checkpoint.ts';
import type { ChangelogChunk, RestoreTarget, TopicPartition } from './restore.ts';

/** The RocksDB key-value, window and session stores all fit. */
export interface StandbyTarget extends RestoreTarget {
  /** Makes everything applied durable in the store (RocksDB: write staged data, flush memtables). */
  flush(): Promise<void>;
}

export interface StandbyUpdaterOptions {
  readonly topicPartition: TopicPartition;
  readonly storeName: string;
  readonly target: StandbyTarget;
  /** The checkpointed offset the replica holds (0 without a checkpoint). */
  readonly startingOffset: bigint;
  /** Records per write batch; chunks are never split. */
  readonly batchRecords?: number;
  /** Told after each write batch reaches the store (Kafka Streams' StandbyUpdateListener.onBatchLoaded). */
  readonly onBatchLoaded?: (topicPartition: TopicPartition, storeName: string, batchEndOffset: bigint, batchSize: number) => void;
}

export class StandbyUpdater {
  private buffer: ChangelogRecord[] = [];
  /** The offset after the last buffered record. */
  private bufferNextOffset: bigint;
  /** The offset after the last record a finished write batch applied. */
  private appliedNextOffset: bigint;
  /** The offset after the last record of a flushed store: what a checkpoint may say. */
  private durableNextOffset: bigint;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private recordsApplied = 0;
  private closed = false;
  private readonly batchRecords: number;

  constructor(private readonly options: StandbyUpdaterOptions) {
    if (options.startingOffset < 0n) throw new Error(`standby ${options.storeName}: starting offset ${options.startingOffset} is negative`);
    this.batchRecords = options.batchRecords ?? LIMITS.restoreBatchRecordsDefault;
    if (!Number.isInteger(this.batchRecords) || this.batchRecords < 1 || this.batchRecords > LIMITS.restoreBatchRecordsMax) throw new Error(`batchRecords must be 1..${LIMITS.restoreBatchRecordsMax}`);
    this.bufferNextOffset = options.startingOffset;
    this.appliedNextOffset = options.startingOffset;
    this.durableNextOffset = options.startingOffset;
  }

  /**
   * Takes one fetched chunk. Resolves at once while the batch gathers; when it is full, resolves
   * once the previous batch is written and this one is handed to the store, which bounds the
   * memory a fast changelog can pin to two batches.
   */
  async apply(chunk: ChangelogChunk): Promise<void> {
    this.assertUsable();
    if (chunk.nextOffset < this.bufferNextOffset) throw new Error(`standby ${this.options.storeName}: chunk ends at ${chunk.nextOffset}, before ${this.bufferNextOffset} already applied`);
    if (chunk.records.length > LIMITS.restoreBatchRecordsMax) throw new Error(`a changelog chunk of ${chunk.records.length} records exceeds ${LIMITS.restoreBatchRecordsMax}`);
    for (let index = 0; index < chunk.records.length; index++) this.buffer.push(chunk.records[index] as ChangelogRecord);
    this.bufferNextOffset = chunk.nextOffset;
    if (this.buffer.length >= this.batchRecords) await this.submit();
  }

  /** Writes everything taken so far, flushes the store and returns the offset to checkpoint. */
  async commit(): Promise<ChangelogOffset> {
    this.assertUsable();
    await this.submit();
    await this.inFlight;
    this.throwFailure();
    const offset = this.appliedNextOffset;
    await this.options.target.flush();
    this.durableNextOffset = offset;
    return this.checkpointOffset();
  }

  /** The checkpoint entry for what the store holds durably. */
  checkpointOffset(): ChangelogOffset {
    return { topic: this.options.topicPartition.topic, partition: this.options.topicPartition.partition, offset: this.durableNextOffset };
  }

  /** Changelog records the replica is behind the given end offset (what a failover would restore). */
  lag(endOffset: bigint): bigint {
    const behind = endOffset - this.bufferNextOffset;
    return behind > 0n ? behind : 0n;
  }

  /** The offset after the last record taken (applied or gathering). */
  get position(): bigint {
    return this.bufferNextOffset;
  }

  /** The offset after the last record a write batch has put into the store. */
  get appliedOffset(): bigint {
    return this.appliedNextOffset;
  }

  get recordsAppliedCount(): number {
    return this.recordsApplied;
  }

  /** Commits and refuses further use, as when the standby is promoted to active or revoked. */
  async close(): Promise<ChangelogOffset> {
    const offset = await this.commit();
    this.closed = true;
    return offset;
  }

  private async submit(): Promise<void> {
    await this.inFlight;
    this.throwFailure();
    if (this.buffer.length === 0) return;
    const records = this.buffer;
    const nextOffset = this.bufferNextOffset;
    this.buffer = [];
    this.inFlight = this.options.target.applyBatch(records).then(
      () => {
        this.appliedNextOffset = nextOffset;
        this.recordsApplied += records.length;
        this.options.onBatchLoaded?.(this.options.topicPartition, this.options.storeName, nextOffset - 1n, records.length);
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    );
  }

  private throwFailure(): void {
    if (this.failure === null) return;
    throw new Error(`standby ${this.options.storeName}: a write batch failed; the replica must be rebuilt from its checkpoint`, { cause: this.failure });
  }

  private assertUsable(): void {
    if (this.closed) throw new Error(`standby ${this.options.storeName} is closed`);
    this.throwFailure();
  }
}
