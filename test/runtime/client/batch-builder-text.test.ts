// The batch builder's string records (the streams runtime's output: a string key and value, no
// headers), which take a short-ASCII path, a general text path or the exact path, are the bytes
// core/records' own encoder writes for them, batch for batch: random ASCII, two- and three-byte
// characters, surrogate pairs and lone surrogates (U+FFFD, as Buffer writes them), null keys and
// values, long fields, timestamp deltas of every varint size, and batches split where a record
// does not fit.
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { BATCH_HEADER_BYTES } from '../../../core/records/header.ts';
import { BatchBuilder, recordBytes } from '../../../runtime/client/batch-builder.ts';

/** A small deterministic generator (mulberry32), so a failure repeats. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Text = string | null;
interface Input { key: Text; value: Text; timestamp: number }

function randomText(random: () => number, ascii: boolean): Text {
  if (random() < 0.05) return null;
  const lengths = [0, 1, 8, 12, 62, 63, 64, 65, 200, 8_200];
  const length = random() < 0.85 ? Math.floor(random() * 40) : (lengths[Math.floor(random() * lengths.length)] as number);
  let text = '';
  for (let index = 0; index < length; index++) {
    const pick = random();
    if (ascii || pick < 0.97) text += String.fromCharCode(Math.floor(random() * 0x80));
    else if (pick < 0.98) text += String.fromCharCode(0x80 + Math.floor(random() * 0x80));
    else if (pick < 0.99) text += 'é€😀'[Math.floor(random() * 3)];
    else text += String.fromCharCode(0xd800 + Math.floor(random() * 0x800));
  }
  return text;
}

function randomInputs(seed: number, count: number, ascii: boolean): Input[] {
  const random = generator(seed);
  const base = 1_700_000_000_000;
  const inputs: Input[] = [];
  for (let index = 0; index < count; index++) {
    const pick = random();
    const timestamp = pick < 0.5 ? base : pick < 0.8 ? base + Math.floor(random() * 140) - 70 : pick < 0.95 ? base + Math.floor(random() * 100_000) - 50_000 : base + Math.floor(random() * 2 ** 42) - 2 ** 41;
    inputs.push({ key: randomText(random, ascii), value: randomText(random, ascii), timestamp });
  }
  return inputs;
}

/**
 * Appends the inputs as the producer does (a record that does not fit seals the batch and opens
 * the next, large enough for it) and checks each sealed batch against encodeBatch of its records,
 * and each split against the record's exact size.
 */
function checkBatches(inputs: readonly Input[], capacity: number): number {
  let builder = new BatchBuilder(capacity);
  let records: Input[] = [];
  let batches = 0;
  const seal = (): void => {
    const built = builder.seal(CompressionCodec.None, false);
    const expected = encodeBatch({ records: records.map((input) => ({ key: input.key, value: input.value, timestamp: input.timestamp })) });
    expect(built.equals(expected)).toBe(true);
    batches += 1;
  };
  for (const input of inputs) {
    const sizeBefore = builder.size;
    if (builder.tryAppend(input.key, input.value, null, input.timestamp)) {
      records.push(input);
      continue;
    }
    // Refused only when the record's exact size does not fit.
    expect(sizeBefore + recordBytes(input.key, input.value, null, input.timestamp - builder.baseTimestamp, builder.recordCount)).toBeGreaterThan(builder.capacity);
    expect(builder.size).toBe(sizeBefore);
    if (builder.recordCount > 0) seal();
    builder = new BatchBuilder(Math.max(capacity, BATCH_HEADER_BYTES + recordBytes(input.key, input.value, null, 0, 0)));
    records = [input];
    expect(builder.tryAppend(input.key, input.value, null, input.timestamp)).toBe(true);
  }
  seal();
  return batches;
}

describe('BatchBuilder string records', () => {
  for (const [seed, ascii] of [[1, true], [2, true], [3, false], [4, false]] as const) {
    for (const capacity of [120, 2_000, 64 * 1024]) {
      it(`are encodeBatch's bytes (seed ${seed}, ${ascii ? 'ASCII' : 'mixed'} text, batches of ${capacity} bytes)`, () => {
        const inputs = randomInputs(seed, 12_000, ascii);
        const batches = checkBatches(inputs, capacity);
        expect(batches).toBeGreaterThan(capacity === 64 * 1024 ? 1 : 20);
      });
    }
  }

  it('take the short path up to its limits and leave it past them, with the same bytes', () => {
    // Keys and values of 63 and 64 characters, timestamp deltas at each edge of a varint's one,
    // two and three bytes and of the short path's ±2^20, and more than 8,192 records in one batch
    // (the offset delta's varint grows to three bytes).
    const DELTAS = [0, -64, 63, 64, -65, 8_191, -8_192, 8_192, -8_193, 0xfffff, -0x100000, 0x100000, -0x100001, 7];
    const inputs: Input[] = [];
    const base = 1_700_000_000_000;
    for (let index = 0; index < 9_000; index++) {
      const size = [0, 1, 31, 32, 63, 64][index % 6] as number;
      inputs.push({ key: 'k'.repeat(size), value: 'v'.repeat(63 - (index % 3)), timestamp: base + DELTAS[index % DELTAS.length]! });
    }
    inputs.push({ key: 'caf\u00e9', value: 'ok', timestamp: base }, { key: 'ok', value: '\ud83d\ude00\udc00', timestamp: base });
    expect(checkBatches(inputs, 2 * 1024 * 1024)).toBe(1);
  });

  it('mix with byte and header records in one batch, compressed and transactional too', () => {
    const appendAll = (builder: BatchBuilder): void => {
      expect(builder.tryAppend('a', 'b', null, 7)).toBe(true);
      expect(builder.tryAppend(Buffer.from('k'), 'v', null, 7)).toBe(true);
      expect(builder.tryAppend('h', 'v', [{ key: 'h', value: '\u00e9' }, { key: 'n', value: null }], 8)).toBe(true);
      expect(builder.tryAppend('x'.repeat(100), null, null, 9)).toBe(true);
      expect(builder.tryAppend('\u00e9t\u00e9', 'last', null, 6)).toBe(true);
    };
    const records = [
      { key: 'a', value: 'b', timestamp: 7 }, { key: Buffer.from('k'), value: 'v', timestamp: 7 },
      { key: 'h', value: 'v', timestamp: 8, headers: [{ key: 'h', value: '\u00e9' }, { key: 'n', value: null }] },
      { key: 'x'.repeat(100), value: null, timestamp: 9 }, { key: '\u00e9t\u00e9', value: 'last', timestamp: 6 },
    ];
    for (const codec of [CompressionCodec.None, CompressionCodec.Gzip]) {
      const builder = new BatchBuilder(4_096);
      appendAll(builder);
      expect(builder.seal(codec, true).equals(encodeBatch({ records, compression: codec, transactional: true }))).toBe(true);
    }
  });
});
