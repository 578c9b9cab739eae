import { describe, expect, it } from 'vitest';
import { withSuffix } from '../../../../state/stores/bytes.ts';
import { RocksDbWindowStore } from '../../../../state/stores/rocksdb/window.ts';
import { hex, rocksDbTaskPerTest } from './helpers.ts';

const task = rocksDbTaskPerTest('runnel-rocksdb-window-', ['windows']);

const key = (text: string): Uint8Array => Buffer.from(text);
const value = (number: number): Uint8Array => Uint8Array.of(number);

/** Segment ids present on disk, read from the first 8 bytes of every raw key. */
async function segmentsOnDisk(): Promise<number[]> {
  const ids = new Set<number>();
  for (const entry of await task.store('windows').all()) ids.add(Buffer.from(entry.key).readUInt32BE(4));
  return [...ids].sort((a, b) => a - b);
}

describe('RocksDbWindowStore', () => {
  it('fetches one key across segment boundaries, ignoring keys that extend it', async () => {
    const store = new RocksDbWindowStore('windows', task.store('windows'), { retentionMs: 1_000, segmentIntervalMs: 100 });
    for (const startMs of [50, 99, 100, 150, 250, 420]) store.put(key('a'), startMs, value(startMs % 256));
    store.put(key('ab'), 150, value(1));
    store.put(key('b'), 150, value(2));
    await store.flush();
    const fetched = await store.fetchRange(key('a'), 99, 300);
    expect(fetched.map((entry) => [entry.windowStartMs, entry.value[0]])).toEqual([[99, 99], [100, 100], [150, 150], [250, 250]]);
    expect(fetched.every((entry) => hex(entry.key) === hex(key('a')))).toBe(true);
    expect(await segmentsOnDisk()).toEqual([0, 1, 2, 4]);
    expect(hex((await store.fetch(key('b'), 150)) ?? new Uint8Array())).toBe('02');
    expect(await store.fetch(key('b'), 151)).toBeNull();
    const all = await store.fetchAll(100, 199);
    expect(all.map((entry) => `${Buffer.from(entry.key).toString()}@${entry.windowStartMs}`)).toEqual(['a@100', 'a@150', 'ab@150', 'b@150']);
  });

  it('drops expired segments whole and ignores puts into them', async () => {
    const inner = task.store('windows');
    const store = new RocksDbWindowStore('windows', inner, { retentionMs: 300, segmentIntervalMs: 100 });
    for (let startMs = 0; startMs < 400; startMs += 25) store.put(key('k'), startMs, value(startMs / 25));
    await store.flush();
    // Stream time 375, retention 300: the oldest live time is 76, in segment 0, so all four stay.
    expect(await segmentsOnDisk()).toEqual([0, 1, 2, 3]);

    store.put(key('k'), 650, value(99));
    // Oldest live time 351 is in segment 3: segments 0..2 are hidden at once, deleted on flush.
    expect((await store.fetchRange(key('k'), 0, 1_000)).map((entry) => entry.windowStartMs)).toEqual([300, 325, 350, 375, 650]);
    store.put(key('k'), 120, value(1));
    expect(store.droppedPuts).toBe(1);
    await store.flush();
    expect(await segmentsOnDisk()).toEqual([3, 6]);
    expect(await store.fetch(key('k'), 120)).toBeNull();
  });

  it('restores changelog records into segments and resumes retention after reopen', async () => {
    const store = new RocksDbWindowStore('windows', task.store('windows'), { retentionMs: 1_000, segmentIntervalMs: 500 });
    await store.applyBatch([
      { key: withSuffix(key('x'), [100], 0), value: value(1) },
      { key: withSuffix(key('x'), [700], 0), value: value(2) },
      { key: withSuffix(key('x'), [700], 0), value: null },
      { key: withSuffix(key('y'), [1_200], 0), value: value(3) },
    ]);
    await store.flush();
    await task.reopen();
    const reopened = new RocksDbWindowStore('windows', task.store('windows'), { retentionMs: 1_000, segmentIntervalMs: 500 });
    await reopened.init();
    expect(reopened.streamTimeMs).toBe(1_200);
    expect((await reopened.all()).map((entry) => `${Buffer.from(entry.key).toString()}@${entry.windowStartMs}=${entry.value[0]}`)).toEqual(['x@100=1', 'y@1200=3']);
    reopened.put(key('y'), 1_600, value(4));
    await reopened.flush();
    // Stream time 1600 makes 601 the oldest live time: segment 0 (x@100) goes; segment 1 is
    // live but empty because x@700 was deleted.
    expect(await segmentsOnDisk()).toEqual([2, 3]);
    expect(await reopened.fetch(key('x'), 100)).toBeNull();
  });
});
