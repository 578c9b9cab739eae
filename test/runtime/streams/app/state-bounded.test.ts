// A streams application whose state is far larger than the memory its stores may use: counts
// of 40,000 distinct keys with the disk-backed stores capped at 2,000 cached slots. RocksDB (in
// the worker thread) must hold every key, the cache must never exceed its bound, every read of
// the processing must come from the batched prefetch, and a restart must count the local state
// without loading it; without local state, the changelog is restored with progress reported.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StreamsApp, type RestoreReport } from '../../../../runtime/streams/app/index.ts';
import type { RestoreProgress } from '../../../../state/stores/rocksdb/restore.ts';
import { configureDiskBackedStores, DISK_BACKED_DEFAULTS, diskBackedCacheEntries, diskBackedReads } from '../../../../state/stores/rocksdb/disk-backed.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { countPerKeyTopology, createTopics, produceRecords, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;
const KEYS = 40_000;
const CACHE_SLOTS_MAX = 2_000;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

afterEach(() => {
  configureDiskBackedStores(DISK_BACKED_DEFAULTS);
});

function app(stateDir: string): StreamsApp {
  return new StreamsApp(countPerKeyTopology('bounded-input', 'bounded-counts', 'bounded-output'), {
    'application.id': 'state-bounded',
    'bootstrap.servers': broker.bootstrap,
    'state.dir': stateDir,
    'commit.interval.ms': 500,
  });
}

describe('StreamsApp state bounded by disk', () => {
  it('keeps 40,000 keys in RocksDB with 2,000 cached slots, prefetching every read, and restarts without loading them', async () => {
    configureDiskBackedStores({ entriesMax: CACHE_SLOTS_MAX });
    await createTopics(broker.bootstrap, [{ topic: 'bounded-input', partitions: 1 }, { topic: 'bounded-output', partitions: 1 }]);
    const keyOf = (index: number): string => `key-${String(index).padStart(6, '0')}`;
    // Every key twice, in two passes, so the second pass reads counts written long before.
    for (let pass = 0; pass < 2; pass++) {
      await produceRecords(broker.bootstrap, 'bounded-input', Array.from({ length: KEYS }, (_, index) => ({ key: keyOf(index), value: 'x' })));
    }
    const stateDir = temporaryDirectory('runnel-streams-bounded-');
    const readsBefore = { ...diskBackedReads };
    const first = app(stateDir);
    let cachedMax = 0;
    const sampler = setInterval(() => {
      cachedMax = Math.max(cachedMax, diskBackedCacheEntries());
    }, 5);
    try {
      await first.start();
      await first.waitUntilRunning();
      // Waiting on the processed count, not on queries, which would read from the worker themselves.
      await waitFor(() => first.processedRecords >= 2 * KEYS, 'both passes to be processed', 120_000);
      const counts = first.keyValueStore<string, number>('bounded-counts');
      cachedMax = Math.max(cachedMax, diskBackedCacheEntries());
      // Processing read each key's count from the prefetched cache, never waiting for the worker.
      expect(diskBackedReads.cached - readsBefore.cached).toBeGreaterThanOrEqual(KEYS);
      expect(diskBackedReads.waited - readsBefore.waited).toBe(0);
      expect(cachedMax).toBeGreaterThan(0);
      expect(cachedMax).toBeLessThanOrEqual(CACHE_SLOTS_MAX);
      // Everything is in RocksDB: a full range reads it from the worker.
      const all = counts.all();
      expect(all).toHaveLength(KEYS);
      expect(all.every((entry) => entry.value === 2)).toBe(true);
    } finally {
      clearInterval(sampler);
      await first.close();
    }
    const reports: RestoreReport[] = [];
    const second = app(stateDir);
    second.onRestore((report) => reports.push(report));
    try {
      await second.start();
      await second.waitUntilRunning();
      // The local state is counted, not loaded: nothing to read from the changelog, an empty cache.
      expect(reports.map((report) => [report.localRecords, report.changelogRecords])).toEqual([[KEYS, 0]]);
      expect(diskBackedCacheEntries()).toBe(0);
      expect(second.keyValueStore<string, number>('bounded-counts').get(keyOf(123))).toBe(2);
    } finally {
      await second.close();
    }
    // Without local state the changelog is restored into RocksDB, with progress reported.
    const third = app(temporaryDirectory('runnel-streams-bounded-wiped-'));
    const progress: RestoreProgress[] = [];
    const rebuilt: RestoreReport[] = [];
    third.onRestoreProgress((_taskId, update) => progress.push(update));
    third.onRestore((report) => rebuilt.push(report));
    try {
      await third.start();
      await third.waitUntilRunning();
      const last = progress.at(-1);
      expect(last?.done).toBe(true);
      expect(last?.restored).toBe(rebuilt[0]?.changelogRecords);
      expect(last?.restored).toBeGreaterThanOrEqual(KEYS);
      expect(progress.every((update, index) => index === 0 || update.restored >= (progress[index - 1] as RestoreProgress).restored)).toBe(true);
      expect(third.keyValueStore<string, number>('bounded-counts').get(keyOf(KEYS - 7))).toBe(2);
    } finally {
      await third.close();
    }
  }, 300_000);
});
