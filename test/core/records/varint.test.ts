import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../../../core/records/errors.ts';
import {
  readVarint,
  readVarlong,
  readVarlongNumber,
  sizeOfVarint,
  sizeOfVarlong,
  sizeOfVarlongNumber,
  writeVarint,
  writeVarlong,
  writeVarlongNumber,
} from '../../../core/records/varint.ts';

function encodeVarint(value: number): string {
  const buffer = Buffer.alloc(sizeOfVarint(value));
  const end = writeVarint(buffer, value, 0);
  expect(end).toBe(buffer.length);
  return buffer.toString('hex');
}

function encodeVarlong(value: bigint): string {
  const buffer = Buffer.alloc(sizeOfVarlong(value));
  expect(writeVarlong(buffer, value, 0)).toBe(buffer.length);
  return buffer.toString('hex');
}

describe('varint', () => {
  // Expected bytes follow from the zigzag rule (n << 1) ^ (n >> 31) and base-128 groups.
  it.each([
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [300, 'd804'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ])('encodes %d as %s and reads it back', (value, hex) => {
    expect(encodeVarint(value)).toBe(hex);
    const cursor = { position: 0 };
    expect(readVarint(Buffer.from(hex, 'hex'), cursor)).toBe(value);
    expect(cursor.position).toBe(hex.length / 2);
  });

  it('reads from the middle of a buffer and advances the cursor', () => {
    const buffer = Buffer.from('aa02d804bb', 'hex');
    const cursor = { position: 1 };
    expect(readVarint(buffer, cursor)).toBe(1);
    expect(readVarint(buffer, cursor)).toBe(300);
    expect(cursor.position).toBe(4);
  });

  it('rejects truncated and over-long encodings with CorruptRecordError', () => {
    expect(() => readVarint(Buffer.from('8080', 'hex'), { position: 0 })).toThrow(CorruptRecordError);
    expect(() => readVarint(Buffer.from('ffffffffff01', 'hex'), { position: 0 })).toThrow(CorruptRecordError);
    // A fifth byte above 0x0f would set bits beyond 32.
    expect(() => readVarint(Buffer.from('ffffffff1f', 'hex'), { position: 0 })).toThrow(CorruptRecordError);
  });

  it('refuses to write a value outside int32', () => {
    expect(() => sizeOfVarint(2 ** 31)).toThrow(RangeError);
    expect(() => writeVarint(Buffer.alloc(8), 1.5, 0)).toThrow(RangeError);
  });
});

describe('varlong', () => {
  it.each([
    [0n, '00'],
    [-1n, '01'],
    [1n, '02'],
    [2147483648n, '8080808010'],
    [9223372036854775807n, 'feffffffffffffffff01'],
    [-9223372036854775808n, 'ffffffffffffffffff01'],
  ])('encodes %d as %s and reads it back', (value, hex) => {
    expect(encodeVarlong(value)).toBe(hex);
    const cursor = { position: 0 };
    expect(readVarlong(Buffer.from(hex, 'hex'), cursor)).toBe(value);
    expect(cursor.position).toBe(hex.length / 2);
  });

  it('rejects truncated and over-long encodings', () => {
    expect(() => readVarlong(Buffer.from('ffff', 'hex'), { position: 0 })).toThrow(CorruptRecordError);
    expect(() => readVarlong(Buffer.from('ffffffffffffffffff02', 'hex'), { position: 0 })).toThrow(CorruptRecordError);
  });

  it('number variant agrees with the bigint variant across magnitudes', () => {
    const values = [0, 1, -1, 127, -128, 2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 3, -(2 ** 48), 2 ** 52, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    for (const value of values) {
      const size = sizeOfVarlongNumber(value);
      expect(size).toBe(sizeOfVarlong(BigInt(value)));
      const buffer = Buffer.alloc(size);
      writeVarlongNumber(buffer, value, 0);
      expect(buffer.toString('hex')).toBe(encodeVarlong(BigInt(value)));
      const cursor = { position: 0 };
      expect(readVarlongNumber(buffer, cursor)).toBe(value);
      expect(cursor.position).toBe(size);
    }
  });

  it('number variant rejects values beyond the safe range and leaves the cursor', () => {
    const buffer = Buffer.from(encodeVarlong(BigInt(Number.MAX_SAFE_INTEGER) + 1n), 'hex');
    const cursor = { position: 0 };
    expect(() => readVarlongNumber(buffer, cursor)).toThrow(CorruptRecordError);
    expect(cursor.position).toBe(0);
    expect(() => writeVarlongNumber(Buffer.alloc(10), 2 ** 53, 0)).toThrow(RangeError);
  });
});
