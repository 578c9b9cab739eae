// Property tests: random operation sequences on a RocksDB-backed store and an in-memory store
// agree, both raw (Metered directly over the bytes store) and through the full layer stack
// Metered(Caching(ChangeLogging(bytes))), including the changelog each stack writes; and the
// segmented RocksDB window store agrees with the in-memory window store across segment
// boundaries while retention drops whole segments.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Serdes } from '../../../../core/serdes/serde.ts';
import type { ChangelogRecord, ChangelogWriter, StateStoreContext } from '../../../../core/topology/processor.ts';
import { prefixUpperBound } from '../../../../state/stores/bytes.ts';
import { buildKeyValueStore, buildWindowStore } from '../../../../state/stores/builders.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { PrefetchedKeyValueStore } from '../../../../state/stores/rocksdb/prefetch.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { RocksDbWindowStore } from '../../../../state/stores/rocksdb/window.ts';
import type { WindowedBytes } from '../../../../state/stores/rocksdb/window.ts';
import type { KeyValue } from '../../../../state/stores/types.ts';
import { entriesHex, hex, hexOrNull, seededRandom, temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
let directory: ReturnType<typeof temporaryDirectory>;
let task: RocksDbTask;

beforeEach(async () => {
  directory = temporaryDirectory('runnel-rocksdb-stack-');
  task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['table', 'windows', 'restored'], budget });
});
afterEach(async () => {
  await task.close();
  directory.remove();
});

function randomKey(random: () => number): Uint8Array {
  // A tiny alphabet with 0x00 and 0xff and lengths 0..3 makes shared prefixes, the empty key and
  // prefixes without an upper bound common.
  const alphabet = [0x00, 0x01, 0x7f, 0xff];
  return Uint8Array.from({ length: Math.floor(random() * 4) }, () => alphabet[Math.floor(random() * alphabet.length)] as number);
}

function contextWith(changelog: ChangelogRecord[], timestampMs: () => number): StateStoreContext {
  const writer: ChangelogWriter = { send: (_topic, _partition, key, value) => void changelog.push({ key: new Uint8Array(key), value }) };
  return { applicationId: 'app', taskId: '0_0', partition: 0, changelogTopic: 'app-table-changelog', changelogWriter: writer, recordTimestampMs: timestampMs };
}

const changelogHex = (records: readonly ChangelogRecord[]): string[] => records.map((record) => `${hex(record.key)}=${hexOrNull(record.value)}`);

describe.each([
  { stack: 'Metered(Caching(ChangeLogging(bytes)))', caching: true, logging: true },
  { stack: 'Metered(ChangeLogging(bytes))', caching: false, logging: true },
  { stack: 'Metered(bytes)', caching: false, logging: false },
])('key-value store $stack: RocksDB and in-memory agree', ({ caching, logging }) => {
  it.each([1, 2, 3, 4])('on random operations (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const prefetched = new PrefetchedKeyValueStore('table', task.store('table'));
    const options = { name: 'table', caching, logging };
    const rocks = buildKeyValueStore({ ...options, supplier: () => prefetched }, Serdes.bytes(), Serdes.bytes());
    const memory = buildKeyValueStore(options, Serdes.bytes(), Serdes.bytes());
    const rocksChangelog: ChangelogRecord[] = [];
    const memoryChangelog: ChangelogRecord[] = [];
    let step = 0;
    /** An upper bound on the writes so far, which bounds how far RocksDB's estimate may be off. */
    let writes = 0;
    rocks.init(contextWith(rocksChangelog, () => step));
    memory.init(contextWith(memoryChangelog, () => step));
    // The synchronous engine prefetches what a batch will read; the harness does it per operation.
    const prefetch = async (keys: Uint8Array[], ranges: [Uint8Array | null, Uint8Array | null][] = []): Promise<void> => {
      await prefetched.prefetch(keys);
      for (const [from, to] of ranges) await prefetched.prefetchRange(from, to);
    };
    const commit = async (): Promise<void> => {
      rocks.flush();
      memory.flush();
      await prefetched.commit();
    };
    for (step = 0; step < 300; step++) {
      const choice = random();
      const key = randomKey(random);
      if (choice < 0.3) {
        const value = Uint8Array.of(Math.floor(random() * 256), step & 0xff);
        rocks.put(key, value);
        memory.put(key, value);
      } else if (choice < 0.4) {
        await prefetch([key]);
        const value = Uint8Array.of(2, step & 0xff);
        expect(hexOrNull(rocks.putIfAbsent(key, value))).toEqual(hexOrNull(memory.putIfAbsent(key, value)));
      } else if (choice < 0.48) {
        const entries: KeyValue<Uint8Array, Uint8Array | null>[] = [
          { key, value: Uint8Array.of(1, step & 0xff) },
          { key: randomKey(random), value: null },
          { key, value: Uint8Array.of(3, step & 0xff) },
        ];
        rocks.putAll(entries);
        memory.putAll(entries);
      } else if (choice < 0.6) {
        await prefetch([key]);
        expect(hexOrNull(rocks.delete(key))).toEqual(hexOrNull(memory.delete(key)));
      } else if (choice < 0.7) {
        await prefetch([key]);
        expect(hexOrNull(rocks.get(key))).toEqual(hexOrNull(memory.get(key)));
      } else if (choice < 0.8) {
        const from = random() < 0.2 ? null : key;
        const to = random() < 0.2 ? null : randomKey(random);
        await prefetch([], [[from, to]]);
        expect(entriesHex(rocks.range(from, to))).toEqual(entriesHex(memory.range(from, to)));
        expect(entriesHex(rocks.reverseRange(from, to))).toEqual(entriesHex(memory.reverseRange(from, to)));
      } else if (choice < 0.87) {
        const prefix = key.subarray(0, 2);
        await prefetch([], [[prefix, prefixUpperBound(prefix)]]);
        expect(entriesHex(rocks.prefixScan(prefix, Serdes.bytes()))).toEqual(entriesHex(memory.prefixScan(prefix, Serdes.bytes())));
      } else if (choice < 0.9) {
        await prefetch([], [[null, null]]);
        expect(entriesHex(rocks.all())).toEqual(entriesHex(memory.all()));
      } else {
        await commit();
        // RocksDB's count is an estimate from per-file counters: an overwrite counts twice and a
        // delete takes two off until compaction rewrites them, so it is off by at most the writes.
        await task.store('table').compact();
        await prefetched.commit();
        writes += 1;
        expect(Math.abs(rocks.approximateNumEntries() - memory.approximateNumEntries())).toBeLessThanOrEqual(writes);
      }
      if (choice < 0.6) writes += 3;
    }
    await commit();
    expect(changelogHex(rocksChangelog)).toEqual(changelogHex(memoryChangelog));
    if (logging) expect(rocksChangelog.length).toBeGreaterThan(0);
    expect(entriesHex(await task.store('table').all())).toEqual(entriesHex(memory.all()));

    // Without overwrites or deletes the estimate is exact: the same contents loaded into a fresh
    // column family count the same through the stack as the in-memory store.
    await task.store('restored').applyBatch(await task.store('table').all());
    const copy = new PrefetchedKeyValueStore('restored', task.store('restored'));
    const copyStack = buildKeyValueStore({ ...options, name: 'restored', supplier: () => copy }, Serdes.bytes(), Serdes.bytes());
    copyStack.init(contextWith([], () => 0));
    await copy.commit();
    expect(copyStack.approximateNumEntries()).toBe(memory.approximateNumEntries());
  });
});

/** What the segmented store must hold: every window put into a segment that was live at the time, minus dropped segments. */
class SegmentedWindowModel {
  readonly windows = new Map<string, { key: Uint8Array; startMs: number; value: Uint8Array }>();
  streamTimeMs = -1;
  minLiveSegment = 0;

  constructor(private readonly options: { retentionMs: number; segmentIntervalMs: number }) {}

  put(key: Uint8Array, startMs: number, value: Uint8Array | null): void {
    if (startMs > this.streamTimeMs) {
      this.streamTimeMs = startMs;
      const minLiveMs = Math.max(0, startMs - this.options.retentionMs + 1);
      this.minLiveSegment = Math.max(this.minLiveSegment, Math.floor(minLiveMs / this.options.segmentIntervalMs));
      for (const [id, window] of this.windows) if (this.segmentOf(window.startMs) < this.minLiveSegment) this.windows.delete(id);
    }
    if (this.segmentOf(startMs) < this.minLiveSegment) return;
    const id = `${hex(key)}@${startMs}`;
    if (value === null) this.windows.delete(id);
    else this.windows.set(id, { key, startMs, value });
  }

  segmentOf(startMs: number): number {
    return Math.floor(startMs / this.options.segmentIntervalMs);
  }
}

const windowIds = (windows: readonly { key: Uint8Array; startMs: number; value: Uint8Array }[]): string[] =>
  windows.map((window) => `${hex(window.key)}@${window.startMs}=${hex(window.value)}`).sort();
const fromRocks = (windows: readonly WindowedBytes[]): { key: Uint8Array; startMs: number; value: Uint8Array }[] => windows.map((window) => ({ key: window.key, startMs: window.windowStartMs, value: window.value }));

describe('window store: segmented RocksDB and in-memory agree', () => {
  it.each([1, 2, 3])('across segment boundaries while retention drops whole segments (seed %i)', async (seed) => {
    const options = { retentionMs: 500, segmentIntervalMs: 100 };
    const random = seededRandom(seed);
    const rocks = new RocksDbWindowStore('windows', task.store('windows'), options);
    const model = new SegmentedWindowModel(options);
    const changelog: ChangelogRecord[] = [];
    const memory = buildWindowStore({ name: 'windows', logging: true, caching: true, retentionMs: options.retentionMs, windowSizeMs: 50, retainDuplicates: false }, Serdes.bytes(), Serdes.bytes());
    memory.init(contextWith(changelog, () => 0));
    let timeMs = 0;
    for (let step = 0; step < 400; step++) {
      timeMs += Math.floor(random() * 12);
      // Windows start on a 10 ms grid, some of them late, some past the newest.
      const startMs = Math.max(0, Math.floor((timeMs - random() * 700 + 60) / 10) * 10);
      const key = randomKey(random);
      const value = random() < 0.15 ? null : Uint8Array.of(step & 0xff, (step >> 8) & 0xff);
      rocks.put(key, startMs, value);
      memory.put(key, value, startMs);
      model.put(key, startMs, value);
      if (random() < 0.08) {
        await rocks.flush();
        memory.flush();
      }
      // Both stores answer alike from the oldest live window start on; the segmented store also
      // keeps the older windows of the oldest live segment, which the model accounts for.
      const minLiveMs = Math.max(0, rocks.streamTimeMs - options.retentionMs + 1);
      if (random() < 0.15) {
        const fromMs = minLiveMs + Math.floor(random() * 300);
        const toMs = fromMs + Math.floor(random() * 300);
        const expected = memory.fetchRange(key, fromMs, toMs).map((entry) => ({ key, startMs: entry.windowStartMs, value: entry.value }));
        expect(windowIds(fromRocks(await rocks.fetchRange(key, fromMs, toMs)))).toEqual(windowIds(expected));
        expect(hexOrNull(await rocks.fetch(key, startMs))).toEqual(hexOrNull(startMs >= minLiveMs ? memory.fetch(key, startMs) : model.windows.get(`${hex(key)}@${startMs}`)?.value ?? null));
      }
      if (random() < 0.05) {
        const expected = memory.fetchAll(minLiveMs, Number.MAX_SAFE_INTEGER).map((entry) => ({ key: entry.key.key, startMs: entry.key.window.startMs, value: entry.value }));
        expect(windowIds(fromRocks(await rocks.fetchAll(minLiveMs, Number.MAX_SAFE_INTEGER)))).toEqual(windowIds(expected));
      }
    }
    await rocks.flush();
    memory.flush();
    expect(rocks.streamTimeMs).toBe(model.streamTimeMs);
    expect(windowIds(fromRocks(await rocks.all()))).toEqual(windowIds([...model.windows.values()]));
    // Whole segments went: what is left on disk lies in at most retention / interval + 1 segments.
    const segments = new Set((await task.store('windows').all()).map((entry) => Buffer.from(entry.key).readUInt32BE(4)));
    expect(Math.min(...segments)).toBeGreaterThanOrEqual(model.minLiveSegment);
    expect(segments.size).toBeLessThanOrEqual(options.retentionMs / options.segmentIntervalMs + 1);

    // The in-memory store's changelog restores into the segmented store: the live windows match.
    const restored = new RocksDbWindowStore('restored', task.store('restored'), options);
    await restored.applyBatch(changelog);
    await restored.flush();
    const minLiveMs = Math.max(0, rocks.streamTimeMs - options.retentionMs + 1);
    expect(windowIds(fromRocks(await restored.fetchAll(minLiveMs, Number.MAX_SAFE_INTEGER)))).toEqual(windowIds(fromRocks(await rocks.fetchAll(minLiveMs, Number.MAX_SAFE_INTEGER))));
    expect(changelog.length).toBeGreaterThan(0);
  });
});
