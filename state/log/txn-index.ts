// The aborted-transaction index of one segment (Kafka's `.txnindex`): one entry per transaction
// whose abort marker lies in the segment, so a read_committed fetch can tell its consumer which
// producers' records to drop without the broker decoding anything.
//
//   Entry (34 bytes, big-endian, appended in marker order, so sorted by lastOffset):
//     version i16 (0) | producerId i64 | firstOffset i64 | lastOffset i64 | lastStableOffset i64
//
// firstOffset is the transaction's first record, lastOffset its abort marker, lastStableOffset
// the partition's last stable offset just after the marker. That last field lets a fetch stop
// looking at later segments: once an entry's lastStableOffset reaches the end of the fetched
// range, every later abort belongs to a transaction that began after the range.
//
// Aborts are rare next to records, so an entry is one small synchronous append to the file;
// fsync happens with the segment's own (flush policy, roll, close). A file that is missing, has
// a torn tail or disagrees with its segment is rebuilt from the log by `scanAbortedTransactions`.
import * as fs from 'node:fs';
import { decodeBatch, readControlRecord } from '../../core/records/batch.ts';
import { CompressionCodec } from '../../core/records/compression.ts';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, BATCH_OFFSETS, compressionOf, isControl, isTransactional } from '../../core/records/header.ts';
import type { BatchRecord } from '../../core/records/record.ts';
import { readVarint, readVarlongNumber } from '../../core/records/varint.ts';

export const TXN_INDEX_ENTRY_BYTES = 34;
const ENTRY_VERSION = 0;
/** Kafka's control record types (the key's second int16). */
const CONTROL_TYPE_ABORT = 0;
const CONTROL_TYPE_COMMIT = 1;

export interface AbortedTransactionEntry {
  producerId: bigint;
  /** Offset of the transaction's first record in this partition. */
  firstOffset: bigint;
  /** Offset of the abort marker. */
  lastOffset: bigint;
  /** The partition's last stable offset right after the marker. */
  lastStableOffset: bigint;
}

/** What a read_committed Fetch returns per aborted transaction. */
export interface FetchAbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/** 'missing' and 'invalid' files are rebuilt from the log by the partition log. */
export type TransactionIndexStatus = 'ok' | 'missing' | 'invalid';

export class TransactionIndex {
  #file: string;
  #entries: AbortedTransactionEntry[];
  /** Appended since the last fsync. */
  #dirty = false;

  private constructor(file: string, entries: AbortedTransactionEntry[]) {
    this.#file = file;
    this.#entries = entries;
  }

  /** A new, empty index file; an existing one with the same name is replaced. */
  static create(file: string): TransactionIndex {
    fs.writeFileSync(file, Buffer.alloc(0));
    return new TransactionIndex(file, []);
  }

  /**
   * Reads the file of a segment spanning [baseOffset, nextOffset). Entries must be well formed,
   * in marker order and inside the segment; otherwise the status says why the caller must
   * rebuild, and the index starts empty.
   */
  static load(file: string, baseOffset: bigint, nextOffset: bigint): { index: TransactionIndex; status: TransactionIndexStatus } {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return { index: new TransactionIndex(file, []), status: 'missing' };
    }
    const entries = decodeEntries(bytes, baseOffset, nextOffset);
    if (entries === null) return { index: new TransactionIndex(file, []), status: 'invalid' };
    return { index: new TransactionIndex(file, entries), status: 'ok' };
  }

  get entries(): readonly AbortedTransactionEntry[] {
    return this.#entries;
  }

  /** Appends one entry; markers come in offset order, so a smaller lastOffset is a programmer error. */
  append(entry: AbortedTransactionEntry): void {
    const last = this.#entries[this.#entries.length - 1];
    if (entry.firstOffset > entry.lastOffset || (last !== undefined && entry.lastOffset <= last.lastOffset)) {
      throw new Error(`txn index ${this.#file}: entry ${entry.firstOffset}-${entry.lastOffset} is out of order after ${last?.lastOffset}`);
    }
    fs.appendFileSync(this.#file, encodeEntries([entry]));
    this.#entries.push(entry);
    this.#dirty = true;
  }

  /**
   * Adds the transactions overlapping [fetchOffset, upperBoundOffset) to `into`. Returns true
   * when no later segment can hold one that overlaps (see the header comment).
   */
  collect(fetchOffset: bigint, upperBoundOffset: bigint, into: FetchAbortedTransaction[]): boolean {
    const entries = this.#entries;
    for (let index = firstEndingAtOrAfter(entries, fetchOffset); index < entries.length; index++) {
      const entry = entries[index] as AbortedTransactionEntry;
      if (entry.firstOffset < upperBoundOffset) into.push({ producerId: entry.producerId, firstOffset: entry.firstOffset });
      if (entry.lastStableOffset >= upperBoundOffset) return true;
    }
    return false;
  }

  /** Drops entries whose marker is at or after `offset` (the segment was truncated there). */
  truncateTo(offset: bigint): void {
    const keep = firstEndingAtOrAfter(this.#entries, offset);
    if (keep === this.#entries.length) return;
    this.replaceAll(this.#entries.slice(0, keep));
  }

  /** Rewrites the whole file (a rebuild, a truncation, a cleaned segment taking over entries). */
  replaceAll(entries: readonly AbortedTransactionEntry[]): void {
    for (let index = 1; index < entries.length; index++) {
      if ((entries[index] as AbortedTransactionEntry).lastOffset <= (entries[index - 1] as AbortedTransactionEntry).lastOffset) {
        throw new Error(`txn index ${this.#file}: replacement entries are not in marker order`);
      }
    }
    fs.writeFileSync(this.#file, encodeEntries(entries));
    this.#entries = [...entries];
    this.#dirty = true;
  }

  /** fsyncs the file when something was written since the last time. */
  flush(): void {
    if (!this.#dirty) return;
    const fd = fs.openSync(this.#file, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.#dirty = false;
  }

  /** The file was renamed (a cleaned segment took its final name). */
  renamedTo(file: string): void {
    this.#file = file;
  }
}

function encodeEntries(entries: readonly AbortedTransactionEntry[]): Buffer {
  const buffer = Buffer.allocUnsafe(entries.length * TXN_INDEX_ENTRY_BYTES);
  entries.forEach((entry, index) => {
    const at = index * TXN_INDEX_ENTRY_BYTES;
    buffer.writeInt16BE(ENTRY_VERSION, at);
    buffer.writeBigInt64BE(entry.producerId, at + 2);
    buffer.writeBigInt64BE(entry.firstOffset, at + 10);
    buffer.writeBigInt64BE(entry.lastOffset, at + 18);
    buffer.writeBigInt64BE(entry.lastStableOffset, at + 26);
  });
  return buffer;
}

/** The entries, or null when the bytes are torn, malformed, out of order or outside the segment. */
function decodeEntries(bytes: Buffer, baseOffset: bigint, nextOffset: bigint): AbortedTransactionEntry[] | null {
  if (bytes.length % TXN_INDEX_ENTRY_BYTES !== 0) return null;
  const entries: AbortedTransactionEntry[] = [];
  let previous = baseOffset - 1n;
  for (let at = 0; at < bytes.length; at += TXN_INDEX_ENTRY_BYTES) {
    if (bytes.readInt16BE(at) !== ENTRY_VERSION) return null;
    const entry = {
      producerId: bytes.readBigInt64BE(at + 2),
      firstOffset: bytes.readBigInt64BE(at + 10),
      lastOffset: bytes.readBigInt64BE(at + 18),
      lastStableOffset: bytes.readBigInt64BE(at + 26),
    };
    const plausible = entry.producerId >= 0n && entry.firstOffset >= 0n && entry.firstOffset <= entry.lastOffset
      && entry.lastOffset > previous && entry.lastOffset < nextOffset && entry.lastStableOffset >= 0n;
    if (!plausible) return null;
    entries.push(entry);
    previous = entry.lastOffset;
  }
  return entries;
}

function firstEndingAtOrAfter(entries: readonly AbortedTransactionEntry[], offset: bigint): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((entries[middle] as AbortedTransactionEntry).lastOffset < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Rebuilds aborted-transaction entries from record batches fed in log order: it follows each
 * producer's open transaction from its first transactional batch to its marker. Only the
 * attributes of most batches are read; a marker's type is read straight from its one record.
 */
export class AbortedTransactionScanner {
  /** Producer id -> first offset of its open transaction. */
  readonly #open = new Map<bigint, bigint>();

  /** Visits the whole batches in `records`; returns the entries of abort markers among them. */
  visit(records: Buffer): AbortedTransactionEntry[] {
    const found: AbortedTransactionEntry[] = [];
    let at = 0;
    while (at + BATCH_HEADER_BYTES <= records.length) {
      const size = BATCH_LOG_OVERHEAD + records.readInt32BE(at + BATCH_OFFSETS.batchLength);
      if (size < BATCH_HEADER_BYTES || at + size > records.length) break;
      const attributes = records.readInt16BE(at + BATCH_OFFSETS.attributes);
      if (isControl(attributes)) {
        this.#visitMarker(records, at, attributes, found);
      } else if (isTransactional(attributes)) {
        const producerId = records.readBigInt64BE(at + BATCH_OFFSETS.producerId);
        if (!this.#open.has(producerId)) this.#open.set(producerId, records.readBigInt64BE(at + BATCH_OFFSETS.baseOffset));
      }
      at += size;
    }
    return found;
  }

  #visitMarker(records: Buffer, at: number, attributes: number, found: AbortedTransactionEntry[]): void {
    const producerId = records.readBigInt64BE(at + BATCH_OFFSETS.producerId);
    const firstOffset = this.#open.get(producerId);
    // A marker without data before it (all of it went with retention) leaves nothing to hide.
    if (firstOffset === undefined) return;
    const type = controlType(records, at, attributes);
    // Unknown control types do not end a transaction (the producer state ignores them too).
    if (type === 'unknown') return;
    this.#open.delete(producerId);
    if (type !== 'abort') return;
    const markerOffset = records.readBigInt64BE(at + BATCH_OFFSETS.baseOffset);
    let lastStableOffset = markerOffset + 1n;
    for (const open of this.#open.values()) if (open < lastStableOffset) lastStableOffset = open;
    found.push({ producerId, firstOffset, lastOffset: markerOffset, lastStableOffset });
  }
}

/** Offsets of the abort markers among the whole batches in `records`. */
export function abortMarkerOffsets(records: Buffer): bigint[] {
  const offsets: bigint[] = [];
  let at = 0;
  while (at + BATCH_HEADER_BYTES <= records.length) {
    const size = BATCH_LOG_OVERHEAD + records.readInt32BE(at + BATCH_OFFSETS.batchLength);
    if (size < BATCH_HEADER_BYTES || at + size > records.length) break;
    const attributes = records.readInt16BE(at + BATCH_OFFSETS.attributes);
    if (isControl(attributes) && controlType(records, at, attributes) === 'abort') offsets.push(records.readBigInt64BE(at + BATCH_OFFSETS.baseOffset));
    at += size;
  }
  return offsets;
}

/**
 * The type of the control batch at `at`. Markers are written uncompressed with one record
 * (length varint | attributes i8 | timestampDelta varlong | offsetDelta varint | key), whose key
 * starts with version i16 and type i16; anything else takes the general decoder.
 */
function controlType(records: Buffer, at: number, attributes: number): 'abort' | 'commit' | 'unknown' {
  if (compressionOf(attributes) !== CompressionCodec.None) return readControlRecord(decodeBatch(records, at).records[0] as BatchRecord).type;
  const cursor = { position: at + BATCH_HEADER_BYTES };
  readVarint(records, cursor);
  cursor.position += 1;
  readVarlongNumber(records, cursor);
  readVarint(records, cursor);
  const keyLength = readVarint(records, cursor);
  if (keyLength < 4 || cursor.position + 4 > records.length) return 'unknown';
  const type = records.readInt16BE(cursor.position + 2);
  return type === CONTROL_TYPE_ABORT ? 'abort' : type === CONTROL_TYPE_COMMIT ? 'commit' : 'unknown';
}
