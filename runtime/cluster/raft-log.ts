// The metadata log as the quorum sees it: record batches with offsets, each stamped with the
// leader epoch that wrote it, plus an epoch cache (the first offset of every epoch in the log)
// that answers "where does epoch E end here?" for the divergence check on fetch.
//
// Two implementations: PartitionRaftLog on disk (state/log) and MemoryRaftLog for the
// deterministic simulation, which also models what a crash loses (anything not yet flushed).
import { iterateBatches } from '../../core/records/batch.ts';
import { setBaseOffset, setPartitionLeaderEpoch } from '../../core/records/header.ts';

/** An epoch and the offset where it ends (exclusive), as in Kafka's OffsetForLeaderEpoch. */
export interface EpochEndOffset {
  epoch: number;
  endOffset: bigint;
}

export interface RaftLog {
  /** The next offset to assign. */
  readonly endOffset: bigint;
  /** Epoch of the last batch; 0 when the log is empty (elected epochs start at 1). */
  readonly lastEpoch: number;
  /** Assigns offsets from endOffset and stamps `epoch` on every batch of `batches`. */
  appendAsLeader(batches: Buffer, epoch: number): { baseOffset: bigint; lastOffset: bigint };
  /** Appends batches copied from the leader; they must start at endOffset. */
  appendAsFollower(batches: Buffer): void;
  /** Whole batches from the one holding `offset`, below `maxOffset`, about `maxBytes` (at least one). */
  read(offset: bigint, maxBytes: number, maxOffset: bigint): Buffer;
  /** Drops the batch holding `offset` and everything after it. */
  truncateTo(offset: bigint): void;
  /** The largest epoch <= `epoch` in the log and where it ends; {0, 0} when there is none. */
  endOffsetForEpoch(epoch: number): EpochEndOffset;
  /** Makes every appended batch durable; the quorum acknowledges only flushed offsets. */
  flush(): void;
  close(): void;
}

/** First offset of each epoch present in a log, ascending in both epoch and offset. */
export class EpochCache {
  private entries: { epoch: number; startOffset: bigint }[] = [];

  /** Notes a batch appended at `baseOffset` with `epoch`; epochs never go down along a log. */
  assign(epoch: number, baseOffset: bigint): void {
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && epoch === last.epoch) return;
    if (last !== undefined && (epoch < last.epoch || baseOffset < last.startOffset)) {
      throw new Error(`epoch cache: epoch ${epoch} at ${baseOffset} after epoch ${last.epoch} at ${last.startOffset}`);
    }
    this.entries.push({ epoch, startOffset: baseOffset });
  }

  /** Forgets epochs that start at or after `endOffset` (the log was truncated there). */
  truncateFrom(endOffset: bigint): void {
    while (this.entries.length > 0 && (this.entries[this.entries.length - 1] as { startOffset: bigint }).startOffset >= endOffset) {
      this.entries.pop();
    }
  }

  get lastEpoch(): number {
    return this.entries[this.entries.length - 1]?.epoch ?? 0;
  }

  endOffsetForEpoch(epoch: number, logEndOffset: bigint): EpochEndOffset {
    for (let index = this.entries.length - 1; index >= 0; index -= 1) {
      const entry = this.entries[index] as { epoch: number; startOffset: bigint };
      if (entry.epoch > epoch) continue;
      const next = this.entries[index + 1];
      return { epoch: entry.epoch, endOffset: next === undefined ? logEndOffset : next.startOffset };
    }
    return { epoch: 0, endOffset: 0n };
  }
}

interface StoredBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  epoch: number;
  bytes: Buffer;
}

/** Calls `visit` with each batch of a buffer of whole batches; throws on a partial one. */
export function forEachBatch(batches: Buffer, visit: (position: number, size: number, baseOffset: bigint, lastOffset: bigint, epoch: number) => void): void {
  const iterator = iterateBatches(batches);
  for (;;) {
    const step = iterator.next();
    if (step.done === true) {
      if (step.value.reason !== 'end') throw new Error(`raft log: ${step.value.reason} batch at byte ${step.value.position}`);
      return;
    }
    const { position, size, header } = step.value;
    visit(position, size, header.baseOffset, header.baseOffset + BigInt(header.lastOffsetDelta), header.partitionLeaderEpoch);
  }
}

/**
 * An in-memory log for simulation. `crash()` drops what was appended since the last flush,
 * which is what a process crash does to a log that relies on fsync for durability.
 */
export class MemoryRaftLog implements RaftLog {
  private batches: StoredBatch[] = [];
  private readonly epochs = new EpochCache();
  private flushedCount = 0;

  get endOffset(): bigint {
    const last = this.batches[this.batches.length - 1];
    return last === undefined ? 0n : last.lastOffset + 1n;
  }

  get lastEpoch(): number {
    return this.epochs.lastEpoch;
  }

  appendAsLeader(batches: Buffer, epoch: number): { baseOffset: bigint; lastOffset: bigint } {
    const copy = Buffer.from(batches);
    const baseOffset = this.endOffset;
    let next = baseOffset;
    forEachBatch(copy, (position, _size, base, last) => {
      setBaseOffset(copy, position, next);
      setPartitionLeaderEpoch(copy, position, epoch);
      next += last - base + 1n;
    });
    this.appendAsFollower(copy);
    return { baseOffset, lastOffset: next - 1n };
  }

  appendAsFollower(batches: Buffer): void {
    forEachBatch(batches, (position, size, baseOffset, lastOffset, epoch) => {
      if (baseOffset !== this.endOffset) throw new Error(`memory log: batch at ${baseOffset} does not continue the log at ${this.endOffset}`);
      this.epochs.assign(epoch, baseOffset);
      this.batches.push({ baseOffset, lastOffset, epoch, bytes: Buffer.from(batches.subarray(position, position + size)) });
    });
  }

  read(offset: bigint, maxBytes: number, maxOffset: bigint): Buffer {
    const parts: Buffer[] = [];
    let bytes = 0;
    for (const batch of this.batches) {
      if (batch.lastOffset < offset) continue;
      if (batch.lastOffset >= maxOffset) break;
      if (parts.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      parts.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    return Buffer.concat(parts);
  }

  truncateTo(offset: bigint): void {
    while (this.batches.length > 0 && (this.batches[this.batches.length - 1] as StoredBatch).lastOffset >= offset) {
      this.batches.pop();
    }
    this.flushedCount = Math.min(this.flushedCount, this.batches.length);
    this.epochs.truncateFrom(this.endOffset);
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetForEpoch(epoch, this.endOffset);
  }

  flush(): void {
    this.flushedCount = this.batches.length;
  }

  /** Loses the unflushed tail, as a crash would; the log object stays usable as the "disk". */
  crash(): void {
    this.truncateTo(this.batches[this.flushedCount]?.baseOffset ?? this.endOffset);
  }

  close(): void {}

  /** Every batch with its offsets and epoch, for the simulation's safety checks (a copy). */
  snapshot(): readonly Readonly<StoredBatch>[] {
    return this.batches.slice();
  }

  /** The live list of batches, for checks that must not copy it on every event. */
  get batchList(): readonly Readonly<StoredBatch>[] {
    return this.batches;
  }
}
