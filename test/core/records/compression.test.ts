import { describe, expect, it } from 'vitest';
import {
  CompressionCodec,
  CorruptRecordError,
  DECOMPRESSED_BYTES_MAX_DEFAULT,
  compress,
  decompress,
} from '../../../core/records/compression.ts';

const CODECS = [
  CompressionCodec.None,
  CompressionCodec.Gzip,
  CompressionCodec.Snappy,
  CompressionCodec.Lz4,
  CompressionCodec.Zstd,
] as const;
const COMPRESSING = CODECS.filter((codec) => codec !== CompressionCodec.None);

/** Deterministic bytes that are neither all-equal nor incompressible. */
function sampleBytes(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  let state = 12345;
  for (let index = 0; index < size; index++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    buffer[index] = index % 7 === 0 ? state & 0xff : 0x61 + (index % 13);
  }
  return buffer;
}

describe('compression round trips', () => {
  const inputs = [Buffer.alloc(0), Buffer.from('x'), Buffer.from('hello, runnel'), sampleBytes(200_000)];
  for (const codec of CODECS) {
    it(`codec ${codec} restores every input`, () => {
      for (const input of inputs) {
        const compressed = compress(codec, input);
        expect(decompress(codec, compressed).equals(input)).toBe(true);
      }
    });
  }

  it('actually compresses repetitive data with every real codec', () => {
    const input = Buffer.alloc(100_000, 'abcd');
    for (const codec of COMPRESSING) expect(compress(codec, input).length).toBeLessThan(input.length / 10);
  });
});

describe('snappy xerial framing', () => {
  const header = '82534e4150505900' + '00000001' + '00000001';
  // Raw snappy of "hello": uncompressed length 5, then one literal tag ((5 - 1) << 2).
  const rawHello = '05' + '10' + Buffer.from('hello').toString('hex');

  it('writes the Java framing: magic, version 1, compatible 1, [length][block]', () => {
    const framed = compress(CompressionCodec.Snappy, Buffer.from('hello'));
    expect(framed.toString('hex')).toBe(header + '00000007' + rawHello);
  });

  it('reads a hand-built two-block xerial stream', () => {
    // Raw snappy of " world!": length 7, literal tag (6 << 2).
    const rawWorld = '07' + '18' + Buffer.from(' world!').toString('hex');
    const framed = Buffer.from(header + '00000007' + rawHello + '00000009' + rawWorld, 'hex');
    expect(decompress(CompressionCodec.Snappy, framed).toString()).toBe('hello world!');
  });

  it('reads raw snappy without framing, including a back-reference', () => {
    // "abcabcabc": length 9, literal "abc", then a copy of length 6 from offset 3 (tag 0x09).
    const raw = Buffer.from('09' + '08' + '616263' + '09' + '03', 'hex');
    expect(decompress(CompressionCodec.Snappy, raw).toString()).toBe('abcabcabc');
  });

  it('splits large input into 32 KiB blocks', () => {
    const input = sampleBytes(70_000);
    const framed = compress(CompressionCodec.Snappy, input);
    let position = 16;
    let blocks = 0;
    while (position < framed.length) {
      position += 4 + framed.readInt32BE(position);
      blocks += 1;
    }
    expect(position).toBe(framed.length);
    expect(blocks).toBe(3);
  });

  it('rejects a block length that overruns the stream', () => {
    const framed = Buffer.from(header + '00000020' + rawHello, 'hex');
    expect(() => decompress(CompressionCodec.Snappy, framed)).toThrow(CorruptRecordError);
  });

  it('rejects a block whose declared length disagrees with its content', () => {
    const framed = Buffer.from(header + '00000007' + '06' + rawHello.slice(2), 'hex');
    expect(() => decompress(CompressionCodec.Snappy, framed)).toThrow(CorruptRecordError);
  });
});

describe('lz4 frame format', () => {
  it('writes independent blocks, as Kafka Java clients require', () => {
    const frame = compress(CompressionCodec.Lz4, Buffer.from('hello'));
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    const flags = frame.readUInt8(4);
    expect(flags >> 6).toBe(1);
    expect(flags & 0x20).toBe(0x20);
  });

  it('reads a hand-built frame with one stored block', () => {
    // magic | FLG 0x60 (version 1, independent blocks) | BD 0x40 (64 KiB) | header checksum
    // 0x82 | block size 5 with the stored bit | "hello" | end mark.
    const frame = Buffer.from('04224d18' + '60' + '40' + '82' + '05000080' + '68656c6c6f' + '00000000', 'hex');
    expect(decompress(CompressionCodec.Lz4, frame).toString()).toBe('hello');
  });
});

describe('decompression failures', () => {
  it('turns garbage into CorruptRecordError for every codec', () => {
    const garbage = Buffer.from('this is not compressed data at all, not in any format');
    for (const codec of COMPRESSING) {
      expect(() => decompress(codec, garbage), `codec ${codec}`).toThrow(CorruptRecordError);
    }
  });

  it('detects truncation for every codec', () => {
    const input = sampleBytes(50_000);
    for (const codec of COMPRESSING) {
      const compressed = compress(codec, input);
      for (const cut of [1, 7, Math.floor(compressed.length / 2), compressed.length - 1]) {
        expect(() => decompress(codec, compressed.subarray(0, cut)), `codec ${codec} cut ${cut}`).toThrow(CorruptRecordError);
      }
    }
  });

  it('rejects unknown codecs', () => {
    for (const codec of [5, 6, 7, -1]) {
      expect(() => decompress(codec, Buffer.from('x'))).toThrow(CorruptRecordError);
    }
  });

  it('enforces the decompressed size limit for every codec and allows exactly the limit', () => {
    const input = Buffer.alloc(1024 * 1024);
    for (const codec of CODECS) {
      const compressed = compress(codec, input);
      expect(() => decompress(codec, compressed, 64 * 1024), `codec ${codec}`).toThrow(/limit/);
      expect(decompress(codec, compressed, input.length).length).toBe(input.length);
    }
    expect(DECOMPRESSED_BYTES_MAX_DEFAULT).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it('rejects an lz4 bomb from its block headers, before decompressing', () => {
    const compressed = compress(CompressionCodec.Lz4, Buffer.alloc(16 * 1024 * 1024));
    expect(() => decompress(CompressionCodec.Lz4, compressed, 1024 * 1024)).toThrow(/up to \d+ bytes/);
  });

  it('survives random corruption of compressed data with CorruptRecordError or a result', () => {
    let state = 987654321;
    const random = (bound: number): number => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state % bound;
    };
    for (const codec of COMPRESSING) {
      const compressed = compress(codec, sampleBytes(3000));
      let rejected = 0;
      for (let round = 0; round < 300; round++) {
        const mutated = Buffer.from(compressed);
        for (let flips = 1 + random(3); flips > 0; flips--) mutated[random(mutated.length)] = random(256);
        try {
          decompress(codec, mutated, 64 * 1024);
        } catch (error) {
          expect(error, `codec ${codec} round ${round}`).toBeInstanceOf(CorruptRecordError);
          rejected += 1;
        }
      }
      expect(rejected, `codec ${codec}`).toBeGreaterThan(0);
    }
  });
});
