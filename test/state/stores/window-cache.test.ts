// The window store's cache, which holds windows by start and record key (window-cache.ts), and the
// window fast path through the layers below it (window-keys.ts), against references: the
// composite-keyed CachingLayer given the same writes through its byte interface, and the typed
// window store over the CachingLayer, in memory and on the streams runtime's disk-backed RocksDB
// store (held in memory while small, and read by record key once it outgrows that).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Serdes } from '../../../core/serdes/serde.ts';
import type { ChangelogRecord, StateStoreContext } from '../../../core/topology/processor.ts';
import type { Windowed } from '../../../core/topology/windows.ts';
import { buildWindowStore, withBytesStoreProvider } from '../../../state/stores/builders.ts';
import { withSuffix } from '../../../state/stores/bytes.ts';
import { InMemoryKeyValueBytesStore } from '../../../state/stores/in-memory.ts';
import { CachingLayer, ChangeLoggingLayer, hashKeyOf } from '../../../state/stores/layers.ts';
import { DiskBackedBytesStore } from '../../../state/stores/rocksdb/disk-backed.ts';
import { RemoteRocksDbTask } from '../../../state/stores/rocksdb/worker/client.ts';
import { MeteredWindowStore } from '../../../state/stores/typed.ts';
import type { WindowStore } from '../../../state/stores/types.ts';
import { WindowCachingLayer } from '../../../state/stores/window-cache.ts';
import { windowHashKey, windowKeyBytes } from '../../../state/stores/window-keys.ts';
import { seededRandom } from '../../helpers/random.ts';

const hex = (bytes: Uint8Array | null | undefined): string | null => (bytes === null || bytes === undefined ? null : Buffer.from(bytes).toString('hex'));

function contextWith(changelog: string[], timestampMs: () => number): StateStoreContext {
  return {
    applicationId: 'app',
    taskId: '0_0',
    partition: 0,
    changelogTopic: 'app-windows-changelog',
    changelogWriter: { send: (_topic, _partition, key, value) => void changelog.push(`${hex(key)}=${hex(value)}@${timestampMs()}`) },
    recordTimestampMs: timestampMs,
  };
}

describe('window-keys', () => {
  it('builds the composite key of the typed window store from a record key and a start', () => {
    for (const [name, startMs] of [['k', 0], ['page-17', 60_000], ['', 1_700_000_000_000], ['\u00e9t\u00e9', 2 ** 40 + 5]] as const) {
      const keyBytes = Buffer.from(name, 'utf8');
      const expected = withSuffix(keyBytes, [startMs], 0);
      const recordKeyHash = hashKeyOf(keyBytes);
      expect(hex(windowKeyBytes(recordKeyHash, startMs))).toBe(hex(expected));
      expect(windowHashKey(recordKeyHash, startMs)).toBe(hashKeyOf(expected));
    }
  });
});

describe('WindowCachingLayer', () => {
  // Both caches get the same operations; the window cache half of the time through its window
  // interface, the reference always through composite keys.
  it.each([1, 2, 3, 4, 5, 6])('writes, reads, expires, flushes and reports as the composite-keyed cache does (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const entriesMax = 1 + Math.floor(random() * 12);
    let step = 0;
    const referenceLog: string[] = [];
    const windowLog: string[] = [];
    const referenceInner = new InMemoryKeyValueBytesStore('reference');
    const windowInner = new InMemoryKeyValueBytesStore('windows');
    const reference = new CachingLayer(new ChangeLoggingLayer(referenceInner), entriesMax);
    const windows = new WindowCachingLayer(new ChangeLoggingLayer(windowInner), entriesMax);
    reference.init(contextWith(referenceLog, () => step));
    windows.init(contextWith(windowLog, () => step));
    const referenceReports: string[] = [];
    const windowReports: string[] = [];
    const report = (into: string[]) => (key: Uint8Array, newValue: Uint8Array | null, oldValue: Uint8Array | null, writtenAtMs: number, typedKey?: unknown) => void into.push(`${hex(key)} ${hex(newValue)} ${hex(oldValue)} ${writtenAtMs} ${String(typedKey)}`);
    reference.setFlushListener(report(referenceReports));
    const byWindowListener = random() < 0.5;
    if (byWindowListener) windows.setWindowListener((recordKeyHash, startMs, newValue, oldValue, writtenAtMs, typedKey) => report(windowReports)(windowKeyBytes(recordKeyHash, startMs), newValue, oldValue, writtenAtMs, typedKey));
    else windows.setFlushListener(report(windowReports));
    const names = ['a', 'b', 'ab', '', '\u00ff\u0000', 'page-1'];
    const oddWrites: string[] = [];
    // Window keys (sequence 0): a window listener hears only of them.
    const isWindow = (record: string): boolean => (record.split(/[= ]/)[0] as string).endsWith('00000000');
    for (step = 0; step < 600; step++) {
      const recordKeyHash = names[Math.floor(random() * names.length)] as string;
      const startMs = Math.floor(random() * 6) * 1_000;
      const hashKey = windowHashKey(recordKeyHash, startMs);
      const viaWindow = random() < 0.5;
      const roll = random();
      if (roll < 0.35) {
        const value = random() < 0.2 ? null : Uint8Array.of(step & 0xff, step >> 8);
        const typedKey = random() < 0.5 ? `typed-${recordKeyHash}` : undefined;
        reference.putHashed(hashKey, windowKeyBytes(recordKeyHash, startMs), value, typedKey);
        if (viaWindow) windows.writeWindow(recordKeyHash, startMs, value, typedKey);
        else windows.putHashed(hashKey, windowKeyBytes(recordKeyHash, startMs), value, typedKey);
      } else if (roll < 0.65) {
        const expected = reference.getHashed(hashKey, windowKeyBytes(recordKeyHash, startMs));
        const got = viaWindow ? windows.getWindow(recordKeyHash, startMs) : windows.getHashed(hashKey, windowKeyBytes(recordKeyHash, startMs));
        expect(hex(got)).toBe(hex(expected));
      } else if (roll < 0.72) {
        // A key of another layout (a sequence other than 0) is written through.
        const odd = withSuffix(Buffer.from(recordKeyHash, 'latin1'), [startMs], 7);
        const value = Uint8Array.of(7, step & 0xff);
        reference.put(odd, value);
        windows.put(odd, value);
        oddWrites.push(hex(odd) as string);
        expect(hex(windows.get(odd))).toBe(hex(reference.get(odd)));
      } else if (roll < 0.8) {
        reference.expireHashed(hashKey, windowKeyBytes(recordKeyHash, startMs));
        windows.expireHashed(hashKey, windowKeyBytes(recordKeyHash, startMs));
      } else if (roll < 0.88) {
        reference.flush();
        windows.flush();
      } else if (roll < 0.93) {
        const from = windowKeyBytes('a', 0);
        const to = windowKeyBytes('b', 9_000);
        expect(windows.range(from, to).map((entry) => `${hex(entry.key)}=${hex(entry.value)}`)).toEqual(reference.range(from, to).map((entry) => `${hex(entry.key)}=${hex(entry.value)}`));
      } else {
        expect(windows.approximateNumEntries()).toBe(reference.approximateNumEntries());
      }
      expect(windowLog).toEqual(referenceLog);
      expect(windowReports).toEqual(byWindowListener ? referenceReports.filter(isWindow) : referenceReports);
      expect(windows.size).toBeLessThanOrEqual(entriesMax);
    }
    reference.flush();
    windows.flush();
    expect(windowLog).toEqual(referenceLog);
    expect(windowReports).toEqual(byWindowListener ? referenceReports.filter(isWindow) : referenceReports);
    expect(oddWrites.length).toBeGreaterThan(0);
    expect(windowInner.range(null, null).map((entry) => `${hex(entry.key)}=${hex(entry.value)}`)).toEqual(referenceInner.range(null, null).map((entry) => `${hex(entry.key)}=${hex(entry.value)}`));
  });
});

const directories: string[] = [];
const tasks: RemoteRocksDbTask[] = [];
afterEach(async () => {
  for (const task of tasks.splice(0)) await task.close();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

const RETENTION_MS = 300;
const WINDOW_MS = 50;

/**
 * Records (changelog records or flush reports, which start with their key) grouped by key, in
 * order. Within one flush the order across keys is the order windows were first cached, which
 * differs where one stack caches a window on reading it and another does not (a store with an
 * index knows a window is new without reading): what must agree is each key's sequence.
 */
function byKey(records: readonly string[]): [string, string[]][] {
  const grouped = new Map<string, string[]>();
  for (const record of records) {
    const key = record.split(/[= ]/)[0] as string;
    grouped.set(key, [...(grouped.get(key) ?? []), record]);
  }
  return [...grouped].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
}

type Stack = { readonly name: string; readonly store: WindowStore<string, number> & { setFlushListener(listener: (key: Windowed<string>, newValue: number | null, oldValue: number | null, writtenAtMs: number) => void): boolean }; readonly log: string[]; readonly reports: string[] };

describe('typed window store over the window cache', () => {
  it.each([1, 2, 3, 4])('answers, reports and logs as over the composite-keyed cache, in memory and on RocksDB resident or not (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const directory = await mkdtemp(path.join(tmpdir(), 'runnel-window-cache-'));
    directories.push(directory);
    const task = await RemoteRocksDbTask.open({
      taskDirectory: directory,
      stores: [
        { name: 'resident', kind: 'window', retentionMs: RETENTION_MS },
        { name: 'outgrown', kind: 'window', retentionMs: RETENTION_MS },
      ],
    });
    tasks.push(task);
    let step = 0;
    const options = { logging: true, caching: true, retentionMs: RETENTION_MS, windowSizeMs: WINDOW_MS, retainDuplicates: false };
    const disk: DiskBackedBytesStore[] = [];
    const onDisk = (name: string, entriesMax: number) =>
      withBytesStoreProvider(
        (request) => {
          const store = new DiskBackedBytesStore(request.name, task.store(request.name), { entriesMax, writeBatchRecords: 7 });
          disk.push(store);
          return store;
        },
        () => buildWindowStore({ ...options, name }, Serdes.string(), Serdes.long()),
      );
    const stack = (name: string, store: Stack['store']): Stack => ({ name, store, log: [], reports: [] });
    // The reference: the typed store over the composite-keyed cache, in memory.
    const reference = stack('reference', new MeteredWindowStore(new CachingLayer(new ChangeLoggingLayer(new InMemoryKeyValueBytesStore('reference'))), Serdes.string(), Serdes.long(), { retentionMs: RETENTION_MS, windowSizeMs: WINDOW_MS, retainDuplicates: false }));
    const outgrown = stack('RocksDB, outgrown', onDisk('outgrown', 8));
    const memory = stack('in memory', buildWindowStore({ ...options, name: 'memory' }, Serdes.string(), Serdes.long()));
    const stacks = [reference, memory, stack('RocksDB, resident', onDisk('resident', 100_000)), outgrown];
    for (const each of stacks) {
      each.store.init(contextWith(each.log, () => step));
      expect(each.store.setFlushListener((key, newValue, oldValue, writtenAtMs) => void each.reports.push(`${key.key}@${key.window.startMs}-${key.window.endMs} ${newValue} ${oldValue} ${writtenAtMs}`))).toBe(true);
    }
    const names = ['a', 'b', 'page-1', 'page-10', '\u00e9', 'caf\u00e9', ''];
    let timeMs = 0;
    for (step = 0; step < 500; step++) {
      timeMs += Math.floor(random() * 15);
      const key = names[Math.floor(random() * names.length)] as string;
      const startMs = Math.max(0, Math.floor((timeMs - random() * 400) / WINDOW_MS) * WINDOW_MS);
      const roll = random();
      if (roll < 0.45) {
        // A windowed aggregation: fetch, then put.
        const old = stacks.map((each) => each.store.fetch(key, startMs));
        for (const value of old) expect(value).toEqual(old[0]);
        const value = random() < 0.1 ? null : (old[0] ?? 0) + 1;
        for (const each of stacks) each.store.put(key, value, startMs);
      } else if (roll < 0.6) {
        const value = Math.floor(random() * 100);
        for (const each of stacks) each.store.put(key, value, startMs);
      } else if (roll < 0.75) {
        const expected = reference.store.fetch(key, startMs);
        for (const each of stacks) expect([each.name, each.store.fetch(key, startMs)]).toEqual([each.name, expected]);
      } else if (roll < 0.85) {
        for (const each of stacks) each.store.flush();
        await task.commit();
      } else if (roll < 0.93) {
        const fromMs = Math.max(0, timeMs - 400);
        const expected = reference.store.fetchRange(key, fromMs, timeMs + 100);
        for (const each of stacks) expect([each.name, each.store.fetchRange(key, fromMs, timeMs + 100)]).toEqual([each.name, expected]);
      } else {
        const expected = reference.store.fetchAll(0, Number.MAX_SAFE_INTEGER).map((entry) => `${entry.key.key}@${entry.key.window.startMs}=${entry.value}`).sort();
        // Not the outgrown store: scans over many keys would make it resident again. Its cache
        // flushes as a scan's would.
        outgrown.store.flush();
        for (const each of stacks.filter((candidate) => candidate !== outgrown)) expect([each.name, each.store.fetchAll(0, Number.MAX_SAFE_INTEGER).map((entry) => `${entry.key.key}@${entry.key.window.startMs}=${entry.value}`).sort()]).toEqual([each.name, expected]);
      }
      // In memory both stacks know from the index which windows are new: the same records in the same order.
      expect(memory.log).toEqual(reference.log);
      expect(memory.reports).toEqual(reference.reports);
      for (const each of stacks) {
        expect([each.name, byKey(each.log)]).toEqual([each.name, byKey(reference.log)]);
        expect([each.name, byKey(each.reports)]).toEqual([each.name, byKey(reference.reports)]);
      }
    }
    for (const each of stacks) each.store.flush();
    await task.commit();
    expect(reference.log.length).toBeGreaterThan(50);
    expect(reference.reports.length).toBeGreaterThan(50);
    // The outgrown store was built first.
    expect((disk[0] as DiskBackedBytesStore).isResident).toBe(false);
    expect((disk[1] as DiskBackedBytesStore).isResident).toBe(true);
    // What RocksDB holds of the live windows is what the reference holds.
    const live = (entries: readonly ChangelogRecord[] | readonly { key: Uint8Array; value: Uint8Array }[]) => entries.map((entry) => `${hex(entry.key)}=${hex(entry.value)}`).sort();
    const expected = reference.store.fetchAll(0, Number.MAX_SAFE_INTEGER).map((entry) => ({ key: withSuffix(Buffer.from(entry.key.key), [entry.key.window.startMs], 0), value: Serdes.long().serialize(entry.value, 'x') }));
    const minLiveMs = Math.min(...expected.map((entry) => Number(Buffer.from(entry.key).readBigUInt64BE(entry.key.byteLength - 12))));
    for (const name of ['resident', 'outgrown']) {
      const stored = task.store(name).rangeSync(null, null).filter((entry) => Number(Buffer.from(entry.key).readBigUInt64BE(entry.key.byteLength - 12)) >= minLiveMs);
      expect([name, live(stored)]).toEqual([name, live(expected)]);
    }
  });
});
