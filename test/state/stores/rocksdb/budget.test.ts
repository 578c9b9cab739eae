import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY, RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { temporaryDirectory } from './helpers.ts';

let directories: ReturnType<typeof temporaryDirectory>[] = [];

beforeEach(() => {
  directories = [temporaryDirectory('runnel-rocksdb-budget-'), temporaryDirectory('runnel-rocksdb-budget-')];
});
afterEach(() => {
  for (const directory of directories) directory.remove();
});

function directory(index: number): string {
  return (directories[index] as ReturnType<typeof temporaryDirectory>).path;
}

describe('RocksDbMemoryBudget', () => {
  it('hands out block caches while the block cache budget covers them, and takes them back on release', () => {
    const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8, blockCacheBytesTotal: 3 * BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY });
    expect(budget.settings.writeBufferSize).toBe(4 * 1024 * 1024);
    expect(budget.memoryBoundBytes).toBe(64 * 1024 * 1024 + 3 * BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY);
    const first = budget.reserve(2);
    const second = budget.reserve(2);
    const third = budget.reserve(1);
    expect([first.blockCache, second.blockCache, third.blockCache]).toEqual([true, false, true]);
    expect(budget.blockCachesInUse).toBe(3);
    expect(budget.inUse).toBe(5);
    budget.release(2, first);
    expect(budget.blockCachesInUse).toBe(1);
    expect(budget.reserve(2).blockCache).toBe(true);
    budget.release(2, second);
    expect(budget.inUse).toBe(3);
    expect(() => budget.reserve(6)).toThrow(/allows 8 column families/);
    expect(() => budget.release(9)).toThrow(/more column families/);
  });

  it('turns caches off entirely when blockCache is false or the cache budget is below one cache', () => {
    const off = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8, blockCache: false });
    expect(off.reserve(1).blockCache).toBe(false);
    expect(off.memoryBoundBytes).toBe(64 * 1024 * 1024);
    const tiny = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8, blockCacheBytesTotal: 1024 });
    expect(tiny.reserve(1).blockCache).toBe(false);
  });

  it('opens tasks with and without a block cache as the budget decides; RocksDB reports the cache it got', async () => {
    const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8, blockCacheBytesTotal: BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY });
    const cached = await RocksDbTask.open({ taskDirectory: directory(0), storeNames: ['counts'], budget });
    const uncached = await RocksDbTask.open({ taskDirectory: directory(1), storeNames: ['counts'], budget });
    try {
      expect(cached.settings.blockCache).toBe(true);
      expect(uncached.settings.blockCache).toBe(false);
      expect(Number(await cached.blockCacheCapacityBytes('counts'))).toBe(BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY);
      expect(await uncached.blockCacheCapacityBytes('counts')).toBeNull();
      // Both work the same; the uncached one reads through the page cache.
      for (const task of [cached, uncached]) {
        task.store('counts').put(Buffer.from('k'), Buffer.from('v'));
        await task.flush();
        expect(Buffer.from((await task.store('counts').get(Buffer.from('k'))) ?? []).toString()).toBe('v');
      }
    } finally {
      await cached.close();
      await uncached.close();
    }
    expect(budget.inUse).toBe(0);
    expect(budget.blockCachesInUse).toBe(0);
  });
});
