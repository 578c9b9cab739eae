// Cross-checks against two independent Kafka clients this project did not write: kafkajs
// (its RecordBatch encoder/decoder, gzip built in, pure-JS CRC-32C) and @platformatic/kafka
// (its own batch codec, WebAssembly snappy and lz4). Bytes go both ways for every codec the
// peer supports; zstd has no peer here (Node 20's zlib lacks it).
import { createRequire } from 'node:module';
import {
  Reader,
  compressionsAlgorithms,
  createRecordsBatch,
  readRecordsBatch,
  type CompressionAlgorithmValue,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { consumerRecords, decodeBatch, encodeBatch, validateBatch } from '../../../core/records/batch.ts';
import { CompressionCodec, compress, decompress } from '../../../core/records/compression.ts';
import { readBatchHeader } from '../../../core/records/header.ts';

interface KafkajsLong {
  toString(): string;
}
interface KafkajsEncoder {
  buffer: Buffer;
}
interface KafkajsRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: { [key: string]: Buffer | Buffer[] | null };
}
interface KafkajsBatch {
  firstOffset: string;
  lastOffsetDelta: number;
  producerId: string;
  records: KafkajsRecord[];
}

// kafkajs ships CommonJS without types; these narrow views are all the test needs.
const require = createRequire(import.meta.url);
const kafkajsRoot = 'kafkajs/src/protocol';
const Long = require('kafkajs/src/utils/long') as { fromValue(value: string | number): KafkajsLong };
const { RecordBatch } = require(`${kafkajsRoot}/recordBatch/v0`) as {
  RecordBatch(options: object): Promise<KafkajsEncoder>;
};
const kafkajsRecord = require(`${kafkajsRoot}/recordBatch/record/v0`) as (record: object) => KafkajsEncoder;
const kafkajsDecodeBatch = require(`${kafkajsRoot}/recordBatch/v0/decoder`) as (decoder: unknown) => Promise<KafkajsBatch>;
const KafkajsDecoder = require(`${kafkajsRoot}/decoder`) as new (buffer: Buffer) => unknown;
const kafkajsCrc32c = require(`${kafkajsRoot}/recordBatch/crc32C`) as (buffer: Buffer) => number;

const OPTIONS = { maxMessageBytes: 1024 * 1024, decodeRecords: true };

describe('kafkajs as a peer', () => {
  for (const codec of [CompressionCodec.None, CompressionCodec.Gzip]) {
    it(`decodes a batch kafkajs encoded (codec ${codec})`, async () => {
      const records = [
        kafkajsRecord({ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('k0'), value: Buffer.from('v0'), headers: { h: Buffer.from('x') } }),
        kafkajsRecord({ offsetDelta: 1, timestampDelta: 25, key: null, value: Buffer.from('v1') }),
        kafkajsRecord({ offsetDelta: 2, timestampDelta: -5, key: Buffer.from('k2'), value: null }),
      ];
      const encoder = await RecordBatch({
        compression: codec,
        firstOffset: Long.fromValue('100'),
        firstTimestamp: 1_700_000_000_000,
        maxTimestamp: 1_700_000_000_025,
        lastOffsetDelta: 2,
        producerId: Long.fromValue('77'),
        producerEpoch: 2,
        firstSequence: 10,
        records,
      });
      const bytes = encoder.buffer;
      // kafkajs computed the CRC with its own CRC-32C, so this also checks ours against it.
      expect(validateBatch(bytes, 0, bytes.length, OPTIONS).ok).toBe(true);
      const batch = decodeBatch(bytes);
      expect(batch.header).toMatchObject({ baseOffset: 100n, producerId: 77n, producerEpoch: 2, baseSequence: 10, recordCount: 3 });
      const out = [...consumerRecords(batch)];
      expect(out.map((record) => [record.offset, record.timestamp])).toEqual([
        [100n, 1_700_000_000_000n],
        [101n, 1_700_000_000_025n],
        [102n, 1_699_999_999_995n],
      ]);
      expect(out.map((record) => [record.key?.toString() ?? null, record.value?.toString() ?? null])).toEqual([
        ['k0', 'v0'],
        [null, 'v1'],
        ['k2', null],
      ]);
      expect(out[0]?.headers.map((header) => [header.key, header.value?.toString()])).toEqual([['h', 'x']]);
    });

    it(`encodes a batch kafkajs decodes (codec ${codec})`, async () => {
      const bytes = encodeBatch({
        compression: codec,
        baseOffset: 5000n,
        producerId: 9n,
        records: [
          { key: 'a', value: 'first', timestamp: 1_600_000_000_000n, headers: [{ key: 'h1', value: 'one' }] },
          { key: null, value: 'second', timestamp: 1_600_000_000_100n },
          { key: 'c', value: null, timestamp: 1_599_999_999_000n },
        ],
      });
      expect(kafkajsCrc32c(bytes.subarray(21))).toBe(readBatchHeader(bytes).crc);
      const batch = await kafkajsDecodeBatch(new KafkajsDecoder(bytes));
      expect(batch.firstOffset).toBe('5000');
      expect(batch.lastOffsetDelta).toBe(2);
      expect(batch.producerId).toBe('9');
      expect(batch.records.map((record) => [record.offset, record.timestamp])).toEqual([
        ['5000', '1600000000000'],
        ['5001', '1600000000100'],
        ['5002', '1599999999000'],
      ]);
      expect(batch.records.map((record) => [record.key?.toString() ?? null, record.value?.toString() ?? null])).toEqual([
        ['a', 'first'],
        [null, 'second'],
        ['c', null],
      ]);
      expect(batch.records[0]?.headers['h1']?.toString()).toBe('one');
    });
  }
});

describe('@platformatic/kafka as a peer', () => {
  const codecs: Array<[CompressionCodec, CompressionAlgorithmValue]> = [
    [CompressionCodec.None, 'none'],
    [CompressionCodec.Gzip, 'gzip'],
    [CompressionCodec.Snappy, 'snappy'],
    [CompressionCodec.Lz4, 'lz4'],
  ];
  const payload = Buffer.from(`${'stream processing '.repeat(400)}end`);

  for (const [codec, name] of codecs) {
    it(`decodes a batch @platformatic/kafka encoded (${name})`, () => {
      const headers = new Map([[Buffer.from('trace'), Buffer.from('t1')]]);
      const writer = createRecordsBatch(
        [
          { topic: 't', key: Buffer.from('k'), value: payload, headers, timestamp: 2_000n },
          { topic: 't', value: Buffer.from('small'), timestamp: 2_010n },
        ],
        { compression: name, producerId: 3n, producerEpoch: 1, partitionLeaderEpoch: 0 },
      );
      const bytes = writer.buffer;
      expect(validateBatch(bytes, 0, bytes.length, OPTIONS).ok).toBe(true);
      const out = [...consumerRecords(decodeBatch(bytes))];
      expect(out.map((record) => record.timestamp)).toEqual([2_000n, 2_010n]);
      expect(out[0]?.value?.equals(payload)).toBe(true);
      expect(out[0]?.key?.toString()).toBe('k');
      expect(out[0]?.headers.map((header) => [header.key, header.value?.toString()])).toEqual([['trace', 't1']]);
      expect(out[1]?.value?.toString()).toBe('small');
    });

    // The peer reads raw snappy only, not the xerial framing we write like Java clients do,
    // so that one direction is covered by the codec-level check below instead.
    it.skipIf(codec === CompressionCodec.Snappy)(`encodes a batch @platformatic/kafka decodes (${name})`, () => {
      const bytes = encodeBatch({
        compression: codec,
        baseOffset: 12n,
        records: [
          { key: 'k', value: payload, timestamp: 3_000n, headers: [{ key: 'h', value: 'v' }] },
          { value: 'tail', timestamp: 3_001n },
        ],
      });
      const batch = readRecordsBatch(Reader.from(bytes));
      expect(batch.firstOffset).toBe(12n);
      expect(batch.crc >>> 0).toBe(readBatchHeader(bytes).crc);
      expect(batch.records.map((record) => record.offsetDelta)).toEqual([0, 1]);
      expect(batch.records[0]?.value?.equals(payload)).toBe(true);
      expect(batch.records[0]?.key?.toString()).toBe('k');
      expect(batch.records[0]?.headers.map(([key, value]) => [key?.toString(), value?.toString()])).toEqual([['h', 'v']]);
      expect(batch.records[1]?.value?.toString()).toBe('tail');
      expect(batch.records[1]?.timestampDelta).toBe(1n);
    });
  }

  it('shares the raw snappy and lz4 frame formats with the peer codecs', () => {
    // The peer writes raw snappy (no xerial framing); Java writes framed. We read both.
    expect(decompress(CompressionCodec.Snappy, compressionsAlgorithms.snappy.compressSync(payload)).equals(payload)).toBe(true);
    expect(compressionsAlgorithms.lz4.decompressSync(compress(CompressionCodec.Lz4, payload)).equals(payload)).toBe(true);
    expect(decompress(CompressionCodec.Lz4, compressionsAlgorithms.lz4.compressSync(payload)).equals(payload)).toBe(true);
  });
});
