// The producer's batch builder writes bytes that core/records decodes to the same records.
import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { BatchBuilder, stamp } from '../../../runtime/client/batch-builder.ts';
import { recordsFromFetch } from '../../../runtime/client/fetch-records.ts';

describe('BatchBuilder', () => {
  for (const codec of [CompressionCodec.None, CompressionCodec.Lz4, CompressionCodec.Zstd]) {
    it(`round-trips keys, values, headers and timestamps (codec ${codec})`, () => {
      const builder = new BatchBuilder(4_096);
      expect(builder.tryAppend('k1', Buffer.from('v1'), [{ key: 'h', value: 'x' }, { key: 'n', value: null }], 1_000)).toBe(true);
      expect(builder.tryAppend(null, 'é'.repeat(3), null, 1_000 + 2 ** 40)).toBe(true);
      expect(builder.tryAppend(Buffer.alloc(0), null, null, 999)).toBe(true);
      const bytes = builder.seal(codec, false);
      stamp(bytes, 5n, 2, 40);
      const batch = decodeBatch(bytes);
      expect(batch.header).toMatchObject({ producerId: 5n, producerEpoch: 2, baseSequence: 40, recordCount: 3, lastOffsetDelta: 2, baseTimestamp: 1_000n, maxTimestamp: 1_000n + 2n ** 40n });
      expect(batch.records.map((record) => [record.key?.toString() ?? null, record.value?.toString() ?? null, record.offsetDelta])).toEqual([['k1', 'v1', 0], [null, 'ééé', 1], ['', null, 2]]);
      expect(batch.records[0]?.headers).toEqual([{ key: 'h', value: Buffer.from('x') }, { key: 'n', value: null }]);
      // The consumer's lazy records read the same fields from the same bytes.
      const fetched = recordsFromFetch('t', 0, 1n, bytes, null).records;
      expect(fetched.map((record) => [record.offset, record.timestamp, record.value?.toString() ?? null])).toEqual([[1n, 1_000n + 2n ** 40n, 'ééé'], [2n, 999n, null]]);
    });
  }

  it('refuses a record that does not fit and stays usable', () => {
    const builder = new BatchBuilder(100);
    expect(builder.tryAppend(null, Buffer.alloc(20), null, 0)).toBe(true);
    expect(builder.tryAppend(null, Buffer.alloc(50), null, 0)).toBe(false);
    expect(builder.recordCount).toBe(1);
    expect(decodeBatch(builder.seal(CompressionCodec.None, false)).records).toHaveLength(1);
  });

  it('leaves the CRC to stamp when the batch is stamped later, and stamp makes it valid', () => {
    const sealOne = (stampedLater: boolean): Buffer => {
      const builder = new BatchBuilder(256);
      builder.tryAppend('k', 'v', null, 5);
      return builder.seal(CompressionCodec.None, false, stampedLater);
    };
    const unstamped = sealOne(true);
    expect(() => decodeBatch(unstamped)).toThrow(/CRC/);
    stamp(unstamped, -1n, -1, -1);
    // Stamped as a batch without producer id, it is the batch seal() stamps at once.
    expect(unstamped).toEqual(sealOne(false));
    expect(decodeBatch(unstamped).records.map((record) => record.value?.toString())).toEqual(['v']);
  });
});
