// Turning fetched bytes into consumer records: partial tails, earlier records of a compressed
// batch, control batches and aborted transactions.
import { describe, expect, it } from 'vitest';
import { encodeBatch, encodeControlBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { recordsFromFetch } from '../../../runtime/client/fetch-records.ts';

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
});
