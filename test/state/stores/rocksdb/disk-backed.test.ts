// The streams runtime's persistent stores: RocksDB in the worker thread, a bounded cache here,
// batched prefetch per input batch and synchronous reads for what the prefetch missed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Serdes } from '../../../../core/serdes/serde.ts';
import type { ChangelogRecord, StateStoreContext } from '../../../../core/topology/processor.ts';
import { buildKeyValueStore, buildWindowStore, withBytesStoreProvider } from '../../../../state/stores/builders.ts';
import { withSuffix } from '../../../../state/stores/bytes.ts';
import { hashKeyOf } from '../../../../state/stores/layers.ts';
import { DiskBackedBytesStore } from '../../../../state/stores/rocksdb/disk-backed.ts';
import { RemoteRocksDbTask } from '../../../../state/stores/rocksdb/worker/client.ts';
import { windowHashKey, windowKeyBytes } from '../../../../state/stores/window-keys.ts';

const directories: string[] = [];
const tasks: RemoteRocksDbTask[] = [];

afterEach(async () => {
  for (const task of tasks.splice(0)) await task.close();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function openTask(directory?: string): Promise<{ task: RemoteRocksDbTask; directory: string }> {
  const taskDirectory = directory ?? (await mkdtemp(path.join(tmpdir(), 'runnel-disk-backed-')));
  if (directory === undefined) directories.push(taskDirectory);
  const task = await RemoteRocksDbTask.open({
    taskDirectory,
    stores: [
      { name: 'counts', kind: 'key-value', retentionMs: null },
      { name: 'windows', kind: 'window', retentionMs: 120_000 },
      // Retention below Kafka Streams' 60 s segment floor (a ten-second window without grace).
      { name: 'short', kind: 'window', retentionMs: 10_000 },
      { name: 'sessions', kind: 'session', retentionMs: 5_000 },
    ],
  });
  tasks.push(task);
  return { task, directory: taskDirectory };
}

function context(logged: ChangelogRecord[] = []): StateStoreContext {
  return {
    applicationId: 'app',
    taskId: '0_0',
    partition: 0,
    changelogTopic: 'app-store-changelog',
    changelogWriter: { send: (_topic, _partition, key, value) => void logged.push({ key, value }) },
    recordTimestampMs: () => 0,
  };
}

const text = (value: string): Uint8Array => Buffer.from(value);

describe('DiskBackedBytesStore', () => {
  it('serves prefetched keys from its cache and other reads from the worker, seeing every earlier write', async () => {
    const { task } = await openTask();
    const store = new DiskBackedBytesStore('counts', task.store('counts'));
    store.put(text('a'), text('1'));
    store.put(text('b'), text('2'));
    store.flush();
    await task.commit();
    const fresh = new DiskBackedBytesStore('counts', task.store('counts'));
    await fresh.prefetch([text('a'), text('zz')]);
    expect(Buffer.from(fresh.get(text('a')) as Uint8Array).toString()).toBe('1');
    expect(fresh.get(text('zz'))).toBeNull();
    expect(fresh.reads).toEqual({ cached: 2, waited: 0 });
    // Not prefetched: a synchronous read from the worker, after the write posted before it.
    fresh.put(text('c'), text('3'));
    expect(Buffer.from(fresh.get(text('b')) as Uint8Array).toString()).toBe('2');
    expect(fresh.range(null, null).map((entry) => Buffer.from(entry.key).toString())).toEqual(['a', 'b', 'c']);
    expect(fresh.reads.waited).toBe(2);
  });

  it('keeps its cache bounded while RocksDB holds every key', async () => {
    const { task } = await openTask();
    const entriesMax = 2_500;
    const store = new DiskBackedBytesStore('counts', task.store('counts'), { entriesMax, writeBatchRecords: 1_000 });
    const keyCount = 20_000;
    let cachedMax = 0;
    for (let batch = 0; batch < keyCount / 1_000; batch++) {
      const keys = Array.from({ length: 1_000 }, (_, index) => text(`key-${batch * 1_000 + index}`));
      await store.prefetch(keys);
      for (const key of keys) {
        const previous = store.get(key);
        store.put(key, text(String((previous === null ? 0 : Number(Buffer.from(previous).toString())) + 1)));
        cachedMax = Math.max(cachedMax, store.cachedEntries);
      }
    }
    store.flush();
    await task.commit();
    // Every read was prefetched (a batch needs at most 2,000 slots: a group and an entry per key),
    // and the cache never held more than its bound, a tenth of the store's content.
    expect(store.reads).toEqual({ cached: keyCount, waited: 0 });
    expect(cachedMax).toBeLessThanOrEqual(entriesMax);
    expect(store.approximateNumEntries()).toBeGreaterThanOrEqual(keyCount * 0.9);
    const all = store.range(null, null);
    expect(all).toHaveLength(keyCount);
    expect(all.every((entry) => Buffer.from(entry.value).toString() === '1')).toBe(true);
  });

  it('serves a window store through the typed layers, expiring segments without tombstones and skipping expired records on restore', async () => {
    const { task, directory } = await openTask();
    const logged: ChangelogRecord[] = [];
    const disk: DiskBackedBytesStore[] = [];
    const build = () =>
      withBytesStoreProvider(
        (request) => {
          const store = new DiskBackedBytesStore(request.name, task.store(request.name));
          disk.push(store);
          return store;
        },
        () => buildWindowStore({ name: 'windows', logging: true, caching: true, retentionMs: 120_000, windowSizeMs: 60_000, retainDuplicates: false }, Serdes.string(), Serdes.long()),
      );
    const windows = build();
    windows.init(context(logged));
    await (disk[0] as DiskBackedBytesStore).prefetch([text('k')]);
    windows.put('k', 1, 0);
    windows.put('k', 2, 60_000);
    windows.put('j', 5, 60_000);
    windows.flush();
    expect(windows.fetchRange('k', 0, 1_000_000).map((entry) => [entry.windowStartMs, entry.value])).toEqual([
      [0, 1],
      [60_000, 2],
    ]);
    // Stream time 300,000 with retention 120,000 expires the first segments: dropped locally.
    windows.put('k', 3, 300_000);
    windows.flush();
    // The store is small, so held in memory: the flush dropped the three expired windows there too.
    expect((disk[0] as DiskBackedBytesStore).isResident).toBe(true);
    expect((disk[0] as DiskBackedBytesStore).cachedEntries).toBe(1);
    await task.commit();
    expect(logged.filter((record) => record.value === null)).toHaveLength(0);
    const reopened = build();
    reopened.init(context());
    expect(reopened.fetchAll(0, 1_000_000).map((entry) => [entry.key.key, entry.key.window.startMs, entry.value])).toEqual([['k', 300_000, 3]]);
    await task.close();
    // Restoration skips changelog records older than the retention period.
    const again = await openTask(directory);
    const remote = again.task.store('windows');
    const key = (name: string, startMs: number) => withSuffix(text(name), [startMs], 0);
    remote.apply([
      { key: key('old', 1_000), value: Serdes.long().serialize(7, 'w') },
      { key: key('new', 400_000), value: Serdes.long().serialize(8, 'w') },
    ]);
    const restored = new DiskBackedBytesStore('windows', remote);
    expect(restored.range(null, null).map((entry) => Buffer.from(entry.key.subarray(0, entry.key.byteLength - 12)).toString())).toEqual(['k', 'new']);
  });

  it('a resident window store expires by time slot: whole slots at once, the straddling one key by key', async () => {
    const { task } = await openTask();
    // Retention 120,000: slots of 7,500 ms.
    const store = new DiskBackedBytesStore('windows', task.store('windows'), { entriesMax: 1_000, writeBatchRecords: 100 });
    expect(store.isResident).toBe(true);
    const windowKey = (name: string, startMs: number) => withSuffix(text(name), [startMs], 0);
    const live = () => store.range(null, null).map((entry) => `${Buffer.from(entry.key.subarray(0, entry.key.byteLength - 12)).toString()}@${Buffer.from(entry.value).toString()}`).sort();
    for (const [name, startMs] of [['a', 0], ['b', 1_000], ['c', 7_400], ['d', 7_600], ['e', 8_000], ['f', 20_000]] as const) store.put(windowKey(name, startMs), text(name));
    // Updated, and deleted then added again: listed in its slot more than once, deleted once.
    store.put(windowKey('d', 7_600), text('d2'));
    store.put(windowKey('e', 8_000), null);
    store.put(windowKey('e', 8_000), text('e2'));
    // Stream time 127,699: the oldest live start is 7,700, inside the second slot.
    store.put(windowKey('g', 127_699), text('g'));
    store.flush();
    expect(live()).toEqual(['e@e2', 'f@f', 'g@g']);
    // The oldest live window (8,000) expires once stream time reaches 128,000.
    store.put(windowKey('h', 127_999), text('h'));
    store.flush();
    expect(live()).toEqual(['e@e2', 'f@f', 'g@g', 'h@h']);
    store.put(windowKey('i', 128_000), text('i'));
    store.flush();
    expect(live()).toEqual(['f@f', 'g@g', 'h@h', 'i@i']);
    // An updated window still expires with its slot.
    store.put(windowKey('f', 20_000), text('f2'));
    store.put(windowKey('j', 150_000), text('j'));
    store.flush();
    expect(live()).toEqual(['g@g', 'h@h', 'i@i', 'j@j']);
    expect(store.cachedEntries).toBe(4);
  });

  it('copies a key that is a slice of Buffer\'s pool before keeping it in a cached group', async () => {
    const { task } = await openTask();
    const store = new DiskBackedBytesStore('windows', task.store('windows'), { entriesMax: 2, writeBatchRecords: 100 });
    const windowKey = (name: string, startMs: number) => withSuffix(text(name), [startMs], 0);
    // Outgrows its bound: read through the cache of groups from now on.
    for (let index = 0; index < 3; index++) store.put(windowKey(`other-${index}`, 1_000), text('x'));
    expect(store.isResident).toBe(false);
    await store.prefetch([text('k')]);
    const pooled = Buffer.from(hashKeyOf(windowKey('k', 2_000)), 'latin1');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    store.putHashed(hashKeyOf(pooled), pooled, text('v'));
    const [entry] = store.range(windowKey('k', 0), windowKey('k', 5_000));
    expect(entry === undefined ? null : hashKeyOf(entry.key)).toBe(hashKeyOf(pooled));
    expect(entry?.key.buffer.byteLength).toBe(entry?.key.byteLength);
  });

  it('holds a small window store in memory and reads one that outgrew its bound through RocksDB', async () => {
    const { task } = await openTask();
    const store = new DiskBackedBytesStore('windows', task.store('windows'), { entriesMax: 10, writeBatchRecords: 100 });
    expect(store.isResident).toBe(true);
    const windowKey = (name: string, startMs: number) => withSuffix(text(name), [startMs], 0);
    for (let index = 0; index < 30; index++) store.put(windowKey(`key-${index % 3}`, index * 1_000), text(String(index)));
    expect(store.isResident).toBe(false);
    expect(store.cachedEntries).toBeLessThanOrEqual(10);
    // key-1's windows: a range within one group, loaded from RocksDB as a whole.
    const windows = store.range(windowKey('key-1', 0), withSuffix(text('key-1'), [60_000], 0xffffffff));
    expect(windows.map((entry) => Buffer.from(entry.value).toString())).toEqual(Array.from({ length: 10 }, (_, index) => String(index * 3 + 1)));
    expect(store.reads.waited).toBe(1);
    store.flush();
    await task.commit();
    // Reopened with room for all: resident again, with every window.
    expect(new DiskBackedBytesStore('windows', task.store('windows'), { entriesMax: 100, writeBatchRecords: 100 }).range(null, null)).toHaveLength(30);
  });

  it('reads a window store without retention (resident by composite key) by record key and start, seeing every write', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'runnel-disk-backed-'));
    directories.push(directory);
    const task = await RemoteRocksDbTask.open({ taskDirectory: directory, stores: [{ name: 'unbounded', kind: 'window', retentionMs: null }] });
    tasks.push(task);
    const store = new DiskBackedBytesStore('unbounded', task.store('unbounded'));
    expect(store.isResident).toBe(true);
    const recordKeyHash = hashKeyOf(text('k'));
    const read = (): string | null => {
      const value = store.getWindow(recordKeyHash, 1_000);
      return value === null ? null : Buffer.from(value).toString();
    };
    expect(read()).toBeNull();
    store.putWindow(recordKeyHash, 1_000, windowKeyBytes(recordKeyHash, 1_000), text('1'));
    expect(read()).toBe('1');
    store.putHashed(windowHashKey(recordKeyHash, 1_000), windowKeyBytes(recordKeyHash, 1_000), text('2'));
    expect(read()).toBe('2');
    store.put(windowKeyBytes(recordKeyHash, 1_000), null);
    expect(read()).toBeNull();
    store.flush();
    await task.commit();
    expect(task.store('unbounded').rangeSync(null, null)).toEqual([]);
  });

  it('key-value stores built inside withBytesStoreProvider use the provided store', async () => {
    const { task } = await openTask();
    const store = withBytesStoreProvider(
      (request) => (request.kind === 'key-value' ? new DiskBackedBytesStore(request.name, task.store(request.name)) : null),
      () => buildKeyValueStore({ name: 'counts', logging: true, caching: true }, Serdes.string(), Serdes.long()),
    );
    store.init(context());
    store.put('x', 41);
    store.flush();
    await task.commit();
    expect(store.persistent).toBe(true);
    expect(store.get('x')).toBe(41);
    expect(buildKeyValueStore({ name: 'counts', logging: false, caching: false }, Serdes.string(), Serdes.long()).persistent).toBe(false);
  });
});
