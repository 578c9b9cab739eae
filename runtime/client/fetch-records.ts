// Turns the records bytes of one partition in a Fetch response into consumer records. The
// bytes may end in a partial batch (the broker cuts at max bytes), may start before the fetch
// offset (a compressed batch is returned whole), and may hold control batches (transaction
// markers), which consumers never see. Under read_committed, records of aborted transactions
// are dropped using the response's aborted-transaction list, the way Kafka's fetcher does:
// a producer's records are aborted from its listed first offset until its abort marker.
//
// Records are made into objects as they are taken, not when the response arrives. The scan
// checks each batch's CRC and notes per record only where its fields start, its offset delta
// and its timestamp, in plain number arrays; poll() then builds the objects of the records it
// hands out. A response of a few MB holds tens of thousands of records that wait across many
// polls: built up front they would outlive the young generation and make the garbage collector
// copy and promote them, built at take time they die young, within the poll that took them.
import { decodeBatch, iterateBatches, readControlRecord, RECORD_BYTES_MIN, type BatchLocation } from '../../core/records/batch.ts';
import { decompress, isCompressionCodec } from '../../core/records/compression.ts';
import { CorruptRecordError } from '../../core/records/errors.ts';
import { ATTRIBUTE_CONTROL, ATTRIBUTE_LOG_APPEND_TIME, ATTRIBUTE_TRANSACTIONAL, BATCH_OFFSETS, compressionOf, computeBatchCrc, type BatchHeader } from '../../core/records/header.ts';
import { readRecordHeaders, type RecordHeader } from '../../core/records/record.ts';
import { readVarint, readVarlongNumber, type Cursor } from '../../core/records/varint.ts';

export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  /** The timestamp as a number of milliseconds: the same value, without a bigint. */
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/**
 * Makes a caller's own record object from the fields of one fetched record, for callers that
 * need another shape than ConsumerRecord (the streams runtime); `headers` is null when the
 * record has none. The offset is `baseOffset + offsetDelta`, left to the maker so that a caller
 * that rarely needs it does not pay a bigint per record. Key and value are plain Uint8Array
 * views into the response, which cost less to make than Buffer views (Buffer#subarray); only
 * makeConsumerRecord gets Buffer views, which ConsumerRecord promises.
 */
export type RecordMaker<R> = (
  topic: string, partition: number, key: Uint8Array | null, value: Uint8Array | null, timestampMs: number,
  headers: RecordHeader[] | null, baseOffset: bigint, offsetDelta: number,
) => R;

/**
 * Where one fetched record's fields lie, for a caller that reads a partition's records through
 * one object it keeps (ScannedRecords.locate fills it in) instead of an object per record: the
 * key at bytes[keyStart, keyStart + keyLength) and the value at bytes[valueStart, valueStart +
 * valueLength), a length -1 standing for null; its offset is baseOffset + offsetDelta.
 */
export interface RecordPlace {
  bytes: Uint8Array;
  keyStart: number;
  keyLength: number;
  valueStart: number;
  valueLength: number;
  timestamp: number;
  baseOffset: bigint;
  offsetDelta: number;
}

/** A record whose offset, timestamp bigint and empty header list are made on first use. */
export class FetchedRecord implements ConsumerRecord {
  private headerList: RecordHeader[] | null;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly key: Buffer | null,
    readonly value: Buffer | null,
    readonly timestampMs: number,
    headers: RecordHeader[] | null,
    private readonly baseOffset: bigint,
    private readonly offsetDelta: number,
  ) {
    this.headerList = headers;
  }

  get offset(): bigint {
    return this.baseOffset + BigInt(this.offsetDelta);
  }

  get timestamp(): bigint {
    return BigInt(this.timestampMs);
  }

  get headers(): RecordHeader[] {
    return (this.headerList ??= []);
  }

  toJSON(): object {
    return { topic: this.topic, partition: this.partition, offset: String(this.offset), timestamp: String(this.timestamp), key: this.key?.toString(), value: this.value?.toString() };
  }
}

/** ScannedRecords.make hands this maker Buffer views (see RecordMaker). */
export const makeConsumerRecord: RecordMaker<ConsumerRecord> = (topic, partition, key, value, timestampMs, headers, baseOffset, offsetDelta) =>
  new FetchedRecord(topic, partition, key as Buffer | null, value as Buffer | null, timestampMs, headers, baseOffset, offsetDelta);

/** What the records of one batch share: its records section and its base offset. */
interface BatchBases {
  readonly section: Buffer;
  readonly baseOffset: bigint;
  /** Index of the batch's first kept record in ScannedRecords. */
  readonly firstIndex: number;
}

/** Int32 slots per record in ScannedRecords.layout: field position, end, offset delta. */
const LAYOUT_SLOTS = 3;

/**
 * The records of one partition of a Fetch response, checked and located but not yet objects.
 * Per record it keeps four numbers; `make` reads the key, value and headers from the batch
 * bytes (views, not copies) when a record is taken.
 *
 * The numbers live in typed arrays, sized by the record counts of the batch headers, not in
 * JavaScript arrays: a response's records wait across many polls, and arrays on the heap that
 * long would be copied by every scavenge and then promoted to the old generation (with the
 * four arrays of a 1 MB partition response, about a quarter of a MB per fetch) for a major
 * collection to clear. A typed array's elements lie outside the heap, so the collector sees
 * one small object.
 */
export class ScannedRecords {
  private readonly batches: BatchBases[] = [];
  /** Per record, LAYOUT_SLOTS int32s: where its key length starts, where it ends, its offset delta. */
  private layout = new Int32Array(0);
  /** Per record, its timestamp in milliseconds. */
  private timestamps = new Float64Array(0);
  private recordCount = 0;
  /** The batch of the record made last; records are mostly made in order. */
  private batchCursor = 0;
  /** Reused by make(), which runs once per record taken. */
  private readonly cursor: Cursor = { position: 0 };

  /** `capacity`: the records to make room for at once (more can be added; the table then grows). */
  constructor(readonly topic: string, readonly partition: number, capacity = 0) {
    if (capacity > 0) this.grow(capacity);
  }

  get count(): number {
    return this.recordCount;
  }

  /** Adds a batch of up to `batchRecords` records, which addRecord notes next. */
  addBatch(section: Buffer, baseOffset: bigint, batchRecords: number): void {
    this.batches.push({ section, baseOffset, firstIndex: this.recordCount });
    const needed = this.recordCount + batchRecords;
    if (needed > this.timestamps.length) this.grow(needed);
  }

  /**
   * Room for at least `records` records; the capacity at least doubles, so copies stay linear.
   * scanFetch sizes the table for the whole response up front, so this runs once per response
   * unless compressed batches hold more records than their bytes suggested.
   */
  private grow(records: number): void {
    const capacity = Math.max(records, this.timestamps.length * 2);
    const layout = new Int32Array(capacity * LAYOUT_SLOTS);
    layout.set(this.layout.subarray(0, this.recordCount * LAYOUT_SLOTS));
    const timestamps = new Float64Array(capacity);
    timestamps.set(this.timestamps.subarray(0, this.recordCount));
    this.layout = layout;
    this.timestamps = timestamps;
  }

  /** Notes a record of the last batch added (within the count addBatch was given). */
  addRecord(fieldPosition: number, end: number, offsetDelta: number, timestampMs: number): void {
    const index = this.recordCount;
    if (index >= this.timestamps.length) throw new Error(`record ${index} of ${this.topic}-${this.partition} beyond the batches' record counts`);
    const slot = index * LAYOUT_SLOTS;
    this.layout[slot] = fieldPosition;
    this.layout[slot + 1] = end;
    this.layout[slot + 2] = offsetDelta;
    this.timestamps[index] = timestampMs;
    this.recordCount = index + 1;
  }

  /** The offset of record `index`. */
  offsetOf(index: number): bigint {
    const batch = this.batchOf(index);
    return batch.baseOffset + BigInt(this.layout[index * LAYOUT_SLOTS + 2] as number);
  }

  /** Builds record `index` with `maker`; key, value and header values are views into the batch. */
  make<R>(index: number, maker: RecordMaker<R>): R {
    const batch = this.batchOf(index);
    const section = batch.section;
    const slot = index * LAYOUT_SLOTS;
    const end = this.layout[slot + 1] as number;
    const cursor = this.cursor;
    cursor.position = this.layout[slot] as number;
    const buffers = (maker as unknown) === makeConsumerRecord;
    const key = readField(section, cursor, end, buffers);
    const value = readField(section, cursor, end, buffers);
    const headers = this.readHeadersToEnd(section, end);
    return maker(this.topic, this.partition, key, value, this.timestamps[index] as number, headers, batch.baseOffset, this.layout[slot + 2] as number);
  }

  /** The timestamp of record `index`, in milliseconds. */
  timestampAt(index: number): number {
    return this.timestamps[index] as number;
  }

  /**
   * make() into an object of the caller's, without views of the key and value: fills `place`
   * with where record `index` lies (make()'s checks) and returns its headers, null for none.
   */
  locate(index: number, place: RecordPlace): RecordHeader[] | null {
    const batch = this.batchOf(index);
    const section = batch.section;
    const slot = index * LAYOUT_SLOTS;
    const end = this.layout[slot + 1] as number;
    const cursor = this.cursor;
    cursor.position = this.layout[slot] as number;
    const keyLength = skipField(section, cursor, end);
    place.keyStart = cursor.position - Math.max(0, keyLength);
    place.keyLength = keyLength;
    const valueLength = skipField(section, cursor, end);
    place.valueStart = cursor.position - Math.max(0, valueLength);
    place.valueLength = valueLength;
    // The caller's object is long-lived (old generation), and a pointer stored into it costs a
    // write barrier, which is slow while the collector marks: the section and the base offset
    // are the same for every record of a batch, so they are stored only when they change.
    if (place.bytes !== section) place.bytes = section;
    if (place.baseOffset !== batch.baseOffset) place.baseOffset = batch.baseOffset;
    place.timestamp = this.timestamps[index] as number;
    place.offsetDelta = this.layout[slot + 2] as number;
    return this.readHeadersToEnd(section, end);
  }

  /** The key of record `index`: a view into its batch, or null. */
  keyAt(index: number): Uint8Array | null {
    const section = this.batchOf(index).section;
    const slot = index * LAYOUT_SLOTS;
    const cursor = this.cursor;
    cursor.position = this.layout[slot] as number;
    return readField(section, cursor, this.layout[slot + 1] as number, false);
  }

  /** The headers after a record's value (null for none), checked to end where the record ends. */
  private readHeadersToEnd(section: Buffer, end: number): RecordHeader[] | null {
    const cursor = this.cursor;
    const headerCount = readSmallVarint(section, cursor);
    const headers = headerCount === 0 ? null : readRecordHeaders(section, cursor, end, headerCount);
    if (cursor.position !== end) throw new CorruptRecordError(`record of ${this.topic}-${this.partition} ends at ${end} but its fields at ${cursor.position}`);
    return headers;
  }

  /** Every record, made with `maker`. */
  all<R>(maker: RecordMaker<R>): R[] {
    const records = new Array<R>(this.count);
    for (let index = 0; index < records.length; index++) records[index] = this.make(index, maker);
    return records;
  }

  private batchOf(index: number): BatchBases {
    let at = this.batchCursor;
    if ((this.batches[at] as BatchBases).firstIndex > index) at = 0;
    while (at + 1 < this.batches.length && (this.batches[at + 1] as BatchBases).firstIndex <= index) at++;
    this.batchCursor = at;
    return this.batches[at] as BatchBases;
  }
}

export interface ScannedFetch {
  records: ScannedRecords;
  /** The offset after the last complete batch, or `fetchOffset` when none was complete. */
  nextOffset: bigint;
}

export interface PartitionRecords {
  records: ConsumerRecord[];
  nextOffset: bigint;
}

/** scanFetch with every record made a ConsumerRecord at once (tests and tools). */
export function recordsFromFetch(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  data: Buffer | null,
  abortedTransactions: readonly AbortedTransaction[] | null,
): PartitionRecords {
  const { records, nextOffset } = scanFetch(topic, partition, fetchOffset, data, abortedTransactions);
  return { records: records.all(makeConsumerRecord), nextOffset };
}

export function scanFetch(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  data: Buffer | null,
  abortedTransactions: readonly AbortedTransaction[] | null,
): ScannedFetch {
  let nextOffset = fetchOffset;
  if (data === null || data.length === 0) return { records: new ScannedRecords(topic, partition), nextOffset };
  const locations = [...iterateBatches(data)];
  const records = new ScannedRecords(topic, partition, recordsHeld(locations));
  const aborted = [...(abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  for (const location of locations) {
    const header = location.header;
    const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
    while (aborted.length > 0 && (aborted[0] as AbortedTransaction).firstOffset <= lastOffset) {
      abortedProducers.add((aborted.shift() as AbortedTransaction).producerId);
    }
    if (lastOffset + 1n > nextOffset) nextOffset = lastOffset + 1n;
    if (lastOffset < fetchOffset) continue;
    if ((header.attributes & ATTRIBUTE_CONTROL) !== 0) {
      const marker = decodeBatch(data, location.position).records[0];
      if (marker !== undefined && readControlRecord(marker).type === 'abort') abortedProducers.delete(header.producerId);
      continue;
    }
    if ((header.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0 && abortedProducers.has(header.producerId)) continue;
    scanBatch(records, data, location.position, location.size, header, fetchOffset);
  }
  return { records, nextOffset };
}

/**
 * How many records the batches hold by their headers (control batches aside), for sizing the
 * record table once: each batch's count capped by what its bytes can hold uncompressed, because
 * the headers' CRCs are checked only by the scan, so a corrupt count must not size a table
 * beyond its batch (nor take the room the other batches' bytes allow).
 */
function recordsHeld(locations: readonly BatchLocation[]): number {
  let count = 0;
  for (const location of locations) {
    if ((location.header.attributes & ATTRIBUTE_CONTROL) === 0) count += Math.max(0, Math.min(location.header.recordCount, Math.floor(location.size / RECORD_BYTES_MIN)));
  }
  return count;
}

/** Checks one batch and notes each of its records at or after `fetchOffset`. */
function scanBatch(records: ScannedRecords, data: Buffer, position: number, size: number, header: BatchHeader, fetchOffset: bigint): void {
  const where = `${records.topic}-${records.partition}`;
  if (computeBatchCrc(data, position, size) !== header.crc) throw new CorruptRecordError(`batch at offset ${header.baseOffset} of ${where} fails its CRC check`);
  const codec = compressionOf(header.attributes);
  if (!isCompressionCodec(codec)) throw new CorruptRecordError(`batch compression codec ${codec} is unknown`);
  const section = decompress(codec, data.subarray(position + BATCH_OFFSETS.records, position + size));
  const appendTime = (header.attributes & ATTRIBUTE_LOG_APPEND_TIME) !== 0 ? Number(header.maxTimestamp) : null;
  const baseTimestamp = Number(header.baseTimestamp);
  const skipBelow = fetchOffset > header.baseOffset ? Number(fetchOffset - header.baseOffset) : 0;
  // The header's count sizes the record table, so a count the section cannot hold (a record
  // takes at least RECORD_BYTES_MIN bytes) is refused before it does, as decodeBatch refuses it.
  if (header.recordCount < 0 || header.recordCount * RECORD_BYTES_MIN > section.length) {
    throw new CorruptRecordError(`record count ${header.recordCount} of the batch at offset ${header.baseOffset} of ${where} does not fit ${section.length} bytes`);
  }
  records.addBatch(section, header.baseOffset, header.recordCount);
  const cursor: Cursor = { position: 0 };
  for (let index = 0; index < header.recordCount; index++) {
    const start = cursor.position;
    const length = readSmallVarint(section, cursor);
    const end = cursor.position + length;
    // A body shorter than attributes, two deltas, two field lengths and a header count is corrupt:
    // refused by the scan, not left for make() to find.
    if (length < RECORD_BYTES_MIN - 1 || end > section.length) throw new CorruptRecordError(`record length ${length} at ${start} is too short or does not fit the batch`);
    cursor.position += 1;
    const timestampDelta = section[cursor.position] === 0 ? (cursor.position++, 0) : readVarlongNumber(section, cursor);
    const offsetDelta = readSmallVarint(section, cursor);
    if (cursor.position > end) throw new CorruptRecordError(`record at ${start} of ${where} is shorter than its deltas`);
    if (offsetDelta >= skipBelow) records.addRecord(cursor.position, end, offsetDelta, appendTime ?? baseTimestamp + timestampDelta);
    cursor.position = end;
  }
  if (cursor.position !== section.length) throw new CorruptRecordError(`${section.length - cursor.position} bytes follow the last of ${header.recordCount} records`);
}

/**
 * A key or value: a view into the section (a Buffer view when `buffers`, else a plain Uint8Array
 * one, see RecordMaker), or null for length -1. The length is checked to fit the record.
 */
function readField(section: Buffer, cursor: Cursor, end: number, buffers: boolean): Uint8Array | null {
  const length = skipField(section, cursor, end);
  if (length === -1) return null;
  const at = cursor.position - length;
  return buffers ? section.subarray(at, at + length) : new Uint8Array(section.buffer, section.byteOffset + at, length);
}

/** Moves the cursor past a key or value and returns its length (-1 for null), checked to fit the record. */
function skipField(section: Buffer, cursor: Cursor, end: number): number {
  const start = cursor.position;
  const length = readSmallVarint(section, cursor);
  if (length < -1 || length > end - cursor.position) throw new CorruptRecordError(`field length ${length} at ${start} does not fit its record`);
  if (length > 0) cursor.position += length;
  return length;
}

/** readVarint with the one- and two-byte cases (nearly every length and delta) done inline. */
function readSmallVarint(buffer: Buffer, cursor: Cursor): number {
  const at = cursor.position;
  const first = buffer[at];
  if (first !== undefined && first < 0x80) {
    cursor.position = at + 1;
    return (first >>> 1) ^ -(first & 1);
  }
  const second = buffer[at + 1];
  if (first !== undefined && second !== undefined && second < 0x80) {
    const unsigned = (first & 0x7f) | (second << 7);
    cursor.position = at + 2;
    return (unsigned >>> 1) ^ -(unsigned & 1);
  }
  return readVarint(buffer, cursor);
}
