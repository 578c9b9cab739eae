import { describe, expect, it } from 'vitest';
import {
  CorruptRecordError,
  consumerRecords,
  decodeBatch,
  encodeBatch,
  encodeControlBatch,
  iterateBatches,
  readControlRecord,
  type RecordInput,
} from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_OFFSETS,
  computeBatchCrc,
  readBatchHeader,
  setLogAppendTime,
} from '../../../core/records/header.ts';

const CODECS = Object.values(CompressionCodec);

describe('CRC-32C', () => {
  it('matches the standard check value over the CRC-covered range', () => {
    // computeBatchCrc covers from the attributes field to the end of the batch.
    const buffer = Buffer.concat([Buffer.alloc(BATCH_OFFSETS.attributes), Buffer.from('123456789')]);
    expect(computeBatchCrc(buffer, 0, buffer.length)).toBe(0xe3069283);
  });
});

describe('encodeBatch / decodeBatch', () => {
  const records: RecordInput[] = [
    { key: 'k1', value: 'v1', timestamp: 1_700_000_000_000n },
    { key: null, value: null, timestamp: 1_700_000_000_005n },
    { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: 1_699_999_999_990n },
    {
      value: 'with headers',
      timestamp: 1_700_000_000_001,
      headers: [
        { key: 'trace', value: 'abc' },
        { key: 'empty', value: Buffer.alloc(0) },
        { key: 'none', value: null },
        { key: 'trace', value: 'duplicate keys are kept in order' },
        { key: 'ünïcødé ключ', value: Buffer.from([0, 255, 1]) },
      ],
    },
  ];

  for (const codec of CODECS) {
    it(`round-trips keys, values, nulls, empties and headers with codec ${codec}`, () => {
      const batch = encodeBatch({ records, compression: codec, baseOffset: 42n, partitionLeaderEpoch: 7 });
      const decoded = decodeBatch(batch);
      expect(decoded.size).toBe(batch.length);
      expect(decoded.header).toMatchObject({
        baseOffset: 42n,
        batchLength: batch.length - 12,
        partitionLeaderEpoch: 7,
        magic: 2,
        attributes: codec,
        lastOffsetDelta: 3,
        baseTimestamp: 1_700_000_000_000n,
        maxTimestamp: 1_700_000_000_005n,
        producerId: -1n,
        producerEpoch: -1,
        baseSequence: -1,
        recordCount: 4,
      });
      const out = [...consumerRecords(decoded)];
      expect(out.map((record) => record.offset)).toEqual([42n, 43n, 44n, 45n]);
      expect(out.map((record) => record.timestamp)).toEqual([
        1_700_000_000_000n, 1_700_000_000_005n, 1_699_999_999_990n, 1_700_000_000_001n,
      ]);
      expect(out[0]?.key?.toString()).toBe('k1');
      expect(out[0]?.value?.toString()).toBe('v1');
      expect(out[1]?.key).toBeNull();
      expect(out[1]?.value).toBeNull();
      expect(out[2]?.key?.length).toBe(0);
      expect(out[2]?.value?.length).toBe(0);
      expect(out[3]?.key).toBeNull();
      expect(out[3]?.headers.map((header) => [header.key, header.value?.toString('hex') ?? null])).toEqual([
        ['trace', Buffer.from('abc').toString('hex')],
        ['empty', ''],
        ['none', null],
        ['trace', Buffer.from('duplicate keys are kept in order').toString('hex')],
        ['ünïcødé ключ', '00ff01'],
      ]);
    });
  }

  it('round-trips many records with every codec', () => {
    const many: RecordInput[] = Array.from({ length: 5000 }, (_, index) => ({
      key: `key-${index % 97}`,
      value: `value-${index}-${'x'.repeat(index % 50)}`,
      timestamp: 1_000_000n + BigInt(index * 3),
    }));
    for (const codec of CODECS) {
      const decoded = decodeBatch(encodeBatch({ records: many, compression: codec }));
      expect(decoded.records).toHaveLength(5000);
      expect(decoded.header.lastOffsetDelta).toBe(4999);
      const last = [...consumerRecords(decoded)].at(-1);
      expect(last?.offset).toBe(4999n);
      expect(last?.timestamp).toBe(1_000_000n + 4999n * 3n);
      expect(last?.value?.toString()).toBe(`value-4999-${'x'.repeat(4999 % 50)}`);
      expect(decoded.records.every((record, index) => record.offsetDelta === index)).toBe(true);
    }
  });

  it('writes producer fields, the transactional flag and a baseTimestamp default', () => {
    const batch = encodeBatch({
      records: [{ value: 'a' }, { value: 'b' }],
      baseTimestamp: 5000,
      producerId: 1234567890123n,
      producerEpoch: 3,
      baseSequence: 17,
      transactional: true,
    });
    const header = readBatchHeader(batch);
    expect(header).toMatchObject({ producerId: 1234567890123n, producerEpoch: 3, baseSequence: 17 });
    expect(header.attributes & ATTRIBUTE_TRANSACTIONAL).toBe(ATTRIBUTE_TRANSACTIONAL);
    expect(header.attributes & ATTRIBUTE_CONTROL).toBe(0);
    expect([...consumerRecords(decodeBatch(batch))].map((record) => record.timestamp)).toEqual([5000n, 5000n]);
  });

  it('gives every record the maxTimestamp under LogAppendTime', () => {
    const batch = encodeBatch({
      records: [{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 30 }],
      timestampType: 'logAppend',
    });
    expect(readBatchHeader(batch).attributes & ATTRIBUTE_LOG_APPEND_TIME).toBe(ATTRIBUTE_LOG_APPEND_TIME);
    expect([...consumerRecords(decodeBatch(batch))].map((record) => record.timestamp)).toEqual([30n, 30n]);
  });

  it('stamps LogAppendTime in place with a valid CRC, as the broker does on append', () => {
    const log = Buffer.concat([Buffer.alloc(5), encodeBatch({ records: [{ value: 'a', timestamp: 10 }, { value: 'b', timestamp: 20 }] })]);
    setLogAppendTime(log, 5, log.length - 5, 99_999n);
    const decoded = decodeBatch(log, 5);
    expect(decoded.header.maxTimestamp).toBe(99_999n);
    expect([...consumerRecords(decoded)].map((record) => record.timestamp)).toEqual([99_999n, 99_999n]);
  });

  it('computes maxTimestamp from negative timestamps too', () => {
    const batch = encodeBatch({ records: [{ value: 'a', timestamp: -50 }, { value: 'b', timestamp: -20 }] });
    expect(readBatchHeader(batch)).toMatchObject({ baseTimestamp: -50n, maxTimestamp: -20n });
  });

  it('refuses an empty batch as a programmer error', () => {
    expect(() => encodeBatch({ records: [] })).toThrow(RangeError);
  });

  it('decodes a batch at a position inside a larger buffer', () => {
    const first = encodeBatch({ records: [{ value: 'first' }] });
    const second = encodeBatch({ records: [{ value: 'second' }], baseOffset: 1n });
    const decoded = decodeBatch(Buffer.concat([first, second]), first.length);
    expect(decoded.records[0]?.value?.toString()).toBe('second');
    expect(decoded.header.baseOffset).toBe(1n);
  });

  it('throws CorruptRecordError for a bad CRC unless told not to check it', () => {
    const batch = encodeBatch({ records: [{ value: 'abc' }] });
    batch.writeUInt8((batch.at(-2) ?? 0) ^ 0x01, batch.length - 2);
    expect(() => decodeBatch(batch)).toThrow(CorruptRecordError);
    // Flipping a byte of the value leaves the structure intact.
    expect(decodeBatch(batch, 0, { verifyCrc: false }).records).toHaveLength(1);
  });

  it('throws CorruptRecordError for every truncation, never another error', () => {
    const batch = encodeBatch({ records: [{ key: 'k', value: 'v', headers: [{ key: 'h', value: 'x' }] }, { value: 'w' }] });
    for (let length = 0; length < batch.length; length++) {
      expect(() => decodeBatch(batch.subarray(0, length))).toThrow(CorruptRecordError);
    }
  });

  it('throws CorruptRecordError, never another error, when record bytes are mangled', () => {
    const batch = encodeBatch({ records: [{ key: 'key', value: 'value', headers: [{ key: 'h', value: 'x' }] }, { value: 'w' }] });
    let rejected = 0;
    for (let index = BATCH_OFFSETS.records; index < batch.length; index++) {
      for (const replacement of [0x00, 0x7f, 0x80, 0xff]) {
        const mangled = Buffer.from(batch);
        if (mangled[index] === replacement) continue;
        mangled[index] = replacement;
        try {
          decodeBatch(mangled, 0, { verifyCrc: false });
        } catch (error) {
          expect(error).toBeInstanceOf(CorruptRecordError);
          rejected += 1;
        }
      }
    }
    // Most single-byte changes break a length somewhere; the rest only alter content.
    expect(rejected).toBeGreaterThan(20);
  });
});

describe('iterateBatches', () => {
  const batches = [
    encodeBatch({ records: [{ value: 'a' }], baseOffset: 0n }),
    encodeBatch({ records: [{ value: 'b' }, { value: 'c' }], baseOffset: 1n, compression: CompressionCodec.Gzip }),
    encodeBatch({ records: [{ value: 'd' }], baseOffset: 3n }),
  ];
  const log = Buffer.concat(batches);

  it('yields every complete batch with its position, size and header', () => {
    const iterator = iterateBatches(log);
    const found: Array<[number, number, bigint]> = [];
    let step = iterator.next();
    while (step.done !== true) {
      found.push([step.value.position, step.value.size, step.value.header.baseOffset]);
      step = iterator.next();
    }
    const sizes = batches.map((batch) => batch.length);
    expect(found).toEqual([
      [0, sizes[0], 0n],
      [sizes[0], sizes[1], 1n],
      [(sizes[0] ?? 0) + (sizes[1] ?? 0), sizes[2], 3n],
    ]);
    expect(step.value).toEqual({ position: log.length, reason: 'end' });
  });

  it('stops before a partial tail at every cut point', () => {
    const lastStart = log.length - (batches[2]?.length ?? 0);
    for (let cut = lastStart; cut < log.length; cut++) {
      const positions = [...iterateBatches(log.subarray(0, cut))].map((location) => location.position);
      expect(positions).toHaveLength(2);
    }
  });

  it('reports a partial tail and an impossible length through its return value', () => {
    const partial = iterateBatches(log.subarray(0, log.length - 1));
    let step = partial.next();
    while (step.done !== true) step = partial.next();
    expect(step.value.reason).toBe('partial');
    const bogus = Buffer.from(log);
    bogus.writeInt32BE(10, (batches[0]?.length ?? 0) + BATCH_OFFSETS.batchLength);
    const invalid = iterateBatches(bogus);
    expect(invalid.next().done).toBe(false);
    const end = invalid.next();
    expect(end).toEqual({ done: true, value: { position: batches[0]?.length, reason: 'invalidLength' } });
  });
});

describe('control batches', () => {
  for (const type of ['commit', 'abort'] as const) {
    it(`encodes and reads back a ${type} marker`, () => {
      const batch = encodeControlBatch({
        type,
        producerId: 99n,
        producerEpoch: 4,
        coordinatorEpoch: 12,
        timestamp: 1_700_000_000_000n,
        baseOffset: 500n,
      });
      const decoded = decodeBatch(batch);
      expect(decoded.header.attributes & ATTRIBUTE_CONTROL).toBe(ATTRIBUTE_CONTROL);
      expect(decoded.header.attributes & ATTRIBUTE_TRANSACTIONAL).toBe(ATTRIBUTE_TRANSACTIONAL);
      expect(decoded.header).toMatchObject({ baseOffset: 500n, producerId: 99n, producerEpoch: 4, recordCount: 1, lastOffsetDelta: 0 });
      const record = decoded.records[0];
      if (record === undefined) throw new Error('control batch has no record');
      // The key bytes are fixed by the format: version 0, type 0 (abort) or 1 (commit).
      expect(record.key?.toString('hex')).toBe(type === 'commit' ? '00000001' : '00000000');
      expect(record.value?.toString('hex')).toBe('00000000000c');
      expect(readControlRecord(record)).toEqual({ type, version: 0, coordinatorEpoch: 12 });
    });
  }

  it('passes unknown control types through and rejects malformed ones', () => {
    const base = { attributes: 0, timestampDelta: 0, offsetDelta: 0, headers: [] };
    expect(readControlRecord({ ...base, key: Buffer.from('00000003', 'hex'), value: null })).toEqual({ type: 'unknown', typeCode: 3 });
    expect(() => readControlRecord({ ...base, key: Buffer.from('0000', 'hex'), value: null })).toThrow(CorruptRecordError);
    expect(() => readControlRecord({ ...base, key: Buffer.from('00000001', 'hex'), value: Buffer.from('0000', 'hex') })).toThrow(CorruptRecordError);
  });
});
