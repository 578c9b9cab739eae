import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { valueAndTimestampSerde } from '../../../../core/serdes/composite.ts';
import { Serdes } from '../../../../core/serdes/serde.ts';
import type { StateStoreContext } from '../../../../core/topology/processor.ts';
import { buildKeyValueStore } from '../../../../state/stores/builders.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { PrefetchedKeyValueStore } from '../../../../state/stores/rocksdb/prefetch.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
let directory: ReturnType<typeof temporaryDirectory>;

beforeEach(() => {
  directory = temporaryDirectory('runnel-rocksdb-timestamped-');
});
afterEach(() => {
  directory.remove();
});

const context: StateStoreContext = { applicationId: 'app', taskId: '0_0', partition: 0, changelogTopic: null, changelogWriter: null, recordTimestampMs: () => 0 };

function tableStore(task: RocksDbTask) {
  const prefetched = new PrefetchedKeyValueStore('table', task.store('table'));
  const store = buildKeyValueStore({ name: 'table', logging: false, caching: true, supplier: () => prefetched }, Serdes.string(), valueAndTimestampSerde(Serdes.long()));
  store.init(context);
  return { prefetched, store };
}

describe('timestamped key-value values on RocksDB', () => {
  it('keep value and timestamp through the layers, a commit and a reopen', async () => {
    let task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['table'], budget });
    try {
      const first = tableStore(task);
      await first.prefetched.prefetch([Buffer.from('alice'), Buffer.from('bob')]);
      first.store.put('alice', { value: 3, timestamp: 1_700_000_000_123 });
      first.store.put('bob', { value: -7, timestamp: 5 });
      expect(first.store.putIfAbsent('bob', { value: 1, timestamp: 6 })).toEqual({ value: -7, timestamp: 5 });
      first.store.flush();
      await first.prefetched.commit();
      await task.close();

      task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['table'], budget });
      const second = tableStore(task);
      await second.prefetched.prefetch([Buffer.from('alice'), Buffer.from('carol')]);
      expect(second.store.get('alice')).toEqual({ value: 3, timestamp: 1_700_000_000_123 });
      expect(second.store.get('carol')).toBeNull();
      await second.prefetched.prefetchRange(null, null);
      expect(second.store.all()).toEqual([
        { key: 'alice', value: { value: 3, timestamp: 1_700_000_000_123 } },
        { key: 'bob', value: { value: -7, timestamp: 5 } },
      ]);
    } finally {
      await task.close();
    }
  });
});
