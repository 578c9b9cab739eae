// Restoration of the segmented stores from packed batches (the RocksDB worker's path) must leave
// exactly what restoring the same changelog records one object at a time leaves: the same raw
// keys in the same segments, later writes of a key winning, tombstones deleting, and records
// older than the retention period skipped and counted.
import { describe, expect, it } from 'vitest';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { withSuffix } from '../../../../state/stores/bytes.ts';
import { RocksDbSessionStore } from '../../../../state/stores/rocksdb/session.ts';
import { RocksDbWindowStore } from '../../../../state/stores/rocksdb/window.ts';
import { packRecords } from '../../../../state/stores/rocksdb/worker/protocol.ts';
import { entriesHex, rocksDbTaskPerTest, seededRandom } from './helpers.ts';

const task = rocksDbTaskPerTest('runnel-rocksdb-segments-packed-', ['objects', 'packed']);

/** Changelog records in rough time order, over a few keys, with repeats, tombstones and stragglers. */
function changelog(count: number, suffix: (timeMs: number, index: number) => { numbers: number[]; sequence: number | null }): ChangelogRecord[] {
  const random = seededRandom(11);
  return Array.from({ length: count }, (_, index) => {
    // Time moves forward by up to 40 ms a record, with one record in ten from up to 2 s back.
    const timeMs = Math.max(0, index * 20 + Math.floor(random() * 40) - (random() < 0.1 ? Math.floor(random() * 2_000) : 0));
    const { numbers, sequence } = suffix(timeMs, index);
    const key = withSuffix(Buffer.from(`key-${Math.floor(random() * 7)}`), numbers, sequence);
    return { key, value: random() < 0.15 ? null : Buffer.from(`value-${index}`) };
  });
}

/** Restores the same changelog into two stores, by objects and packed, in batches of batchRecords. */
async function restoreBoth(
  stores: { objects: { applyBatch(records: readonly ChangelogRecord[]): Promise<void>; applyPacked(packed: ArrayBuffer): Promise<void>; flush(): Promise<void>; readonly skippedRestores: number }; packed: { applyBatch(records: readonly ChangelogRecord[]): Promise<void>; applyPacked(packed: ArrayBuffer): Promise<void>; flush(): Promise<void>; readonly skippedRestores: number } },
  records: readonly ChangelogRecord[],
  batchRecords: number,
): Promise<void> {
  for (let start = 0; start < records.length; start += batchRecords) {
    const batch = records.slice(start, start + batchRecords);
    await stores.objects.applyBatch(batch);
    await stores.packed.applyPacked(packRecords(batch));
  }
  await stores.objects.flush();
  await stores.packed.flush();
  expect(stores.packed.skippedRestores).toBe(stores.objects.skippedRestores);
}

describe('segmented stores restored from packed batches', () => {
  it('a window store holds what applyBatch leaves, and skips the same expired records', async () => {
    const options = { retentionMs: 3_000, segmentIntervalMs: 1_000 };
    const objects = new RocksDbWindowStore('objects', task.store('objects'), options);
    const packed = new RocksDbWindowStore('packed', task.store('packed'), options);
    const records = changelog(4_000, (timeMs, index) => ({ numbers: [timeMs - (timeMs % 500)], sequence: index % 3 }));
    await restoreBoth({ objects, packed }, records, 700);
    const expected = entriesHex(await task.store('objects').all());
    expect(expected.length).toBeGreaterThan(20);
    expect(objects.skippedRestores).toBeGreaterThan(0);
    expect(entriesHex(await task.store('packed').all())).toEqual(expected);
    expect(packed.streamTimeMs).toBe(objects.streamTimeMs);
  });

  it('a session store holds what applyBatch leaves, and skips the same expired records', async () => {
    const options = { retentionMs: 3_000, segmentIntervalMs: 1_000 };
    const objects = new RocksDbSessionStore('objects', task.store('objects'), options);
    const packed = new RocksDbSessionStore('packed', task.store('packed'), options);
    const records = changelog(4_000, (timeMs) => ({ numbers: [timeMs, Math.max(0, timeMs - 300)], sequence: null }));
    await restoreBoth({ objects, packed }, records, 900);
    const expected = entriesHex(await task.store('objects').all());
    expect(expected.length).toBeGreaterThan(20);
    expect(objects.skippedRestores).toBeGreaterThan(0);
    expect(entriesHex(await task.store('packed').all())).toEqual(expected);
  });

  it('refuses a packed key shorter than the store suffix', async () => {
    const store = new RocksDbWindowStore('packed', task.store('packed'), { retentionMs: 3_000, segmentIntervalMs: 1_000 });
    expect(() => store.applyPacked(packRecords([{ key: Uint8Array.of(1, 2, 3), value: Uint8Array.of(4) }]))).toThrow(/shorter than its 12-byte suffix/);
  });
});
