// Walks the record batches of a segment file by their headers, in large chunked reads, checking
// every bound a torn or corrupted write could break. Records are never decoded here.
import * as fs from 'node:fs';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSETS,
  CURRENT_MAGIC,
  computeBatchCrc,
} from '../../core/records/header.ts';

/** What the log keeps about one batch; positions are in the file (or buffer) it was found in. */
export interface BatchInfo {
  position: number;
  sizeBytes: number;
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  recordCount: number;
  attributes: number;
}

export interface ScanOptions {
  /** Verify each batch's CRC-32C (recovery) or trust it (index rebuild of a synced segment). */
  verifyCrc: boolean;
  /** The first batch must start at or after this offset; each later one after its predecessor. */
  nextOffsetMin: bigint;
  /**
   * Require each batch to start exactly where the previous one ended (and the first at
   * nextOffsetMin). True for logs that are never compacted; it also catches a flipped bit in
   * baseOffset, which the CRC does not cover.
   */
  contiguous?: boolean;
  /** Largest distance from the segment's base offset a batch may reach (u32 index field). */
  offsetLimit: bigint;
  /** Bytes read per syscall. */
  chunkBytes?: number;
}

export interface ScanResult {
  /** Position just after the last valid batch seen. */
  validEndPosition: number;
  /** Why scanning stopped before `endPosition`, or null when every byte was a valid batch. */
  invalidReason: string | null;
}

const DEFAULT_CHUNK_BYTES = 1024 * 1024;

/**
 * Reads the header fields the log needs from a batch inside `buffer`, or explains why the bytes
 * cannot be a whole batch of magic 2. `available` bounds the batch from above.
 */
export function inspectBatch(buffer: Buffer, at: number, available: number): BatchInfo | string {
  if (available < BATCH_HEADER_BYTES) return `only ${available} bytes left for a ${BATCH_HEADER_BYTES}-byte header`;
  const sizeBytes = BATCH_LOG_OVERHEAD + buffer.readInt32BE(at + BATCH_OFFSETS.batchLength);
  if (sizeBytes < BATCH_HEADER_BYTES) return `batch length ${sizeBytes} is shorter than a header`;
  if (sizeBytes > available) return `batch of ${sizeBytes} bytes but only ${available} bytes left`;
  const magic = buffer.readInt8(at + BATCH_OFFSETS.magic);
  if (magic !== CURRENT_MAGIC) return `magic ${magic} is not ${CURRENT_MAGIC}`;
  const lastOffsetDelta = buffer.readInt32BE(at + BATCH_OFFSETS.lastOffsetDelta);
  if (lastOffsetDelta < 0) return `negative lastOffsetDelta ${lastOffsetDelta}`;
  const baseOffset = buffer.readBigInt64BE(at + BATCH_OFFSETS.baseOffset);
  return {
    position: at,
    sizeBytes,
    baseOffset,
    lastOffset: baseOffset + BigInt(lastOffsetDelta),
    maxTimestamp: buffer.readBigInt64BE(at + BATCH_OFFSETS.maxTimestamp),
    recordCount: buffer.readInt32BE(at + BATCH_OFFSETS.recordCount),
    attributes: buffer.readInt16BE(at + BATCH_OFFSETS.attributes),
  };
}

/** A window of file bytes that is refilled only when a batch reaches past it. */
class ChunkReader {
  #buffer: Buffer;
  #start = 0;
  #end = 0;

  constructor(
    private readonly fd: number,
    private readonly fileEnd: number,
    private readonly chunkBytes: number,
  ) {
    this.#buffer = Buffer.allocUnsafe(0);
  }

  /** Makes [position, position + length) readable and returns the buffer and index of `position`. */
  load(position: number, length: number): { buffer: Buffer; at: number } {
    if (position < this.#start || position + length > this.#end) {
      const size = Math.min(Math.max(this.chunkBytes, length), this.fileEnd - position);
      if (this.#buffer.length < size) this.#buffer = Buffer.allocUnsafe(Math.max(size, this.chunkBytes));
      readFully(this.fd, this.#buffer, size, position);
      this.#start = position;
      this.#end = position + size;
    }
    return { buffer: this.#buffer, at: position - this.#start };
  }
}

/**
 * Visits the batches in [startPosition, endPosition) of a segment file until the end, the first
 * batch that fails a check, or a visitor that returns false. The visitor sees file positions.
 */
export function scanBatches(
  fd: number,
  startPosition: number,
  endPosition: number,
  options: ScanOptions,
  visit: (batch: BatchInfo) => boolean | void,
): ScanResult {
  const reader = new ChunkReader(fd, endPosition, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  let position = startPosition;
  let nextOffsetMin = options.nextOffsetMin;
  while (position < endPosition) {
    const available = endPosition - position;
    const header = reader.load(position, Math.min(available, BATCH_HEADER_BYTES));
    const batch = inspectBatch(header.buffer, header.at, available);
    if (typeof batch === 'string') return { validEndPosition: position, invalidReason: batch };
    if (batch.baseOffset < nextOffsetMin || (options.contiguous === true && batch.baseOffset !== nextOffsetMin)) {
      return { validEndPosition: position, invalidReason: `offset ${batch.baseOffset} does not follow ${nextOffsetMin}` };
    }
    if (batch.lastOffset > options.offsetLimit) {
      return { validEndPosition: position, invalidReason: `offset ${batch.lastOffset} is past ${options.offsetLimit}` };
    }
    if (options.verifyCrc) {
      const whole = reader.load(position, batch.sizeBytes);
      const stored = whole.buffer.readUInt32BE(whole.at + BATCH_OFFSETS.crc);
      if (computeBatchCrc(whole.buffer, whole.at, batch.sizeBytes) !== stored) {
        return { validEndPosition: position, invalidReason: `CRC mismatch in the batch at offset ${batch.baseOffset}` };
      }
    }
    const keepGoing = visit({ ...batch, position });
    nextOffsetMin = batch.lastOffset + 1n;
    position += batch.sizeBytes;
    if (keepGoing === false) break;
  }
  return { validEndPosition: position, invalidReason: null };
}

/** pread until `length` bytes are in; a short read means the file shrank under us. */
export function readFully(fd: number, buffer: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const count = fs.readSync(fd, buffer, done, length - done, position + done);
    if (count === 0) throw new Error(`log: file ended at ${position + done}, expected ${position + length}`);
    done += count;
  }
}

/** pwrite until every byte is written. */
export function writeFully(fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) {
    done += fs.writeSync(fd, buffer, done, buffer.length - done, position + done);
  }
}
