import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DeserializationError, Serdes, decodeUtf8, serde } from '../../../core/serdes/serde.ts';
import { changeSerde, valueAndTimestampSerde, windowedSerde } from '../../../core/serdes/composite.ts';

describe('serdes', () => {
  it('numbers use big-endian layouts Java clients read', () => {
    expect([...Serdes.int32().serialize(258, 't')]).toEqual([0, 0, 1, 2]);
    expect([...Serdes.long().serialize(1, 't')]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(Serdes.int64().deserialize(Serdes.int64().serialize(-5n, 't'), 't')).toBe(-5n);
    expect(Serdes.float64().deserialize(Serdes.float64().serialize(1.5, 't'), 't')).toBe(1.5);
    expect(() => Serdes.int32().deserialize(new Uint8Array(3), 't')).toThrow(DeserializationError);
  });

  it('strings must be valid UTF-8 and JSON must parse', () => {
    expect(Serdes.string().deserialize(Serdes.string().serialize('héllo', 't'), 't')).toBe('héllo');
    expect(() => Serdes.string().deserialize(new Uint8Array([0xff, 0xfe]), 't')).toThrow(DeserializationError);
    expect(() => Serdes.json().deserialize(Serdes.string().serialize('{nope', 't'), 't')).toThrow(/not valid JSON/);
  });

  it('deserializeAt reads a field inside a larger array as deserialize reads it alone', () => {
    const around = (bytes: Uint8Array): Uint8Array => Uint8Array.from([0xff, 0xff, ...bytes, 0xff]);
    const strings = Serdes.string();
    for (const text of ['', 'key-42', 'héllo', 'x'.repeat(100), 'ü'.repeat(40)]) {
      expect(strings.deserializeAt?.(around(strings.serialize(text, 't')), 2, strings.serialize(text, 't').length, 't')).toBe(text);
    }
    // The bytes around the field are invalid UTF-8: only the field is read, and a bad field is refused.
    expect(() => strings.deserializeAt?.(around(Uint8Array.from([0x61, 0xc3])), 2, 2, 't')).toThrow(DeserializationError);
    expect(Serdes.json().deserializeAt?.(around(strings.serialize('{"a":[1]}', 't')), 2, 9, 't')).toEqual({ a: [1] });
    expect(() => Serdes.json().deserializeAt?.(around(strings.serialize('{no', 't')), 2, 3, 't')).toThrow(/not valid JSON/);
    expect(Serdes.long().deserializeAt?.(around(Serdes.long().serialize(-7, 't')), 2, 8, 't')).toBe(-7);
    expect(() => Serdes.long().deserializeAt?.(around(Serdes.long().serialize(-7, 't')), 2, 7, 't')).toThrow(DeserializationError);
    expect(Serdes.int32().deserializeAt?.(around(Serdes.int32().serialize(258, 't')), 2, 4, 't')).toBe(258);
  });

  it('decodes short ASCII strings of every length, and non-ASCII ones of those lengths, at any offset', () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    for (let length = 0; length <= 34; length++) {
      const text = alphabet.slice(0, length);
      const bytes = Uint8Array.from([0xc3, ...Buffer.from(text), 0xc3]);
      expect(decodeUtf8(bytes, 1, 1 + length)).toBe(text);
      if (length >= 2) {
        const accented = `${text.slice(0, length - 2)}é`;
        expect(decodeUtf8(Uint8Array.from(Buffer.from(accented)), 0, length)).toBe(accented);
      }
    }
  });

  it('zod serdes validate both ways', () => {
    const point = serde(z.object({ x: z.number(), y: z.number().default(0) }));
    expect(point.deserialize(Serdes.string().serialize('{"x":1}', 't'), 't')).toEqual({ x: 1, y: 0 });
    expect(() => point.deserialize(Serdes.string().serialize('{"x":"1"}', 't'), 't')).toThrow(DeserializationError);
    expect(() => point.serialize({ x: Number.NaN, y: 0 }, 't')).toThrow(TypeError);
  });

  it('composite serdes round-trip windowed keys, timestamped values and changes', () => {
    const windowed = windowedSerde(Serdes.string());
    expect(windowed.deserialize(windowed.serialize({ key: 'k', window: { startMs: 5, endMs: 15 } }, 't'), 't')).toEqual({ key: 'k', window: { startMs: 5, endMs: 15 } });
    const timestamped = valueAndTimestampSerde(Serdes.int32());
    expect(timestamped.deserialize(timestamped.serialize({ value: 7, timestamp: 99 }, 't'), 't')).toEqual({ value: 7, timestamp: 99 });
    const change = changeSerde(Serdes.string());
    for (const value of [{ newValue: 'a', oldValue: 'bb' }, { newValue: null, oldValue: 'x' }, { newValue: '', oldValue: null }]) {
      expect(change.deserialize(change.serialize(value, 't'), 't')).toEqual(value);
    }
  });
});

describe('long serde', () => {
  it('matches the 8-byte two-complement layout for negative and large values', () => {
    for (const value of [0, 1, -1, 2 ** 32, -(2 ** 32) - 5, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      const bytes = Serdes.long().serialize(value, 't');
      expect(Serdes.int64().deserialize(bytes, 't')).toBe(BigInt(value));
      expect(Serdes.long().deserialize(bytes, 't')).toBe(value);
    }
    expect(() => Serdes.long().serialize(1.5, 't')).toThrow(TypeError);
  });
});
