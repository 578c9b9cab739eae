// The sparse offset index of one segment, kept in memory and written to `<base>.index` when the
// segment rolls, on flush and on close.
//
// File format: entries of 8 bytes, big-endian, ascending in both fields:
//   relativeOffset u32 (batch baseOffset - segment baseOffset) | position u32 (byte in the .log)
//
// Unlike Kafka, which stores the batch's last offset, an entry names the batch's base offset:
// a lookup then lands on the batch that contains the target or on one before it, and the
// following header scan is never longer than the index interval.
//
// Node has no mmap, so the index lives in typed arrays and is persisted as a whole file
// (atomically) instead of growing in place; a crash loses only the active segment's file, and
// recovery rebuilds that segment's index anyway.
export const OFFSET_INDEX_ENTRY_BYTES = 8;

export interface OffsetIndexEntry {
  relativeOffset: number;
  position: number;
}

export class OffsetIndex {
  #relativeOffsets = new Uint32Array(16);
  #positions = new Uint32Array(16);
  #count = 0;
  readonly #entriesMax: number;

  constructor(indexBytesMax: number) {
    this.#entriesMax = Math.max(1, Math.floor(indexBytesMax / OFFSET_INDEX_ENTRY_BYTES));
  }

  get entryCount(): number {
    return this.#count;
  }

  /** True once segment.index.bytes worth of entries exist; the segment must roll then. */
  get isFull(): boolean {
    return this.#count >= this.#entriesMax;
  }

  append(relativeOffset: number, position: number): void {
    const last = this.lastEntry();
    if (last !== null && (relativeOffset <= last.relativeOffset || position <= last.position)) {
      throw new Error(`offset index: entry (${relativeOffset}, ${position}) does not follow (${last.relativeOffset}, ${last.position})`);
    }
    if (this.isFull) throw new Error('offset index: append to a full index');
    if (this.#count === this.#positions.length) this.#grow();
    this.#relativeOffsets[this.#count] = relativeOffset;
    this.#positions[this.#count] = position;
    this.#count += 1;
  }

  lastEntry(): OffsetIndexEntry | null {
    return this.#count === 0 ? null : this.#entryAt(this.#count - 1);
  }

  /** The entry with the largest relative offset at or below the target; (0, 0) when there is none. */
  lookup(relativeOffset: number): OffsetIndexEntry {
    let low = 0;
    let high = this.#count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.#relativeOffsets[middle] ?? 0) <= relativeOffset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? { relativeOffset: 0, position: 0 } : this.#entryAt(found);
  }

  /** Drops the spare capacity left by growth; sealed segments keep their indexes for a long time. */
  trimToSize(): void {
    this.#relativeOffsets = this.#relativeOffsets.slice(0, Math.max(1, this.#count));
    this.#positions = this.#positions.slice(0, Math.max(1, this.#count));
  }

  toBuffer(): Buffer {
    const buffer = Buffer.allocUnsafe(this.#count * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.#count; i += 1) {
      buffer.writeUInt32BE(this.#relativeOffsets[i] ?? 0, i * OFFSET_INDEX_ENTRY_BYTES);
      buffer.writeUInt32BE(this.#positions[i] ?? 0, i * OFFSET_INDEX_ENTRY_BYTES + 4);
    }
    return buffer;
  }

  /**
   * Loads an index file, or returns null when it cannot belong to a log of `logSizeBytes`:
   * a partial entry, entries out of order, or a position past the end of the log.
   */
  static fromBuffer(buffer: Buffer, indexBytesMax: number, logSizeBytes: number): OffsetIndex | null {
    if (buffer.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return null;
    const index = new OffsetIndex(Math.max(indexBytesMax, buffer.length));
    for (let at = 0; at < buffer.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const relativeOffset = buffer.readUInt32BE(at);
      const position = buffer.readUInt32BE(at + 4);
      const last = index.lastEntry();
      if (position >= logSizeBytes) return null;
      if (last !== null && (relativeOffset <= last.relativeOffset || position <= last.position)) return null;
      if (last === null && position === 0) return null;
      index.append(relativeOffset, position);
    }
    return index;
  }

  #entryAt(i: number): OffsetIndexEntry {
    return { relativeOffset: this.#relativeOffsets[i] ?? 0, position: this.#positions[i] ?? 0 };
  }

  #grow(): void {
    const size = this.#positions.length * 2;
    const relativeOffsets = new Uint32Array(size);
    const positions = new Uint32Array(size);
    relativeOffsets.set(this.#relativeOffsets);
    positions.set(this.#positions);
    this.#relativeOffsets = relativeOffsets;
    this.#positions = positions;
  }
}
