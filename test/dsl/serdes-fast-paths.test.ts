// The serdes code short ASCII strings and fixed-width numbers by hand; their bytes must be the
// ones Buffer, DataView and BigInt produce, so other Kafka clients read the same values.
import { describe, expect, it } from 'vitest';
import { Serdes, windowedSerde } from '../../dsl/index.ts';
import { changeSerde, valueAndTimestampSerde } from '../../core/serdes/composite.ts';
import { decodeUtf8, encodeUtf8, encodeUtf8Padded, isFixedWidth } from '../../core/serdes/serde.ts';
import { readInt64Number, writeInt64Number } from '../../core/serdes/numbers.ts';

const samples = ['', 'a', 'key-17', 'x'.repeat(32), 'y'.repeat(33), 'héllo', 'naïve key', '日本語', 'emoji 😀', 'a'.repeat(31) + 'é', 'z'.repeat(200)];

describe('string coding by hand', () => {
  it('encodes exactly as Buffer does, short or long, ASCII or not', () => {
    for (const text of samples) expect(Buffer.from(encodeUtf8(text)).equals(Buffer.from(text, 'utf8'))).toBe(true);
    for (const text of samples) expect(Serdes.string().deserialize(Serdes.string().serialize(text, 't'), 't')).toBe(text);
  });

  it('pads in the same allocation, for window keys', () => {
    for (const text of samples) {
      const padded = encodeUtf8Padded(text, 12);
      const encoded = Buffer.from(text, 'utf8');
      expect(padded.byteLength).toBe(encoded.byteLength + 12);
      expect(Buffer.from(padded.subarray(0, encoded.byteLength)).equals(encoded)).toBe(true);
      expect([...padded.subarray(encoded.byteLength)]).toEqual(new Array(12).fill(0));
    }
  });

  it('decodes ranges of larger buffers and rejects invalid UTF-8 inside and outside the ASCII fast path', () => {
    const buffer = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('key-9'), Buffer.from('é'), Buffer.from([0x80])]);
    expect(decodeUtf8(buffer, 2, 7)).toBe('key-9');
    expect(decodeUtf8(buffer, 2, 9)).toBe('key-9é');
    expect(() => decodeUtf8(buffer, 0, 7)).toThrow(TypeError);
    expect(() => decodeUtf8(buffer, 7, 10)).toThrow(TypeError);
    expect(() => decodeUtf8(Buffer.concat([Buffer.from('a'.repeat(40)), Buffer.from([0xc3])]), 0, 41)).toThrow(TypeError);
  });

  it('tells a U+FFFD that was written (valid) from one the decoder made of invalid bytes in long strings', () => {
    const long = `${'x'.repeat(40)}\uFFFD-é-${'y'.repeat(40)}`;
    const encoded = Buffer.from(long, 'utf8');
    expect(decodeUtf8(encoded, 0, encoded.byteLength)).toBe(long);
    expect(decodeUtf8(Buffer.from(`${'ü'.repeat(30)}ok`), 0, 62)).toBe(`${'ü'.repeat(30)}ok`);
    for (const invalid of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const bytes = Buffer.concat([Buffer.from('z'.repeat(40)), Buffer.from(invalid), Buffer.from('z'.repeat(10))]);
      expect(() => decodeUtf8(bytes, 0, bytes.byteLength)).toThrow(TypeError);
    }
  });
});

describe('numbers without DataView or BigInt', () => {
  it('8-byte numbers match BigInt64 big-endian for every safe integer edge', () => {
    const values = [0, 1, -1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), 1_700_000_000_000, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    for (const value of values) {
      const bytes = new Uint8Array(8);
      writeInt64Number(bytes, 0, value);
      const reference = new Uint8Array(8);
      new DataView(reference.buffer).setBigInt64(0, BigInt(value));
      expect([...bytes]).toEqual([...reference]);
      expect(readInt64Number(bytes, 0)).toBe(value);
    }
    expect(() => writeInt64Number(new Uint8Array(8), 0, 1.5)).toThrow(TypeError);
  });

  it('int32 and float64 keep their Java layouts and reject wrong lengths', () => {
    for (const value of [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 258]) {
      const reference = new Uint8Array(4);
      new DataView(reference.buffer).setInt32(0, value);
      expect([...Serdes.int32().serialize(value, 't')]).toEqual([...reference]);
      expect(Serdes.int32().deserialize(reference, 't')).toBe(value);
    }
    for (const value of [0, -0.5, Math.PI, Number.MAX_VALUE, -Infinity]) {
      const reference = new Uint8Array(8);
      new DataView(reference.buffer).setFloat64(0, value);
      expect([...Serdes.float64().serialize(value, 't')]).toEqual([...reference]);
      expect(Serdes.float64().deserialize(reference, 't')).toBe(value);
    }
    expect(() => Serdes.float64().deserialize(new Uint8Array(7), 't')).toThrow(/float64 expects 8 bytes/);
  });

  it('timestamped fixed-width values are one buffer with the layout of the general path', () => {
    expect(isFixedWidth(Serdes.long())).toBe(true);
    expect(isFixedWidth(Serdes.string())).toBe(false);
    const fixed = valueAndTimestampSerde(Serdes.long());
    const bytes = fixed.serialize({ value: -7, timestamp: 1_700_000_000_123 }, 't');
    expect(bytes.byteLength).toBe(16);
    const reference = new Uint8Array(16);
    new DataView(reference.buffer).setBigInt64(0, 1_700_000_000_123n);
    new DataView(reference.buffer).setBigInt64(8, -7n);
    expect([...bytes]).toEqual([...reference]);
    expect(fixed.deserialize(bytes, 't')).toEqual({ value: -7, timestamp: 1_700_000_000_123 });
    expect(() => fixed.deserialize(bytes.subarray(0, 12), 't')).toThrow(/long expects 8 bytes, got 4/);
    const general = valueAndTimestampSerde(Serdes.string());
    expect(general.deserialize(general.serialize({ value: 'v', timestamp: 5 }, 't'), 't')).toEqual({ value: 'v', timestamp: 5 });
  });

  it('windowed keys and changes round-trip with large times', () => {
    const windowed = windowedSerde(Serdes.string());
    const key = { key: 'page', window: { startMs: 1_700_000_000_000, endMs: 1_700_000_060_000 } };
    const bytes = windowed.serialize(key, 't');
    expect(new DataView(bytes.buffer, bytes.byteOffset).getBigInt64(4)).toBe(1_700_000_000_000n);
    expect(windowed.deserialize(bytes, 't')).toEqual(key);
    const change = changeSerde(Serdes.long());
    expect(change.deserialize(change.serialize({ newValue: 3, oldValue: null }, 't'), 't')).toEqual({ newValue: 3, oldValue: null });
  });
});
