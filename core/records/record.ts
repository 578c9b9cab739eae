// One record inside a batch's records section (after decompression):
//
//   Record => length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
//             keyLength varint | key bytes | valueLength varint | value bytes |
//             headerCount varint | Header*
//   Header => keyLength varint | key utf8 | valueLength varint | value bytes
//
// `length` counts the bytes after itself; a length of -1 means null for key, value and header
// value (a header key may not be null). All varints are zigzag-encoded.
import { CorruptRecordError } from './errors.ts';
import {
  readVarint,
  readVarlongNumber,
  sizeOfVarint,
  sizeOfVarlongNumber,
  writeVarint,
  writeVarlongNumber,
  type Cursor,
} from './varint.ts';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/**
 * A record as stored in a batch. `timestampDelta` is a number (milliseconds from the batch's
 * baseTimestamp): the wire type is a varlong, but deltas beyond Number.MAX_SAFE_INTEGER are
 * rejected as corrupt, which spares a bigint per record. key, value and header values are
 * views into the decoded buffer, not copies.
 */
export interface BatchRecord {
  /** Record-level attributes; unused by Kafka so far and always 0 when we write. */
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/** Bytes `record` takes in a records section, its length prefix included. */
export function sizeOfRecord(record: BatchRecord): number {
  const body = sizeOfRecordBody(record);
  return sizeOfVarint(body) + body;
}

function sizeOfRecordBody(record: BatchRecord): number {
  let size = 1 + sizeOfVarlongNumber(record.timestampDelta) + sizeOfVarint(record.offsetDelta);
  size += sizeOfBytes(record.key) + sizeOfBytes(record.value) + sizeOfVarint(record.headers.length);
  for (const header of record.headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    size += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytes(header.value);
  }
  return size;
}

function sizeOfBytes(bytes: Buffer | null): number {
  return bytes === null ? sizeOfVarint(-1) : sizeOfVarint(bytes.length) + bytes.length;
}

/** Writes `record` at `position` and returns the position after it. */
export function writeRecord(buffer: Buffer, record: BatchRecord, position: number): number {
  let at = writeVarint(buffer, sizeOfRecordBody(record), position);
  buffer.writeInt8(record.attributes, at);
  at = writeVarlongNumber(buffer, record.timestampDelta, at + 1);
  at = writeVarint(buffer, record.offsetDelta, at);
  at = writeBytes(buffer, record.key, at);
  at = writeBytes(buffer, record.value, at);
  at = writeVarint(buffer, record.headers.length, at);
  for (const header of record.headers) {
    at = writeVarint(buffer, Buffer.byteLength(header.key, 'utf8'), at);
    at += buffer.write(header.key, at, 'utf8');
    at = writeBytes(buffer, header.value, at);
  }
  return at;
}

function writeBytes(buffer: Buffer, bytes: Buffer | null, position: number): number {
  if (bytes === null) return writeVarint(buffer, -1, position);
  const at = writeVarint(buffer, bytes.length, position);
  bytes.copy(buffer, at);
  return at + bytes.length;
}

/**
 * Reads one record at the cursor, which must lie before `end` (the end of the records section).
 * Every length is checked against the record's own declared length, so a lying field cannot
 * read into the next record or past the section.
 */
export function readRecord(buffer: Buffer, cursor: Cursor, end: number): BatchRecord {
  const length = readVarint(buffer, cursor);
  const recordEnd = cursor.position + length;
  if (length < 1 || recordEnd > end) {
    throw new CorruptRecordError(`record length ${length} at ${cursor.position} does not fit the batch`);
  }
  const attributes = buffer.readInt8(cursor.position);
  cursor.position += 1;
  const timestampDelta = readVarlongNumber(buffer, cursor);
  const offsetDelta = readVarint(buffer, cursor);
  const key = readBytes(buffer, cursor, recordEnd);
  const value = readBytes(buffer, cursor, recordEnd);
  const headers = readRecordHeaders(buffer, cursor, recordEnd, readVarint(buffer, cursor));
  if (cursor.position !== recordEnd) {
    throw new CorruptRecordError(`record declares ${length} bytes but its fields take ${length + cursor.position - recordEnd}`);
  }
  return { attributes, timestampDelta, offsetDelta, key, value, headers };
}

/** A record's `count` headers (the count already read), each checked to fit the record. */
export function readRecordHeaders(buffer: Buffer, cursor: Cursor, recordEnd: number, count: number): RecordHeader[] {
  // Each header takes at least two bytes, which bounds the count before we trust it.
  if (count < 0 || count * 2 > recordEnd - cursor.position) {
    throw new CorruptRecordError(`header count ${count} does not fit the record`);
  }
  const headers: RecordHeader[] = [];
  for (let index = 0; index < count; index++) {
    const key = readBytes(buffer, cursor, recordEnd);
    if (key === null) throw new CorruptRecordError('record header key is null');
    headers.push({ key: key.toString('utf8'), value: readBytes(buffer, cursor, recordEnd) });
  }
  return headers;
}

function readBytes(buffer: Buffer, cursor: Cursor, recordEnd: number): Buffer | null {
  const start = cursor.position;
  const length = readVarint(buffer, cursor);
  if (cursor.position > recordEnd) throw new CorruptRecordError(`field at ${start} runs past its record`);
  if (length === -1) return null;
  if (length < -1 || length > recordEnd - cursor.position) {
    throw new CorruptRecordError(`field length ${length} at ${start} does not fit its record`);
  }
  const bytes = buffer.subarray(cursor.position, cursor.position + length);
  cursor.position += length;
  return bytes;
}
