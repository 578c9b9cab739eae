// The sparse time index of one segment, kept in memory and written to `<base>.timeindex` with
// the offset index (see offset-index.ts for why it is not grown in place).
//
// File format: entries of 12 bytes, big-endian:
//   timestamp i64 (largest batch maxTimestamp seen so far) | relativeOffset u32 (base offset of
//   the batch that first reached that timestamp, minus the segment's base offset)
// Timestamps strictly increase from entry to entry and relative offsets do not decrease, so every
// batch before an entry's batch has a maxTimestamp at or below the entry's timestamp.
export const TIME_INDEX_ENTRY_BYTES = 12;

export interface TimeIndexEntry {
  timestamp: bigint;
  relativeOffset: number;
}

export class TimeIndex {
  #timestamps = new BigInt64Array(16);
  #relativeOffsets = new Uint32Array(16);
  #count = 0;

  get entryCount(): number {
    return this.#count;
  }

  lastEntry(): TimeIndexEntry | null {
    return this.#count === 0 ? null : this.#entryAt(this.#count - 1);
  }

  /** Adds an entry only when the timestamp grows, which keeps the index monotonic. */
  maybeAppend(timestamp: bigint, relativeOffset: number): void {
    const last = this.lastEntry();
    if (last !== null && timestamp <= last.timestamp) return;
    if (last !== null && relativeOffset < last.relativeOffset) {
      throw new Error(`time index: relative offset ${relativeOffset} goes back from ${last.relativeOffset}`);
    }
    if (this.#count === this.#timestamps.length) this.#grow();
    this.#timestamps[this.#count] = timestamp;
    this.#relativeOffsets[this.#count] = relativeOffset;
    this.#count += 1;
  }

  /**
   * The entry with the largest timestamp strictly below the target, or null. No record before
   * that entry's batch can have a timestamp at or above the target, so a scan may start there.
   */
  lookupBefore(timestamp: bigint): TimeIndexEntry | null {
    let low = 0;
    let high = this.#count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.#timestamps[middle] ?? 0n) < timestamp) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? null : this.#entryAt(found);
  }

  /** Drops the spare capacity left by growth; sealed segments keep their indexes for a long time. */
  trimToSize(): void {
    this.#timestamps = this.#timestamps.slice(0, Math.max(1, this.#count));
    this.#relativeOffsets = this.#relativeOffsets.slice(0, Math.max(1, this.#count));
  }

  toBuffer(): Buffer {
    const buffer = Buffer.allocUnsafe(this.#count * TIME_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.#count; i += 1) {
      buffer.writeBigInt64BE(this.#timestamps[i] ?? 0n, i * TIME_INDEX_ENTRY_BYTES);
      buffer.writeUInt32BE(this.#relativeOffsets[i] ?? 0, i * TIME_INDEX_ENTRY_BYTES + 8);
    }
    return buffer;
  }

  /** Loads an index file, or null when it is not monotonic or names offsets past the segment. */
  static fromBuffer(buffer: Buffer, relativeOffsetMax: number): TimeIndex | null {
    if (buffer.length % TIME_INDEX_ENTRY_BYTES !== 0) return null;
    const index = new TimeIndex();
    for (let at = 0; at < buffer.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = buffer.readBigInt64BE(at);
      const relativeOffset = buffer.readUInt32BE(at + 8);
      const last = index.lastEntry();
      if (relativeOffset > relativeOffsetMax) return null;
      if (last !== null && (timestamp <= last.timestamp || relativeOffset < last.relativeOffset)) return null;
      index.maybeAppend(timestamp, relativeOffset);
    }
    return index;
  }

  #entryAt(i: number): TimeIndexEntry {
    return { timestamp: this.#timestamps[i] ?? 0n, relativeOffset: this.#relativeOffsets[i] ?? 0 };
  }

  #grow(): void {
    const size = this.#timestamps.length * 2;
    const timestamps = new BigInt64Array(size);
    const relativeOffsets = new Uint32Array(size);
    timestamps.set(this.#timestamps);
    relativeOffsets.set(this.#relativeOffsets);
    this.#timestamps = timestamps;
    this.#relativeOffsets = relativeOffsets;
  }
}
