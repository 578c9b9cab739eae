// Encodes a producer's records straight into the bytes of one RecordBatch v2, as they are
// appended, so a record costs one pass over its fields and no intermediate objects. The header
// is reserved up front and written when the batch is sealed; the producer id, epoch and base
// sequence (and with them the CRC) are stamped when the batch is first sent, because only then
// is its place in the partition's sequence known.
//
//   Record => length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
//             key varint-length bytes | value varint-length bytes | headerCount varint | Header*
//
// The header layout and the CRC are core/records' (header.ts); only the record writing lives
// here, because it writes from the producer's own input types without building records first.
import { compress, type CompressionCodec } from '../../core/records/compression.ts';
import {
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSETS,
  CURRENT_MAGIC,
  rewriteBatchCrc,
} from '../../core/records/header.ts';

/**
 * Bytes a producer takes for a key, a value or a header value. A plain Uint8Array is written
 * as it is, so a caller holding serialized bytes (the streams runtime) never copies them into
 * a Buffer first: the batch builder reads only their length and bytes.
 */
export type FieldInput = Uint8Array | string | null;

export interface HeaderInput {
  readonly key: string;
  readonly value: FieldInput;
}

/** Bytes of a zigzag varint for an int32. */
function varintBytes(value: number): number {
  let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned >>>= 7;
    size += 1;
  }
  return size;
}

/** Bytes of a zigzag varlong for a safe integer (timestamp deltas). */
function varlongBytes(value: number): number {
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned = Math.floor(unsigned / 128);
    size += 1;
  }
  return size;
}

function writeVarint(buffer: Buffer, value: number, position: number): number {
  let unsigned = ((value << 1) ^ (value >> 31)) >>> 0;
  let at = position;
  while (unsigned >= 0x80) {
    buffer[at++] = (unsigned & 0x7f) | 0x80;
    unsigned >>>= 7;
  }
  buffer[at++] = unsigned;
  return at;
}

function writeVarlong(buffer: Buffer, value: number, position: number): number {
  if (value >= -0x20000000 && value < 0x20000000) return writeVarint(buffer, value, position);
  let unsigned = value >= 0 ? value * 2 : -value * 2 - 1;
  let at = position;
  while (unsigned >= 0x80) {
    buffer[at++] = (unsigned % 128) | 0x80;
    unsigned = Math.floor(unsigned / 128);
  }
  buffer[at++] = unsigned;
  return at;
}

/** Fields up to this size are copied byte by byte (see writeField). */
const SMALL_FIELD_BYTES_MAX = 32;

/**
 * UTF-8 bytes of a string. A short one (most keys and small values) is scanned by hand, which
 * costs less than the call into Buffer's native counter.
 */
function utf8Bytes(text: string): number {
  const length = text.length;
  if (length > SMALL_FIELD_BYTES_MAX) return Buffer.byteLength(text, 'utf8');
  for (let index = 0; index < length; index++) if (text.charCodeAt(index) > 0x7f) return Buffer.byteLength(text, 'utf8');
  return length;
}

function fieldBytes(value: FieldInput): number {
  if (value === null) return 1;
  const length = typeof value === 'string' ? utf8Bytes(value) : value.length;
  return varintBytes(length) + length;
}

function writeField(buffer: Buffer, value: FieldInput, position: number): number {
  if (value === null) return writeVarint(buffer, -1, position);
  if (typeof value === 'string') return writeText(buffer, value, position);
  const length = value.length;
  const at = writeVarint(buffer, length, position);
  // Keys and small values are copied by hand: set() costs more than the loop below that size.
  if (length <= SMALL_FIELD_BYTES_MAX) for (let index = 0; index < length; index++) buffer[at + index] = value[index] as number;
  else buffer.set(value, at);
  return at + length;
}

/**
 * Writes a string field. A short one is written by hand in one pass on the guess that it is
 * ASCII (its length prefix is then its character count, one byte); a character above 0x7f sends
 * it to Buffer's encoder, which writes it again from the start.
 */
function writeText(buffer: Buffer, text: string, position: number): number {
  const length = text.length;
  if (length < 0x40) {
    // A zigzag varint of a length below 64 is one byte.
    buffer[position] = length << 1;
    const at = position + 1;
    let index = 0;
    for (; index < length; index++) {
      const code = text.charCodeAt(index);
      if (code > 0x7f) break;
      buffer[at + index] = code;
    }
    if (index === length) return at + length;
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  const at = writeVarint(buffer, bytes, position);
  return at + buffer.write(text, at, bytes, 'utf8');
}

/** The longest varint of an int32. */
const VARINT_BYTES_MAX = 5;

/** The most bytes a field can take: a UTF-16 code unit is at most three bytes of UTF-8. */
function largestFieldBytes(value: FieldInput): number {
  if (value === null) return 1;
  return VARINT_BYTES_MAX + (typeof value === 'string' ? 3 * value.length : value.length);
}

/** Bytes of a field if it is bytes or ASCII text (exact then, fewer than it takes otherwise). */
function asciiFieldBytes(value: FieldInput): number {
  if (value === null) return 1;
  return varintBytes(value.length) + value.length;
}

/** Bytes of a record's body (everything after its length prefix). */
function recordBodyBytes(key: FieldInput, value: FieldInput, headers: readonly HeaderInput[] | null, timestampDelta: number, offsetDelta: number): number {
  let body = 1 + varlongBytes(timestampDelta) + varintBytes(offsetDelta) + fieldBytes(key) + fieldBytes(value);
  body += varintBytes(headers === null ? 0 : headers.length);
  if (headers !== null) for (const header of headers) body += fieldBytes(header.key) + fieldBytes(header.value);
  return body;
}

/** Bytes a record takes in a batch, its length prefix included. */
export function recordBytes(key: FieldInput, value: FieldInput, headers: readonly HeaderInput[] | null, timestampDelta: number, offsetDelta: number): number {
  const body = recordBodyBytes(key, value, headers, timestampDelta, offsetDelta);
  return varintBytes(body) + body;
}

/** One batch being filled. `bytes` holds the reserved header and the records written so far. */
export class BatchBuilder {
  readonly buffer: Buffer;
  /** The end of the written records. */
  size = BATCH_HEADER_BYTES;
  recordCount = 0;
  baseTimestamp = 0;
  maxTimestamp = 0;

  /** `reuse`, a buffer of a finished batch, saves an allocation when it is large enough. */
  constructor(capacity: number, reuse?: Buffer) {
    const bytes = Math.max(capacity, BATCH_HEADER_BYTES + 16);
    this.buffer = reuse !== undefined && reuse.length >= bytes ? reuse : Buffer.allocUnsafe(bytes);
  }

  get capacity(): number {
    return this.buffer.length;
  }

  /**
   * Appends a record if it fits and returns true; false leaves the batch untouched. The first
   * record always fits when the builder was made with recordBytes of it plus the header.
   */
  tryAppend(key: FieldInput, value: FieldInput, headers: readonly HeaderInput[] | null, timestamp: number): boolean {
    if (this.recordCount === 0) {
      this.baseTimestamp = timestamp;
      this.maxTimestamp = timestamp;
    }
    const timestampDelta = timestamp - this.baseTimestamp;
    if (headers === null && (typeof key === 'string' || typeof value === 'string')) {
      if (typeof key === 'string' && typeof value === 'string' && this.appendShortAscii(key, value, timestampDelta, timestamp)) return true;
      return this.appendText(key, value, timestampDelta, timestamp);
    }
    return this.appendExact(key, value, headers, timestampDelta, timestamp);
  }

  /**
   * The streams runtime's usual output record, written with every size known up front: a
   * string key and value shorter than 64 characters each, a timestamp delta within ±2^20 ms and an
   * offset delta below 8,192, so that if the text is ASCII (which the copy checks once per field,
   * not per character) every varint's size follows from the lengths. Returns false, having
   * changed nothing the batch counts, when the record is not such a one, when it may not fit
   * (appendText then decides), or when its text is not ASCII (appendText writes it again).
   */
  private appendShortAscii(key: string, value: string, timestampDelta: number, timestamp: number): boolean {
    const keyLength = key.length;
    const valueLength = value.length;
    const offsetDelta = this.recordCount;
    if (keyLength >= 0x40 || valueLength >= 0x40 || timestampDelta < -0x100000 || timestampDelta >= 0x100000 || offsetDelta >= 0x2000) return false;
    const zigzagTimestamp = (timestampDelta << 1) ^ (timestampDelta >> 31);
    const timestampBytes = zigzagTimestamp < 0x80 ? 1 : zigzagTimestamp < 0x4000 ? 2 : 3;
    const offsetBytes = offsetDelta < 0x40 ? 1 : 2;
    // Attributes, timestamp delta, offset delta, two one-byte lengths, the fields and a header count of zero.
    const bodyBytes = 4 + timestampBytes + offsetBytes + keyLength + valueLength;
    const start = this.size;
    const end = start + (bodyBytes < 0x40 ? 1 : 2) + bodyBytes;
    const buffer = this.buffer;
    if (end > buffer.length) return false;
    let at = start;
    const zigzagBody = bodyBytes << 1;
    if (bodyBytes < 0x40) {
      buffer[at++] = zigzagBody;
    } else {
      buffer[at++] = (zigzagBody & 0x7f) | 0x80;
      buffer[at++] = zigzagBody >>> 7;
    }
    buffer[at++] = 0;
    if (timestampBytes === 1) {
      buffer[at++] = zigzagTimestamp;
    } else if (timestampBytes === 2) {
      buffer[at++] = (zigzagTimestamp & 0x7f) | 0x80;
      buffer[at++] = zigzagTimestamp >>> 7;
    } else {
      buffer[at++] = (zigzagTimestamp & 0x7f) | 0x80;
      buffer[at++] = ((zigzagTimestamp >>> 7) & 0x7f) | 0x80;
      buffer[at++] = zigzagTimestamp >>> 14;
    }
    const zigzagOffset = offsetDelta << 1;
    if (offsetDelta < 0x40) {
      buffer[at++] = zigzagOffset;
    } else {
      buffer[at++] = (zigzagOffset & 0x7f) | 0x80;
      buffer[at++] = zigzagOffset >>> 7;
    }
    buffer[at++] = keyLength << 1;
    // Every code is stored and OR-ed into `codes`, which is above 0x7f afterwards if any was.
    let codes = 0;
    for (let index = 0; index < keyLength; index++) {
      const code = key.charCodeAt(index);
      codes |= code;
      buffer[at + index] = code;
    }
    at += keyLength;
    buffer[at++] = valueLength << 1;
    for (let index = 0; index < valueLength; index++) {
      const code = value.charCodeAt(index);
      codes |= code;
      buffer[at + index] = code;
    }
    at += valueLength;
    buffer[at] = 0;
    if (codes > 0x7f) return false;
    this.appended(end, timestamp);
    return true;
  }

  /** Sizes the record exactly (a pass over any string in it), then writes it. */
  private appendExact(key: FieldInput, value: FieldInput, headers: readonly HeaderInput[] | null, timestampDelta: number, timestamp: number): boolean {
    const bodyBytes = recordBodyBytes(key, value, headers, timestampDelta, this.recordCount);
    const bytes = varintBytes(bodyBytes) + bodyBytes;
    if (this.size + bytes > this.buffer.length) return false;
    const buffer = this.buffer;
    let at = writeVarint(buffer, bodyBytes, this.size);
    buffer[at++] = 0;
    at = writeVarlong(buffer, timestampDelta, at);
    at = writeVarint(buffer, this.recordCount, at);
    at = writeField(buffer, key, at);
    at = writeField(buffer, value, at);
    at = writeVarint(buffer, headers === null ? 0 : headers.length, at);
    if (headers !== null) {
      for (const header of headers) {
        at = writeField(buffer, header.key, at);
        at = writeField(buffer, header.value, at);
      }
    }
    if (at !== this.size + bytes) throw new Error(`batch builder wrote ${at - this.size} bytes for a record of ${bytes}`);
    this.appended(at, timestamp);
    return true;
  }

  /**
   * A record with a string field and no headers (the streams runtime's output), written without
   * sizing its strings first: the body's length prefix is reserved for the size the record has
   * if its text is ASCII, the body is written, and the prefix after it; text that is not ASCII
   * may need a longer prefix, and then the body moves. Whether the record fits is decided as
   * appendExact decides: yes when its largest possible size fits, else by appendExact itself.
   */
  private appendText(key: FieldInput, value: FieldInput, timestampDelta: number, timestamp: number): boolean {
    // Attributes, timestamp delta, offset delta and a header count of zero.
    const fixedBytes = 1 + varlongBytes(timestampDelta) + varintBytes(this.recordCount) + 1;
    if (this.size + VARINT_BYTES_MAX + fixedBytes + largestFieldBytes(key) + largestFieldBytes(value) > this.buffer.length) {
      return this.appendExact(key, value, null, timestampDelta, timestamp);
    }
    const buffer = this.buffer;
    const start = this.size;
    const prefixBytes = varintBytes(fixedBytes + asciiFieldBytes(key) + asciiFieldBytes(value));
    let at = start + prefixBytes;
    buffer[at++] = 0;
    at = writeVarlong(buffer, timestampDelta, at);
    at = writeVarint(buffer, this.recordCount, at);
    at = writeField(buffer, key, at);
    at = writeField(buffer, value, at);
    buffer[at++] = 0;
    const bodyBytes = at - start - prefixBytes;
    const neededPrefixBytes = varintBytes(bodyBytes);
    if (neededPrefixBytes !== prefixBytes) {
      buffer.copyWithin(start + neededPrefixBytes, start + prefixBytes, at);
      at += neededPrefixBytes - prefixBytes;
    }
    writeVarint(buffer, bodyBytes, start);
    this.appended(at, timestamp);
    return true;
  }

  private appended(end: number, timestamp: number): void {
    this.size = end;
    this.recordCount += 1;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  /**
   * Finishes the batch: compresses the records when asked and writes every header field but
   * the producer fields and the CRC, which `stamp` writes. Returns the batch's bytes, stamped
   * as a batch without producer id unless `stampedLater` says the caller stamps them before
   * they leave (the producer's sender does when it first sends a batch: computing the CRC here
   * too would pass over every byte of the batch twice).
   */
  seal(codec: CompressionCodec, transactional: boolean, stampedLater = false): Buffer {
    if (this.recordCount === 0) throw new Error('a sealed batch needs at least one record');
    let batch = this.buffer.subarray(0, this.size);
    if (codec !== 0) {
      const compressed = compress(codec, batch.subarray(BATCH_HEADER_BYTES));
      batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
      compressed.copy(batch, BATCH_HEADER_BYTES);
    }
    let attributes: number = codec;
    if (transactional) attributes |= ATTRIBUTE_TRANSACTIONAL;
    batch.writeBigInt64BE(0n, BATCH_OFFSETS.baseOffset);
    batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD, BATCH_OFFSETS.batchLength);
    batch.writeInt32BE(-1, BATCH_OFFSETS.partitionLeaderEpoch);
    batch.writeInt8(CURRENT_MAGIC, BATCH_OFFSETS.magic);
    batch.writeInt16BE(attributes, BATCH_OFFSETS.attributes);
    batch.writeInt32BE(this.recordCount - 1, BATCH_OFFSETS.lastOffsetDelta);
    batch.writeBigInt64BE(BigInt(this.baseTimestamp), BATCH_OFFSETS.baseTimestamp);
    batch.writeBigInt64BE(BigInt(this.maxTimestamp), BATCH_OFFSETS.maxTimestamp);
    batch.writeInt32BE(this.recordCount, BATCH_OFFSETS.recordCount);
    if (!stampedLater) stamp(batch, -1n, -1, -1);
    return batch;
  }
}

/** Writes the producer id, epoch and base sequence into a sealed batch and recomputes its CRC. */
export function stamp(batch: Buffer, producerId: bigint, producerEpoch: number, baseSequence: number): void {
  batch.writeBigInt64BE(producerId, BATCH_OFFSETS.producerId);
  batch.writeInt16BE(producerEpoch, BATCH_OFFSETS.producerEpoch);
  batch.writeInt32BE(baseSequence, BATCH_OFFSETS.baseSequence);
  rewriteBatchCrc(batch, 0, batch.length);
}
