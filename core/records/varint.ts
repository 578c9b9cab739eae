// Zigzag variable-length integers as Kafka's record format uses them (the protobuf encoding):
// the signed value is zigzagged so small negative numbers stay short, then written 7 bits at a
// time, least significant group first, with the high bit of each byte meaning "more follows".
//
// A varint carries an int32 (at most 5 bytes) and a varlong an int64 (at most 10 bytes).
// Readers advance a caller-owned cursor instead of returning tuples so that decoding a batch
// of thousands of records does not allocate per field.
import { CorruptRecordError } from './errors.ts';

export interface Cursor {
  position: number;
}

const VARINT_BYTES_MAX = 5;
const VARLONG_BYTES_MAX = 10;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function assertInt32(value: number): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new RangeError(`varint: ${value} is not an int32`);
  }
}

function zigzag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

export function sizeOfVarint(value: number): number {
  assertInt32(value);
  let unsigned = zigzag32(value);
  let size = 1;
  while (unsigned >= 0x80) {
    unsigned >>>= 7;
    size += 1;
  }
  return size;
}

/** Writes `value` at `position` and returns the position after it. */
export function writeVarint(buffer: Buffer, value: number, position: number): number {
  assertInt32(value);
  let unsigned = zigzag32(value);
  let at = position;
  while (unsigned >= 0x80) {
    buffer[at++] = (unsigned & 0x7f) | 0x80;
    unsigned >>>= 7;
  }
  buffer[at++] = unsigned;
  return at;
}

export function readVarint(buffer: Buffer, cursor: Cursor): number {
  let unsigned = 0;
  for (let index = 0; index < VARINT_BYTES_MAX; index++) {
    const at = cursor.position + index;
    const byte = buffer[at];
    if (byte === undefined) throw new CorruptRecordError(`varint runs past the end at ${at}`);
    unsigned |= (byte & 0x7f) << (7 * index);
    if ((byte & 0x80) === 0) {
      // The fifth byte may only carry the top 4 bits of a 32-bit value.
      if (index === VARINT_BYTES_MAX - 1 && byte > 0x0f) break;
      cursor.position = at + 1;
      unsigned >>>= 0;
      return (unsigned >>> 1) ^ -(unsigned & 1);
    }
  }
  throw new CorruptRecordError(`varint at ${cursor.position} is longer than an int32`);
}

function zigzag64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

function assertInt64(value: bigint): void {
  if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`varlong: ${value} is not an int64`);
}

export function sizeOfVarlong(value: bigint): number {
  assertInt64(value);
  let unsigned = zigzag64(value);
  let size = 1;
  while (unsigned >= 0x80n) {
    unsigned >>= 7n;
    size += 1;
  }
  return size;
}

export function writeVarlong(buffer: Buffer, value: bigint, position: number): number {
  assertInt64(value);
  let unsigned = zigzag64(value);
  let at = position;
  while (unsigned >= 0x80n) {
    buffer[at++] = Number(unsigned & 0x7fn) | 0x80;
    unsigned >>= 7n;
  }
  buffer[at++] = Number(unsigned);
  return at;
}

export function readVarlong(buffer: Buffer, cursor: Cursor): bigint {
  let unsigned = 0n;
  for (let index = 0; index < VARLONG_BYTES_MAX; index++) {
    const at = cursor.position + index;
    const byte = buffer[at];
    if (byte === undefined) throw new CorruptRecordError(`varlong runs past the end at ${at}`);
    unsigned |= BigInt(byte & 0x7f) << BigInt(7 * index);
    if ((byte & 0x80) === 0) {
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (index === VARLONG_BYTES_MAX - 1 && byte > 0x01) break;
      cursor.position = at + 1;
      return (unsigned >> 1n) ^ -(unsigned & 1n);
    }
  }
  throw new CorruptRecordError(`varlong at ${cursor.position} is longer than an int64`);
}

// Record timestamp deltas are varlongs on the wire, but a delta beyond 2^53 ms (285,000 years)
// is never meaningful, so the record codec keeps them as numbers and avoids a bigint per record.
// These two functions are the number-typed varlong used for that.

export function sizeOfVarlongNumber(value: number): number {
  assertSafe(value);
  if (value >= -0x80000000 && value <= 0x7fffffff) return sizeOfVarint(value);
  return sizeOfVarlong(BigInt(value));
}

export function writeVarlongNumber(buffer: Buffer, value: number, position: number): number {
  assertSafe(value);
  // Values that fit an int32 take the fast path; both encodings are identical on the wire.
  if (value >= -0x80000000 && value <= 0x7fffffff) return writeVarint(buffer, value, position);
  return writeVarlong(buffer, BigInt(value), position);
}

/** Reads a varlong that must lie within Number.MIN/MAX_SAFE_INTEGER. */
export function readVarlongNumber(buffer: Buffer, cursor: Cursor): number {
  // Up to 7 groups (49 bits) a number holds the value exactly; longer encodings are rare
  // enough to take the exact bigint path and then be range-checked.
  let unsigned = 0;
  let scale = 1;
  for (let index = 0; index < 7; index++) {
    const at = cursor.position + index;
    const byte = buffer[at];
    if (byte === undefined) throw new CorruptRecordError(`varlong runs past the end at ${at}`);
    unsigned += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) {
      cursor.position = at + 1;
      return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
    }
  }
  const start = cursor.position;
  const value = readVarlong(buffer, cursor);
  if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    cursor.position = start;
    throw new CorruptRecordError(`varlong at ${start} does not fit a safe integer`);
  }
  return Number(value);
}

function assertSafe(value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`varlong: ${value} is not a safe integer`);
}
