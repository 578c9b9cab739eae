import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StateStoreContext } from '../../../../core/topology/processor.ts';
import { InMemoryKeyValueBytesStore } from '../../../../state/stores/in-memory.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { PrefetchedKeyValueStore } from '../../../../state/stores/rocksdb/prefetch.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { entriesHex, seededRandom, temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
let directory: ReturnType<typeof temporaryDirectory>;
let task: RocksDbTask;

beforeEach(async () => {
  directory = temporaryDirectory('runnel-rocksdb-prefetch-');
  task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['counts'], budget });
});
afterEach(async () => {
  await task.close();
  directory.remove();
});

describe('PrefetchedKeyValueStore', () => {
  it('runs a synchronous count aggregation per prefetched batch and matches the in-memory store', async () => {
    const store = new PrefetchedKeyValueStore('counts', task.store('counts'));
    const memory = new InMemoryKeyValueBytesStore('counts');
    memory.init({} as StateStoreContext);
    const random = seededRandom(11);
    const increment = (target: { get(key: Uint8Array): Uint8Array | null; put(key: Uint8Array, value: Uint8Array | null): void }, key: Uint8Array): void => {
      const count = target.get(key)?.[0] ?? 0;
      target.put(key, count === 4 ? null : Uint8Array.of(count + 1));
    };
    for (let batch = 0; batch < 30; batch++) {
      const keys = Array.from({ length: 50 }, () => Uint8Array.of(Math.floor(random() * 40)));
      await store.prefetch(keys);
      for (const key of keys) {
        increment(store, key);
        increment(memory, key);
      }
      await store.prefetchRange(Uint8Array.of(10), Uint8Array.of(20));
      store.put(Uint8Array.of(15), Uint8Array.of(9));
      memory.put(Uint8Array.of(15), Uint8Array.of(9));
      expect(entriesHex(store.range(Uint8Array.of(10), Uint8Array.of(20)))).toEqual(entriesHex(memory.range(Uint8Array.of(10), Uint8Array.of(20))));
      if (batch % 7 === 0) await store.commit();
    }
    await store.commit();
    expect(entriesHex(await task.store('counts').all())).toEqual(entriesHex(memory.range(null, null)));
    expect(store.approximateNumEntries()).toBeGreaterThan(0);
  });

  it('throws on reads that were not prefetched', async () => {
    const store = new PrefetchedKeyValueStore('counts', task.store('counts'));
    expect(() => store.get(Uint8Array.of(1))).toThrow(/not prefetched/);
    expect(() => store.range(null, null)).toThrow(/not prefetched/);
    await store.prefetch([Uint8Array.of(1)]);
    expect(store.get(Uint8Array.of(1))).toBeNull();
  });
});
