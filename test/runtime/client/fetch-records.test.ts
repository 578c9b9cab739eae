// Turning fetched bytes into consumer records: partial tails, earlier records of a compressed
// batch, control batches and aborted transactions.
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeControlBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { BATCH_OFFSETS, rewriteBatchCrc } from '../../../core/records/header.ts';
import { CorruptRecordError } from '../../../core/records/errors.ts';
import { recordsFromFetch, scanFetch, type RecordPlace } from '../../../runtime/client/fetch-records.ts';

function batch(baseOffset: bigint, values: string[], extra: { producerId?: bigint; transactional?: boolean } = {}): Buffer {
  return encodeBatch({ baseOffset, records: values.map((value) => ({ value, key: null })), compression: CompressionCodec.Gzip, baseTimestamp: 1000, ...extra });
}

const values = (result: ReturnType<typeof recordsFromFetch>): string[] => result.records.map((record) => record.value?.toString() ?? 'null');

describe('recordsFromFetch', () => {
  it('skips records before the fetch offset and ignores a partial last batch', () => {
    const whole = Buffer.concat([batch(0n, ['a', 'b', 'c']), batch(3n, ['d'])]);
    const cut = Buffer.concat([whole, batch(4n, ['e']).subarray(0, 30)]);
    const result = recordsFromFetch('t', 0, 1n, cut, null);
    expect(values(result)).toEqual(['b', 'c', 'd']);
    expect(result.records.map((record) => record.offset)).toEqual([1n, 2n, 3n]);
    expect(result.nextOffset).toBe(4n);
  });

  it('locate tells where the key and value lie, with the checks and fields of a made record', () => {
    const data = Buffer.concat([
      encodeBatch({ baseOffset: 0n, records: [{ key: 'k1', value: 'value-1', headers: [{ key: 'h', value: Buffer.from('x') }] }, { key: null, value: null }], compression: CompressionCodec.None, baseTimestamp: 1000 }),
      batch(2n, ['zipped']),
    ]);
    const { records } = scanFetch('t', 3, 0n, data, null);
    const place: RecordPlace = { bytes: new Uint8Array(0), keyStart: 0, keyLength: -1, valueStart: 0, valueLength: -1, timestamp: -1, baseOffset: -1n, offsetDelta: 0 };
    const made = Array.from({ length: records.count }, (_, index) => {
      const headers = records.locate(index, place);
      const { bytes, keyStart, keyLength, valueStart, valueLength } = place;
      return {
        topic: records.topic, partition: records.partition, timestampMs: place.timestamp, offset: place.baseOffset + BigInt(place.offsetDelta), headers: headers?.map((header) => header.key) ?? null,
        key: keyLength < 0 ? null : Buffer.from(bytes.subarray(keyStart, keyStart + keyLength)).toString(),
        value: valueLength < 0 ? null : Buffer.from(bytes.subarray(valueStart, valueStart + valueLength)).toString(),
      };
    });
    expect(made).toEqual([
      { topic: 't', partition: 3, timestampMs: 1000, offset: 0n, headers: ['h'], key: 'k1', value: 'value-1' },
      { topic: 't', partition: 3, timestampMs: 1000, offset: 1n, headers: null, key: null, value: null },
      { topic: 't', partition: 3, timestampMs: 1000, offset: 2n, headers: null, key: null, value: 'zipped' },
    ]);
    // A field longer than its record is refused as make() refuses it.
    const corrupt = Buffer.from(encodeBatch({ baseOffset: 0n, records: [{ key: null, value: 'abc' }], compression: CompressionCodec.None, baseTimestamp: 1000 }));
    const scanned = scanFetch('t', 0, 0n, corrupt, null).records;
    const valueLengthAt = corrupt.lastIndexOf(Buffer.from('abc')) - 1;
    corrupt[valueLengthAt] = 40; // zigzag 20: past the record's end (the CRC was checked by the scan already)
    expect(() => scanned.locate(0, place)).toThrow(/does not fit its record/);
  });

  it('returns nothing for null or empty data and keeps the fetch offset', () => {
    expect(recordsFromFetch('t', 0, 7n, null, null)).toEqual({ records: [], nextOffset: 7n });
    expect(recordsFromFetch('t', 0, 7n, Buffer.alloc(0), null)).toEqual({ records: [], nextOffset: 7n });
  });

  it('hides control batches but moves past them', () => {
    const marker = encodeControlBatch({ type: 'commit', producerId: 5n, producerEpoch: 0, coordinatorEpoch: 0, timestamp: 1000, baseOffset: 2n });
    const data = Buffer.concat([batch(0n, ['a', 'b'], { producerId: 5n, transactional: true }), marker]);
    const result = recordsFromFetch('t', 0, 0n, data, []);
    expect(values(result)).toEqual(['a', 'b']);
    expect(result.nextOffset).toBe(3n);
  });

  it('drops records of aborted transactions, and only until the abort marker', () => {
    const data = Buffer.concat([
      batch(0n, ['kept-1'], { producerId: 1n, transactional: true }),
      batch(1n, ['aborted-1', 'aborted-2'], { producerId: 2n, transactional: true }),
      encodeControlBatch({ type: 'commit', producerId: 1n, producerEpoch: 0, coordinatorEpoch: 0, timestamp: 1000, baseOffset: 3n }),
      encodeControlBatch({ type: 'abort', producerId: 2n, producerEpoch: 0, coordinatorEpoch: 0, timestamp: 1000, baseOffset: 4n }),
      batch(5n, ['later'], { producerId: 2n, transactional: true }),
    ]);
    const result = recordsFromFetch('t', 0, 0n, data, [{ producerId: 2n, firstOffset: 1n }]);
    expect(values(result)).toEqual(['kept-1', 'later']);
  });

  it('keeps every record of many batches of different sizes in order, with its offset and timestamp', () => {
    // Batches of 1, 3, 3000 and 2 records; the gzip batch holds more records than its bytes
    // suggest, so the record table, sized from the response's bytes, grows while it is scanned.
    const sizes = [1, 3, 3000, 2];
    const parts: Buffer[] = [];
    const expected: { offset: bigint; key: string | undefined; value: string; timestampMs: number }[] = [];
    let offset = 0n;
    for (const [index, size] of sizes.entries()) {
      const compressed = index === 2;
      const records = Array.from({ length: size }, (_, at) => ({
        key: compressed ? null : `k${offset + BigInt(at)}`, value: compressed ? 'x'.repeat(100) : `v${offset + BigInt(at)}`, timestamp: 1000 * (index + 1) + at,
      }));
      for (const [at, record] of records.entries()) expected.push({ offset: offset + BigInt(at), key: record.key ?? undefined, value: record.value, timestampMs: record.timestamp });
      parts.push(encodeBatch({ baseOffset: offset, records, compression: compressed ? CompressionCodec.Gzip : CompressionCodec.None, baseTimestamp: 1000 * (index + 1) }));
      offset += BigInt(size);
    }
    const data = Buffer.concat(parts);
    expect(data.length / 7).toBeLessThan(3006);
    const result = recordsFromFetch('t', 0, 2n, data, null);
    expect(result.records.map((record) => ({ offset: record.offset, key: record.key?.toString(), value: record.value?.toString(), timestampMs: record.timestampMs }))).toEqual(expected.slice(2));
    expect(result.nextOffset).toBe(3006n);
  });

  it('refuses a batch whose record count is more than its bytes can hold, without making room for that count', () => {
    const data = Buffer.from(encodeBatch({ baseOffset: 0n, records: [{ key: null, value: 'a' }], compression: CompressionCodec.None, baseTimestamp: 1000 }));
    data.writeInt32BE(0x7fffffff, BATCH_OFFSETS.recordCount);
    rewriteBatchCrc(data, 0, data.length);
    expect(() => scanFetch('t', 0, 0n, data, null)).toThrow(/runs past the end|does not fit/);
  });

  it('refuses records too short to hold a key, a value and a header count as corrupt, before they outgrow the record table', () => {
    // A hundred records of three body bytes each (attributes, timestamp delta, offset delta): the scan
    // reads nothing past the offset delta, but no record of the format is that short.
    const count = 100;
    const header = Buffer.from(encodeBatch({ baseOffset: 0n, records: Array.from({ length: count }, () => ({ key: null, value: null })), compression: CompressionCodec.None, baseTimestamp: 1000 })).subarray(0, BATCH_OFFSETS.records);
    const records = Buffer.from(Array.from({ length: count }, (_, index) => [3 << 1, 0, 0, (index & 0x3f) << 1]).flat());
    const data = Buffer.concat([header, records]);
    data.writeInt32BE(data.length - 12, BATCH_OFFSETS.batchLength);
    rewriteBatchCrc(data, 0, data.length);
    expect(() => scanFetch('t', 0, 0n, data, null)).toThrow(CorruptRecordError);
  });
});
