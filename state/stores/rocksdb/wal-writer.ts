// Writes RocksDB write-ahead log files, so that a database restored from scratch can take its
// whole changelog the way RocksDB takes its own log after a crash: on open, in native code, with
// no per-record call through the binding (bulk-restore.ts). The formats are RocksDB's, as its
// documentation gives them:
// - a log file is a sequence of 32 KiB blocks; a logical record (one write batch) is cut into
//   fragments that never cross a block: FULL (1), or FIRST (2), MIDDLE (3)..., LAST (4); each
//   fragment has a 7-byte header, checksum u32 | length u16 | type u8 (little-endian), where the
//   checksum is the masked CRC-32C of the type byte and the fragment's bytes; a block tail shorter
//   than a header is zero-filled;
// - a write batch is sequence u64 | count u32 (little-endian), then count records:
//   value 0x1 | key | value, deletion 0x0 | key, and for a column family other than the default,
//   0x5 | family id | key | value and 0x4 | family id | key, ids as varint32 and keys and
//   values as varint32 length then bytes. Record i of a batch gets sequence number sequence + i.
import { crc32c } from '@node-rs/crc32';
import { close, fsync, write } from 'node:fs';
import { promisify } from 'node:util';

const writeBytes = promisify(write);
const syncFile = promisify(fsync);
const closeFile = promisify(close);

export const WAL_BLOCK_BYTES = 32 * 1024;
const FRAGMENT_HEADER_BYTES = 7;
const BATCH_HEADER_BYTES = 12;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;
const TYPE_CRCS = [0, FULL, FIRST, MIDDLE, LAST].map((type) => crc32c(Uint8Array.of(type)) >>> 0);
const MASK_DELTA = 0xa282ead8;

/** RocksDB stores CRCs masked, so that a CRC of bytes holding CRCs is not a CRC of itself. */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/**
 * Builds one write batch at a time in a reused buffer. Keys and values are copied in; take()
 * gives a view of the finished batch that stays valid until the next put or delete.
 */
export class WriteBatchEncoder {
  count = 0;
  private bytes = Buffer.allocUnsafe(1024 * 1024);
  private position = BATCH_HEADER_BYTES;

  /** Bytes of the batch so far. */
  get byteLength(): number {
    return this.position;
  }

  put(family: number, key: Uint8Array, value: Uint8Array): void {
    this.putFrom(family, key, 0, key.byteLength, value, 0, value.byteLength);
  }

  delete(family: number, key: Uint8Array): void {
    this.deleteFrom(family, key, 0, key.byteLength);
  }

  /** put with the key and value given as ranges of larger buffers (a packed batch). */
  putFrom(family: number, keySource: Uint8Array, keyStart: number, keyLength: number, valueSource: Uint8Array, valueStart: number, valueLength: number): void {
    this.reserve(1 + 5 + 5 + keyLength + 5 + valueLength);
    this.tag(family, 0x1, 0x5);
    this.copy(keySource, keyStart, keyLength);
    this.copy(valueSource, valueStart, valueLength);
    this.count++;
  }

  deleteFrom(family: number, keySource: Uint8Array, keyStart: number, keyLength: number): void {
    this.reserve(1 + 5 + 5 + keyLength);
    this.tag(family, 0x0, 0x4);
    this.copy(keySource, keyStart, keyLength);
    this.count++;
  }

  /** The finished batch with its first sequence number; the encoder starts a new one. */
  take(sequence: bigint): Buffer {
    this.bytes.writeBigUInt64LE(sequence, 0);
    this.bytes.writeUInt32LE(this.count, 8);
    const batch = this.bytes.subarray(0, this.position);
    this.count = 0;
    this.position = BATCH_HEADER_BYTES;
    return batch;
  }

  private tag(family: number, defaultTag: number, familyTag: number): void {
    if (family === 0) {
      this.bytes[this.position++] = defaultTag;
      return;
    }
    this.bytes[this.position++] = familyTag;
    this.varint(family);
  }

  private copy(source: Uint8Array, start: number, length: number): void {
    this.varint(length);
    const target = this.bytes;
    let position = this.position;
    // Keys and values are mostly a few dozen bytes, where a loop beats set()'s call.
    if (length <= 64) for (let index = 0; index < length; index++) target[position++] = source[start + index] as number;
    else {
      target.set(source.subarray(start, start + length), position);
      position += length;
    }
    this.position = position;
  }

  private varint(value: number): void {
    while (value >= 0x80) {
      this.bytes[this.position++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.bytes[this.position++] = value;
  }

  private reserve(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.bytes.byteLength) return;
    let size = this.bytes.byteLength * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.bytes.copy(grown, 0, 0, this.position);
    this.bytes = grown;
  }
}

/**
 * Appends write batches to a log file as RocksDB frames them. Framed bytes gather in a chunk
 * that is written once full (or on drain), one write after the other; a failed write fails
 * every later call. The file descriptor, opened for writing on an empty file, is the writer's to
 * close (close()).
 */
export class WalFileWriter {
  /** Bytes framed so far (written or waiting). */
  bytesFramed = 0;
  private chunk: Buffer;
  private chunkUsed = 0;
  private writes: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  constructor(
    private readonly file: number,
    private readonly chunkBytes = 4 * 1024 * 1024,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** Frames one write batch (a logical record) into blocks. */
  append(batch: Uint8Array): void {
    this.throwIfFailed();
    let start = 0;
    let first = true;
    for (;;) {
      let blockLeft = WAL_BLOCK_BYTES - (this.bytesFramed % WAL_BLOCK_BYTES);
      if (blockLeft < FRAGMENT_HEADER_BYTES) {
        this.emit(Buffer.alloc(blockLeft));
        blockLeft = WAL_BLOCK_BYTES;
      }
      const length = Math.min(blockLeft - FRAGMENT_HEADER_BYTES, batch.byteLength - start);
      const last = start + length === batch.byteLength;
      const type = first ? (last ? FULL : FIRST) : last ? LAST : MIDDLE;
      const fragment = batch.subarray(start, start + length);
      const header = Buffer.allocUnsafe(FRAGMENT_HEADER_BYTES);
      header.writeUInt32LE(maskCrc(crc32c(fragment, TYPE_CRCS[type]) >>> 0), 0);
      header.writeUInt16LE(length, 4);
      header[6] = type;
      this.emit(header);
      this.emit(fragment);
      start += length;
      first = false;
      if (last) return;
    }
  }

  /** Resolves once every framed byte is in the file (not yet synced). */
  async drain(): Promise<void> {
    this.flushChunk();
    await this.writes;
    this.throwIfFailed();
  }

  /** Writes what is framed and syncs the file to disk. */
  async sync(): Promise<void> {
    await this.drain();
    await syncFile(this.file);
  }

  /** Closes the file after the writes queued so far, whether they failed or not; once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flushChunk();
    await this.writes;
    await closeFile(this.file);
  }

  private emit(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.byteLength) {
      const length = Math.min(bytes.byteLength - from, this.chunkBytes - this.chunkUsed);
      this.chunk.set(bytes.subarray(from, from + length), this.chunkUsed);
      this.chunkUsed += length;
      from += length;
      if (this.chunkUsed === this.chunkBytes) this.flushChunk();
    }
    this.bytesFramed += bytes.byteLength;
  }

  private flushChunk(): void {
    if (this.chunkUsed === 0) return;
    const chunk = this.chunk.subarray(0, this.chunkUsed);
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
    this.chunkUsed = 0;
    this.writes = this.writes.then(async () => {
      if (this.failure !== null) return;
      try {
        let written = 0;
        while (written < chunk.byteLength) written += (await writeBytes(this.file, chunk, written, chunk.byteLength - written, null)).bytesWritten;
      } catch (error) {
        this.failure = error;
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw new Error('writing the RocksDB log file failed', { cause: this.failure });
  }
}
