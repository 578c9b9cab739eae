// Encoding, decoding, scanning and validating RecordBatch v2 (see header.ts for the layout and
// record.ts for one record). The broker's produce path uses validateBatch, which checks a batch
// as the client sent it without decoding its records unless asked to; decodeBatch is for the
// consumers of batches (clients, the offsets and transaction topics, compaction).
import { CompressionCodec, compress, decompress, isCompressionCodec } from './compression.ts';
import { CorruptRecordError } from './errors.ts';
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSETS,
  CURRENT_MAGIC,
  batchSizeAt,
  compressionOf,
  computeBatchCrc,
  readBatchHeader,
  rewriteBatchCrc,
  type BatchHeader,
} from './header.ts';
import { readRecord, sizeOfRecord, writeRecord, type BatchRecord, type RecordHeader } from './record.ts';

export { CorruptRecordError } from './errors.ts';
export type { BatchRecord, RecordHeader } from './record.ts';
/** The record as stored, under the name the Kafka documentation uses. */
export type Record = BatchRecord;

export type TimestampType = 'create' | 'logAppend';

/** The smallest possible record: length, attributes, two deltas, null key, null value, 0 headers. */
export const RECORD_BYTES_MIN = 7;

export interface RecordHeaderInput {
  key: string;
  value: Buffer | string | null;
}

/** What a producer hands over; strings are written as UTF-8. */
export interface RecordInput {
  key?: Buffer | string | null | undefined;
  value: Buffer | string | null;
  headers?: readonly RecordHeaderInput[] | undefined;
  /** Milliseconds since the epoch; defaults to the batch's baseTimestamp. */
  timestamp?: bigint | number | undefined;
}

export interface EncodeBatchOptions {
  records: readonly RecordInput[];
  compression?: CompressionCodec | undefined;
  baseOffset?: bigint | undefined;
  /** Defaults to the first record's timestamp, else the current time. */
  baseTimestamp?: bigint | number | undefined;
  producerId?: bigint | undefined;
  producerEpoch?: number | undefined;
  baseSequence?: number | undefined;
  transactional?: boolean | undefined;
  partitionLeaderEpoch?: number | undefined;
  timestampType?: TimestampType | undefined;
}

/** Settings of the batch header that encodeBatch and encodeControlBatch share. */
interface HeaderFields {
  attributes: number;
  baseOffset: bigint;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  partitionLeaderEpoch: number;
}

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** Builds one batch with a correct CRC. Throws (a programmer error) on zero records. */
export function encodeBatch(options: EncodeBatchOptions): Buffer {
  const inputs = options.records;
  if (inputs.length === 0) throw new RangeError('encodeBatch: a batch needs at least one record');
  const first = inputs[0]?.timestamp;
  const baseTimestamp = BigInt(options.baseTimestamp ?? first ?? Date.now());
  let maxTimestamp: bigint | null = null;
  const records = inputs.map((input, index): BatchRecord => {
    const timestamp = input.timestamp === undefined ? baseTimestamp : BigInt(input.timestamp);
    if (maxTimestamp === null || timestamp > maxTimestamp) maxTimestamp = timestamp;
    return {
      attributes: 0,
      timestampDelta: timestampDelta(timestamp, baseTimestamp),
      offsetDelta: index,
      key: toBuffer(input.key),
      value: toBuffer(input.value),
      headers: (input.headers ?? []).map((header) => ({ key: header.key, value: toBuffer(header.value) })),
    };
  });
  const compression = options.compression ?? CompressionCodec.None;
  let attributes: number = compression;
  if (options.timestampType === 'logAppend') attributes |= ATTRIBUTE_LOG_APPEND_TIME;
  if (options.transactional === true) attributes |= ATTRIBUTE_TRANSACTIONAL;
  return assembleBatch(records, compression, {
    attributes,
    baseOffset: options.baseOffset ?? 0n,
    baseTimestamp,
    maxTimestamp: maxTimestamp ?? baseTimestamp,
    producerId: options.producerId ?? -1n,
    producerEpoch: options.producerEpoch ?? -1,
    baseSequence: options.baseSequence ?? -1,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? -1,
  });
}

function timestampDelta(timestamp: bigint, baseTimestamp: bigint): number {
  const delta = timestamp - baseTimestamp;
  if (delta < BigInt(Number.MIN_SAFE_INTEGER) || delta > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`encodeBatch: timestamp ${timestamp} is too far from baseTimestamp ${baseTimestamp}`);
  }
  return Number(delta);
}

function assembleBatch(records: readonly BatchRecord[], compression: CompressionCodec, fields: HeaderFields): Buffer {
  let recordsBytes = 0;
  for (const record of records) recordsBytes += sizeOfRecord(record);
  let section: Buffer = Buffer.allocUnsafe(recordsBytes);
  let at = 0;
  for (const record of records) at = writeRecord(section, record, at);
  if (at !== recordsBytes) throw new Error(`encodeBatch: wrote ${at} record bytes, expected ${recordsBytes}`);
  section = compress(compression, section);

  const size = BATCH_HEADER_BYTES + section.length;
  const batch = Buffer.allocUnsafe(size);
  batch.writeBigInt64BE(fields.baseOffset, BATCH_OFFSETS.baseOffset);
  batch.writeInt32BE(size - BATCH_LOG_OVERHEAD, BATCH_OFFSETS.batchLength);
  batch.writeInt32BE(fields.partitionLeaderEpoch, BATCH_OFFSETS.partitionLeaderEpoch);
  batch.writeInt8(CURRENT_MAGIC, BATCH_OFFSETS.magic);
  batch.writeInt16BE(fields.attributes, BATCH_OFFSETS.attributes);
  batch.writeInt32BE(records.length - 1, BATCH_OFFSETS.lastOffsetDelta);
  batch.writeBigInt64BE(fields.baseTimestamp, BATCH_OFFSETS.baseTimestamp);
  batch.writeBigInt64BE(fields.maxTimestamp, BATCH_OFFSETS.maxTimestamp);
  batch.writeBigInt64BE(fields.producerId, BATCH_OFFSETS.producerId);
  batch.writeInt16BE(fields.producerEpoch, BATCH_OFFSETS.producerEpoch);
  batch.writeInt32BE(fields.baseSequence, BATCH_OFFSETS.baseSequence);
  batch.writeInt32BE(records.length, BATCH_OFFSETS.recordCount);
  section.copy(batch, BATCH_OFFSETS.records);
  rewriteBatchCrc(batch, 0, size);
  return batch;
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodedBatch {
  header: BatchHeader;
  /** Total bytes of the batch: BATCH_LOG_OVERHEAD + header.batchLength. */
  size: number;
  records: BatchRecord[];
}

export interface DecodeOptions {
  /** Check the CRC-32C before anything else (default true, like Kafka's check.crcs). */
  verifyCrc?: boolean | undefined;
  /** Ceiling on the decompressed records section; defaults to DECOMPRESSED_BYTES_MAX_DEFAULT. */
  decompressedBytesMax?: number | undefined;
}

/**
 * Decodes the whole batch starting at `position`, decompressing its records. Throws
 * CorruptRecordError on anything inconsistent: short buffer, wrong magic, bad CRC, unknown
 * codec, records that do not add up to recordCount or leave bytes over.
 */
export function decodeBatch(buffer: Buffer, position = 0, options: DecodeOptions = {}): DecodedBatch {
  const size = batchSizeAt(buffer, position);
  if (size < BATCH_HEADER_BYTES || position + size > buffer.length) {
    throw new CorruptRecordError(`no complete batch at ${position}: size ${size}, ${buffer.length - position} bytes available`);
  }
  const header = readBatchHeader(buffer, position);
  if (header.magic !== CURRENT_MAGIC) throw new CorruptRecordError(`batch magic ${header.magic} is not 2`);
  if (options.verifyCrc !== false && computeBatchCrc(buffer, position, size) !== header.crc) {
    throw new CorruptRecordError(`batch at offset ${header.baseOffset} fails its CRC check`);
  }
  const stored = buffer.subarray(position + BATCH_OFFSETS.records, position + size);
  const records = decodeRecords(stored, header, options.decompressedBytesMax);
  return { header, size, records };
}

function decodeRecords(stored: Buffer, header: BatchHeader, decompressedBytesMax: number | undefined): BatchRecord[] {
  const codec = compressionOf(header.attributes);
  if (!isCompressionCodec(codec)) throw new CorruptRecordError(`batch compression codec ${codec} is unknown`);
  const section = decompress(codec, stored, decompressedBytesMax);
  if (header.recordCount < 0 || header.recordCount * RECORD_BYTES_MIN > section.length) {
    throw new CorruptRecordError(`record count ${header.recordCount} cannot fit ${section.length} bytes`);
  }
  const cursor = { position: 0 };
  const records: BatchRecord[] = [];
  for (let index = 0; index < header.recordCount; index++) {
    records.push(readRecord(section, cursor, section.length));
  }
  if (cursor.position !== section.length) {
    throw new CorruptRecordError(`${section.length - cursor.position} bytes follow the last of ${header.recordCount} records`);
  }
  return records;
}

/** A record with its absolute offset and timestamp, as a consumer sees it. */
export interface ConsumerRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/**
 * The records of a decoded batch with absolute offsets and timestamps. Under LogAppendTime
 * every record carries the batch's maxTimestamp (the broker's append time), as in Kafka.
 */
export function* consumerRecords(batch: DecodedBatch): Generator<ConsumerRecord> {
  const { baseOffset, baseTimestamp, maxTimestamp, attributes } = batch.header;
  const logAppendTime = (attributes & ATTRIBUTE_LOG_APPEND_TIME) !== 0;
  for (const record of batch.records) {
    yield {
      offset: baseOffset + BigInt(record.offsetDelta),
      timestamp: logAppendTime ? maxTimestamp : baseTimestamp + BigInt(record.timestampDelta),
      key: record.key,
      value: record.value,
      headers: record.headers,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Scanning

export interface BatchLocation {
  position: number;
  size: number;
  header: BatchHeader;
}

/** Why iterateBatches stopped: the end, a partial batch, or a length no batch can have. */
export interface ScanEnd {
  position: number;
  reason: 'end' | 'partial' | 'invalidLength';
}

/**
 * Yields each complete batch from `position` on, reading only headers. It stops at the first
 * partial batch (a torn tail or a fetch cut at max.bytes) or at a batchLength too small to
 * hold a header; the generator's return value says where and why. CRCs are not checked here.
 */
export function* iterateBatches(buffer: Buffer, position = 0): Generator<BatchLocation, ScanEnd> {
  let at = position;
  while (at < buffer.length) {
    const size = batchSizeAt(buffer, at);
    if (size < 0 || (size >= BATCH_HEADER_BYTES && at + size > buffer.length)) return { position: at, reason: 'partial' };
    if (size < BATCH_HEADER_BYTES) return { position: at, reason: 'invalidLength' };
    yield { position: at, size, header: readBatchHeader(buffer, at) };
    at += size;
  }
  return { position: at, reason: 'end' };
}

// ---------------------------------------------------------------------------------------------
// Control batches (transaction markers), written only by the broker:
//
//   key   => version i16 (0) | type i16 (0 abort, 1 commit)
//   value => version i16 (0) | coordinatorEpoch i32

export interface ControlBatchOptions {
  type: 'commit' | 'abort';
  producerId: bigint;
  producerEpoch: number;
  coordinatorEpoch: number;
  timestamp: bigint | number;
  baseOffset?: bigint | undefined;
  partitionLeaderEpoch?: number | undefined;
}

export type ControlRecord =
  | { type: 'commit' | 'abort'; version: number; coordinatorEpoch: number }
  /** Other control types (KRaft's leader-change and snapshot records) are passed through. */
  | { type: 'unknown'; typeCode: number };

const CONTROL_TYPE_ABORT = 0;
const CONTROL_TYPE_COMMIT = 1;

export function encodeControlBatch(options: ControlBatchOptions): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(options.type === 'commit' ? CONTROL_TYPE_COMMIT : CONTROL_TYPE_ABORT, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(options.coordinatorEpoch, 2);
  const timestamp = BigInt(options.timestamp);
  const record: BatchRecord = { attributes: 0, timestampDelta: 0, offsetDelta: 0, key, value, headers: [] };
  return assembleBatch([record], CompressionCodec.None, {
    attributes: ATTRIBUTE_CONTROL | ATTRIBUTE_TRANSACTIONAL,
    baseOffset: options.baseOffset ?? 0n,
    baseTimestamp: timestamp,
    maxTimestamp: timestamp,
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    baseSequence: -1,
    partitionLeaderEpoch: options.partitionLeaderEpoch ?? -1,
  });
}

/** Interprets a record of a control batch. Throws CorruptRecordError if it is malformed. */
export function readControlRecord(record: BatchRecord): ControlRecord {
  const { key, value } = record;
  if (key === null || key.length < 4) throw new CorruptRecordError('control record key is shorter than 4 bytes');
  const typeCode = key.readInt16BE(2);
  if (typeCode !== CONTROL_TYPE_ABORT && typeCode !== CONTROL_TYPE_COMMIT) return { type: 'unknown', typeCode };
  if (value === null || value.length < 6) throw new CorruptRecordError('transaction marker value is shorter than 6 bytes');
  return {
    type: typeCode === CONTROL_TYPE_COMMIT ? 'commit' : 'abort',
    version: value.readInt16BE(0),
    coordinatorEpoch: value.readInt32BE(2),
  };
}


// ---------------------------------------------------------------------------------------------
// Validation on the produce path. Errors are data here: the broker answers the partition with
// the Kafka error code, so nothing below throws for anything a client could have sent.

/** The Kafka error codes a batch can be rejected with (numbers from the Kafka protocol). */
export const BATCH_ERROR_CODES = {
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
} as const;
export type BatchErrorName = keyof typeof BATCH_ERROR_CODES;

export type BatchVerdict =
  | { ok: true; header: BatchHeader }
  | { ok: false; errorName: BatchErrorName; errorCode: number; message: string };

export interface ValidateOptions {
  /** message.max.bytes of the topic: the largest batch, in bytes, it accepts. */
  maxMessageBytes: number;
  /** Compacted topics: decode every record and reject any without a key. */
  requireKeys?: boolean | undefined;
  /** Decode every record and check its structure and offset delta even without requireKeys. */
  decodeRecords?: boolean | undefined;
  /** Control batches come only from the broker itself; clients may not send them. */
  allowControl?: boolean | undefined;
  decompressedBytesMax?: number | undefined;
}

function reject(errorName: BatchErrorName, message: string): BatchVerdict {
  return { ok: false, errorName, errorCode: BATCH_ERROR_CODES[errorName], message };
}

/**
 * Checks the batch of `size` bytes at `position` as Kafka's log validator does for magic 2:
 * framing and size first, then magic, CRC, codec, control flag and the record count against
 * lastOffsetDelta. Records are decoded only for requireKeys or decodeRecords.
 */
export function validateBatch(buffer: Buffer, position: number, size: number, options: ValidateOptions): BatchVerdict {
  const framing = checkFraming(buffer, position, size, options.maxMessageBytes);
  if (framing !== null) return framing;
  const header = readBatchHeader(buffer, position);
  if (header.magic !== CURRENT_MAGIC) return reject('INVALID_RECORD', `batch magic ${header.magic} is not 2`);
  const crc = computeBatchCrc(buffer, position, size);
  if (crc !== header.crc) return reject('CORRUPT_MESSAGE', `batch CRC ${header.crc} does not match computed ${crc}`);
  const codec = compressionOf(header.attributes);
  if (!isCompressionCodec(codec)) return reject('UNSUPPORTED_COMPRESSION_TYPE', `compression codec ${codec} is unknown`);
  const control = (header.attributes & ATTRIBUTE_CONTROL) !== 0;
  if (control && options.allowControl !== true) return reject('INVALID_RECORD', 'clients may not write control batches');
  if (header.recordCount < 1) return reject('INVALID_RECORD', `batch has ${header.recordCount} records`);
  if (!control && header.lastOffsetDelta !== header.recordCount - 1) {
    return reject('INVALID_RECORD', `lastOffsetDelta ${header.lastOffsetDelta} does not match ${header.recordCount} records`);
  }
  if (codec === CompressionCodec.None && header.recordCount * RECORD_BYTES_MIN > size - BATCH_HEADER_BYTES) {
    return reject('CORRUPT_MESSAGE', `${header.recordCount} records cannot fit ${size - BATCH_HEADER_BYTES} bytes`);
  }
  if (options.requireKeys === true || options.decodeRecords === true) {
    const deep = checkRecords(buffer, position, options);
    if (deep !== null) return deep;
  }
  return { ok: true, header };
}

function checkFraming(buffer: Buffer, position: number, size: number, maxMessageBytes: number): BatchVerdict | null {
  if (position < 0 || size < BATCH_HEADER_BYTES || position + size > buffer.length) {
    return reject('CORRUPT_MESSAGE', `batch of ${size} bytes at ${position} does not fit ${buffer.length} bytes or a header`);
  }
  const declared = batchSizeAt(buffer, position);
  if (declared !== size) return reject('CORRUPT_MESSAGE', `batchLength says ${declared} bytes, the batch has ${size}`);
  if (size > maxMessageBytes) {
    return reject('MESSAGE_TOO_LARGE', `batch of ${size} bytes exceeds message.max.bytes ${maxMessageBytes}`);
  }
  return null;
}

function checkRecords(buffer: Buffer, position: number, options: ValidateOptions): BatchVerdict | null {
  let decoded: DecodedBatch;
  try {
    // The CRC was checked by the caller; checking it again would only cost time.
    decoded = decodeBatch(buffer, position, { verifyCrc: false, decompressedBytesMax: options.decompressedBytesMax });
  } catch (error) {
    if (!(error instanceof CorruptRecordError)) throw error;
    return reject('CORRUPT_MESSAGE', error.message);
  }
  for (const [index, record] of decoded.records.entries()) {
    if (record.offsetDelta !== index) {
      return reject('INVALID_RECORD', `record ${index} has offsetDelta ${record.offsetDelta}`);
    }
    if (options.requireKeys === true && record.key === null) {
      return reject('INVALID_RECORD', `record ${index} has no key, which a compacted topic requires`);
    }
  }
  return null;
}
