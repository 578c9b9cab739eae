// BatchText answers whether a range of a batch is ASCII from a table of 4-byte words plus the
// bytes at either end: every range of random bytes, at every alignment of the batch in its
// buffer, must get the range's Latin-1 string exactly when all its bytes are below 0x80.
import { describe, expect, it } from 'vitest';
import { BatchText } from '../../../core/serdes/batch-text.ts';

/** A seeded generator, so a failure can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** `length` bytes at `misalignment` into a larger buffer, a byte above 0x7f with the given chance. */
function bytesAt(length: number, misalignment: number, highChance: number, next: () => number): Uint8Array {
  const buffer = new Uint8Array(length + misalignment + 8);
  for (let index = 0; index < buffer.length; index++) buffer[index] = next() < highChance ? 0x80 + Math.floor(next() * 0x80) : Math.floor(next() * 0x80);
  return buffer.subarray(misalignment, misalignment + length);
}

function expected(bytes: Uint8Array, start: number, end: number): string | null {
  for (let index = start; index < end; index++) if ((bytes[index] as number) > 0x7f) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

describe('BatchText', () => {
  it('gives the string of exactly the ASCII ranges, every range of short batches at every alignment', () => {
    const next = random(7);
    for (let misalignment = 0; misalignment < 4; misalignment++) {
      for (const highChance of [0, 0.02, 0.1, 0.5]) {
        const bytes = bytesAt(41, misalignment, highChance, next);
        const text = new BatchText(bytes);
        for (let start = 0; start <= bytes.length; start++) {
          for (let end = start; end <= bytes.length; end++) expect(text.ascii(start, end), `${misalignment} ${highChance} [${start}, ${end})`).toBe(expected(bytes, start, end));
        }
      }
    }
  });

  it('finds a single high byte anywhere in a long field, and none outside it', () => {
    for (let misalignment = 0; misalignment < 4; misalignment++) {
      const bytes = bytesAt(300, misalignment, 0, random(misalignment));
      for (let high = 0; high < bytes.length; high++) {
        const copy = new Uint8Array(bytes.length + misalignment).subarray(misalignment);
        copy.set(bytes);
        copy[high] = 0xc3;
        const text = new BatchText(copy);
        expect(text.ascii(100, 200)).toBe(high >= 100 && high < 200 ? null : expected(copy, 100, 200));
      }
    }
  });

  it('agrees on random ranges of a batch of records with varint headers between ASCII and UTF-8 fields', () => {
    const next = random(11);
    const fields: [number, number][] = [];
    const parts: number[] = [];
    for (let record = 0; record < 500; record++) {
      // A header with bytes above 0x7f, as varints of lengths and deltas have.
      parts.push(0xdc, 0x01, 0x00, 0x90, 0x83, 0x01);
      const utf8 = next() < 0.2 ? Buffer.from(`é${'x'.repeat(Math.floor(next() * 40))}😀`) : Buffer.from('v'.repeat(Math.floor(next() * 120)));
      fields.push([parts.length, parts.length + utf8.length]);
      parts.push(...utf8);
    }
    const bytes = Uint8Array.from(parts);
    const text = new BatchText(bytes);
    for (const [start, end] of fields) {
      const ascii = text.ascii(start, end);
      expect(ascii).toBe(expected(bytes, start, end));
      if (ascii !== null) expect(ascii).toBe(Buffer.from(bytes.subarray(start, end)).toString('utf8'));
    }
  });
});
