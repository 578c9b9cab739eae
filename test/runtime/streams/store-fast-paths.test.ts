// The shortcuts the engine's stores take for speed must not change what they store, log or
// report: hashed keys passed down the layers, the cache's remembered old values, keys handed
// over without copies, the window index that replaces scans, and ASCII keys hashed as themselves.
import { describe, expect, it } from 'vitest';
import { Serdes } from '../../../core/serdes/serde.ts';
import type { ChangelogWriter, StateStoreContext } from '../../../core/topology/processor.ts';
import { InMemoryKeyValueBytesStore } from '../../../state/stores/in-memory.ts';
import { withSuffix } from '../../../state/stores/bytes.ts';
import { CachingLayer, ChangeLoggingLayer, hashKeyOf } from '../../../state/stores/layers.ts';
import { MeteredKeyValueStore, MeteredWindowStore } from '../../../state/stores/typed.ts';

const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('latin1'));
const bytes = (value: string): Uint8Array => Buffer.from(value, 'latin1');

function harness() {
  const logged: [string, string | null][] = [];
  const writer: ChangelogWriter = { send: (_topic, _partition, key, value) => void logged.push([text(key) as string, text(value)]) };
  let nowMs = 0;
  const context: StateStoreContext = { applicationId: 'app', taskId: '0_0', partition: 0, changelogTopic: 'app-s-changelog', changelogWriter: writer, recordTimestampMs: () => nowMs };
  return { logged, context, at: (timeMs: number) => (nowMs = timeMs) };
}

/** Caching(ChangeLogging(in-memory)), the stack the DSL builds, with a flush log. */
function stack(entriesMax = 100) {
  const { logged, context, at } = harness();
  const inner = new InMemoryKeyValueBytesStore('s');
  const cache = new CachingLayer(new ChangeLoggingLayer(inner), entriesMax);
  cache.init(context);
  const flushed: [string, string | null, string | null][] = [];
  cache.setFlushListener((key, newValue, oldValue) => flushed.push([text(key) as string, text(newValue), text(oldValue)]));
  return { inner, cache, logged, flushed, at };
}

describe('hashed byte layers', () => {
  it('hashKeyOf is the latin1 string of the bytes, also for views into larger buffers', () => {
    const buffer = new Uint8Array([0, 0xff, 0x61, 0x80, 0x62, 9]);
    expect(hashKeyOf(buffer.subarray(1, 5))).toBe('\u00ffa\u0080b');
    expect(hashKeyOf(new Uint8Array(0))).toBe('');
  });

  it('hashed and plain reads and writes see the same entries', () => {
    const { inner, cache } = stack();
    cache.putHashed(hashKeyOf(bytes('a')), bytes('a'), bytes('1'));
    cache.put(bytes('b'), bytes('2'));
    expect(text(cache.get(bytes('a')))).toBe('1');
    expect(text(cache.getHashed('b', bytes('b')))).toBe('2');
    cache.flush();
    expect(text(inner.get(bytes('a')))).toBe('1');
    expect(text(inner.getHashed('b', bytes('b')))).toBe('2');
    expect(inner.range(null, null).map((entry) => [text(entry.key), text(entry.value)])).toEqual([['a', '1'], ['b', '2']]);
  });

  it('the old value a flush reports comes from the first read, or from below when the entry began with a write', () => {
    const { cache, flushed } = stack();
    cache.put(bytes('k'), bytes('v1'));
    cache.put(bytes('j'), bytes('w1'));
    cache.flush();
    expect(text(cache.get(bytes('k')))).toBe('v1');
    cache.put(bytes('k'), bytes('v2'));
    cache.put(bytes('j'), bytes('w2'));
    cache.flush();
    expect(flushed).toEqual([
      ['k', 'v1', null],
      ['j', 'w1', null],
      ['k', 'v2', 'v1'],
      ['j', 'w2', 'w1'],
    ]);
  });

  it('the cache copies keys given by plain put, so a caller may reuse its buffer', () => {
    const { cache, inner } = stack();
    const reused = bytes('aa');
    cache.put(reused, bytes('1'));
    reused.set(bytes('bb'));
    cache.put(reused, bytes('2'));
    cache.flush();
    expect(inner.range(null, null).map((entry) => [text(entry.key), text(entry.value)])).toEqual([['aa', '1'], ['bb', '2']]);
  });

  it('a key first read with a borrowed buffer is copied when it is written', () => {
    const { cache, inner } = stack();
    const borrowed = bytes('k1');
    expect(cache.get(borrowed)).toBeNull();
    cache.put(borrowed, bytes('x'));
    borrowed.set(bytes('zz'));
    cache.flush();
    expect(inner.range(null, null).map((entry) => text(entry.key))).toEqual(['k1']);
  });

  it('expireHashed deletes past the cache, the changelog and the listener, dropping the cached entry', () => {
    const { cache, inner, logged, flushed } = stack();
    cache.put(bytes('k'), bytes('1'));
    cache.flush();
    cache.put(bytes('k'), bytes('2'));
    cache.expireHashed('k', bytes('k'));
    cache.flush();
    expect(inner.get(bytes('k'))).toBeNull();
    // Expiry is local: the changelog expires the entry by its own retention, so no tombstone.
    expect(logged).toEqual([['k', '1']]);
    expect(flushed).toEqual([['k', '1', null]]);
  });

  it('peekHashed and updateCached touch only entries the cache holds with its own key bytes', () => {
    const { cache, flushed } = stack();
    expect(cache.peekHashed('k')).toBeUndefined();
    expect(cache.updateCached('k', bytes('1'))).toBe(false);
    cache.get(bytes('k'));
    expect(cache.peekHashed('k')).toBeNull();
    // The entry holds the reader's bytes, which a write must not keep, so the update is refused.
    expect(cache.updateCached('k', bytes('1'))).toBe(false);
    cache.put(bytes('k'), bytes('1'));
    expect(cache.updateCached('k', bytes('2'))).toBe(true);
    expect(text(cache.peekHashed('k') ?? null)).toBe('2');
    cache.flush();
    expect(flushed).toEqual([['k', '2', null]]);
  });

  it('the entry a read found last is not written once it has left the cache', () => {
    const { inner, cache, logged, flushed } = stack();
    cache.readUncached('k', bytes('k'), true);
    cache.flushCache();
    // The read's entry left with the flush: a write to it would be lost, so it is refused.
    expect(cache.updateCached('k', bytes('1'))).toBe(false);
    cache.put(bytes('k'), bytes('1'));
    expect(cache.peekHashed('k')).not.toBeUndefined();
    cache.expireHashed('k', bytes('k'));
    expect(cache.updateCached('k', bytes('2'))).toBe(false);
    cache.readUncached('j', bytes('j'), true);
    expect(cache.updateCached('j', bytes('3'))).toBe(true);
    cache.flush();
    expect(text(inner.get(bytes('j')))).toBe('3');
    expect(inner.get(bytes('k'))).toBeNull();
    expect(logged).toEqual([['j', '3']]);
    expect(flushed).toEqual([['j', '3', null]]);
  });

  it('the in-memory store keeps no reference to the key bytes it was given', () => {
    const { context } = harness();
    const store = new InMemoryKeyValueBytesStore('m');
    store.init(context);
    const key = bytes('ab');
    store.put(key, bytes('1'));
    key.set(bytes('zz'));
    expect(text(store.get(bytes('ab')))).toBe('1');
    expect(store.range(bytes('a'), bytes('b')).map((entry) => text(entry.key))).toEqual(['ab']);
  });
});

describe('typed key-value store shortcuts', () => {
  function keyValueStore<K>(keySerde: typeof Serdes.string extends () => infer S ? S : never, caching = true) {
    const { logged, context, at } = harness();
    const inner = caching ? new CachingLayer(new ChangeLoggingLayer(new InMemoryKeyValueBytesStore('kv'))) : new ChangeLoggingLayer(new InMemoryKeyValueBytesStore('kv'));
    const store = new MeteredKeyValueStore(inner, keySerde, Serdes.long());
    store.init(context);
    return { store, logged, at };
  }

  it('ASCII and non-ASCII string keys read back what was written and log the UTF-8 key bytes', () => {
    const { store, logged } = keyValueStore(Serdes.string());
    const flushed: [string, number | null, number | null][] = [];
    store.setFlushListener((key, newValue, oldValue) => flushed.push([key, newValue, oldValue]));
    for (const key of ['plain', 'héllo', 'plain', 'héllo']) store.put(key, (store.get(key) ?? 0) + 1);
    expect(store.get('plain')).toBe(2);
    expect(store.get('héllo')).toBe(2);
    store.flush();
    expect(flushed).toEqual([
      ['plain', 2, null],
      ['héllo', 2, null],
    ]);
    expect(logged.map(([key]) => Buffer.from(key, 'latin1').toString('utf8'))).toEqual(['plain', 'héllo']);
    store.put('plain', null);
    store.flush();
    expect(store.get('plain')).toBeNull();
    expect(flushed.at(-1)).toEqual(['plain', null, 2]);
  });

  it('a string with a lone surrogate is reported with the key its bytes decode to', () => {
    const { store } = keyValueStore(Serdes.string());
    const flushed: string[] = [];
    store.setFlushListener((key) => flushed.push(key));
    store.put('a\ud800', 1);
    store.flush();
    expect(flushed).toEqual(['a\ufffd']);
  });

  it('bytes keys are copied, so changing the caller array later changes nothing stored', () => {
    const { context } = harness();
    const store = new MeteredKeyValueStore(new CachingLayer(new InMemoryKeyValueBytesStore('b')), Serdes.bytes(), Serdes.long());
    store.init(context);
    const key = new Uint8Array([1, 2]);
    store.put(key, 7);
    key[0] = 9;
    store.flush();
    expect(store.get(new Uint8Array([1, 2]))).toBe(7);
    expect(store.get(new Uint8Array([9, 2]))).toBeNull();
  });
});

describe('window store index', () => {
  function windowStore(options: { caching?: boolean; persistent?: boolean; retentionMs?: number } = {}) {
    const { logged, context, at } = harness();
    const innermost = new InMemoryKeyValueBytesStore('w');
    if (options.persistent === true) Object.defineProperty(innermost, 'persistent', { value: true });
    const logging = new ChangeLoggingLayer(innermost);
    const inner = options.caching === false ? logging : new CachingLayer(logging);
    const store = new MeteredWindowStore(inner, Serdes.string(), Serdes.long(), { retentionMs: options.retentionMs ?? 100, windowSizeMs: 10, retainDuplicates: false });
    store.init(context);
    return { store, innermost, logged, at };
  }

  it('a window read before its first write is cached without key bytes and flushed with the composite key', () => {
    const { logged, context } = harness();
    const innermost = new InMemoryKeyValueBytesStore('w');
    // A store that expires below keeps no index, so every uncached fetch reads below (the RocksDB stack).
    const store = new MeteredWindowStore(new CachingLayer(new ChangeLoggingLayer(innermost)), Serdes.string(), Serdes.long(), { retentionMs: 100, windowSizeMs: 10, retainDuplicates: false, expiresBelow: true });
    store.init(context);
    const flushed: [string, number, number | null, number | null][] = [];
    store.setFlushListener((key, newValue, oldValue) => flushed.push([key.key, key.window.startMs, newValue, oldValue]));
    for (const key of ['k', 'é']) {
      expect(store.fetch(key, 20)).toBeNull();
      store.put(key, 1, 20);
      store.put(key, (store.fetch(key, 20) ?? 0) + 1, 20);
    }
    store.flush();
    const composite = (key: string) => text(withSuffix(Buffer.from(key, 'utf8'), [20], 0));
    expect(logged).toEqual([
      [composite('k'), text(Serdes.long().serialize(2, 'w'))],
      [composite('é'), text(Serdes.long().serialize(2, 'w'))],
    ]);
    expect(flushed).toEqual([
      ['k', 20, 2, null],
      ['é', 20, 2, null],
    ]);
    expect(text(innermost.get(withSuffix(Buffer.from('k'), [20], 0)))).toBe(text(Serdes.long().serialize(2, 'w')));
    // Read again after the flush: from below, then updated and flushed with the old value.
    store.put('k', (store.fetch('k', 20) ?? 0) + 1, 20);
    store.flush();
    expect(flushed.at(-1)).toEqual(['k', 20, 3, 2]);
    expect(logged.at(-1)).toEqual([composite('k'), text(Serdes.long().serialize(3, 'w'))]);
  });

  it('expired windows are deleted below at commit, not logged (no tombstones) and not told to listeners', () => {
    const { store, innermost, logged } = windowStore();
    const flushed: [string, number, number | null][] = [];
    store.setFlushListener((key, newValue) => flushed.push([key.key, key.window.startMs, newValue]));
    store.put('a', 1, 0);
    store.put('b', 2, 10);
    store.flush();
    store.put('a', 3, 150);
    expect(store.fetch('a', 0)).toBeNull();
    store.flush();
    expect(flushed).toEqual([
      ['a', 0, 1],
      ['b', 10, 2],
      ['a', 150, 3],
    ]);
    expect(innermost.approximateNumEntries()).toBe(1);
    expect(logged.filter(([, value]) => value === null)).toHaveLength(0);
    expect(store.all().map((entry) => [entry.key.key, entry.key.window.startMs, entry.value])).toEqual([['a', 150, 3]]);
  });

  it('a window updated and expired before the same commit still goes downstream once', () => {
    const { store } = windowStore();
    const flushed: [string, number][] = [];
    store.setFlushListener((key, newValue) => flushed.push([key.key, newValue ?? -1]));
    store.put('a', 1, 0);
    store.put('b', 1, 500);
    store.flush();
    expect(flushed).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
  });

  it('deleted and re-created windows are fetched, flushed and expired correctly', () => {
    const { store, innermost } = windowStore();
    store.put('k', 1, 20);
    store.flush();
    store.put('k', null, 20);
    expect(store.fetch('k', 20)).toBeNull();
    store.flush();
    expect(innermost.approximateNumEntries()).toBe(0);
    store.put('k', 5, 20);
    expect(store.fetch('k', 20)).toBe(5);
    store.flush();
    expect(store.fetch('k', 20)).toBe(5);
    store.put('x', 1, 300);
    store.flush();
    expect(innermost.approximateNumEntries()).toBe(1);
  });

  it('restored windows are known to the index: fetched, and purged when they expire', () => {
    const first = windowStore();
    first.store.put('a', 1, 0);
    first.store.put('é', 2, 40);
    first.store.flush();
    const changelog = first.logged.map(([key, value]) => ({ key: bytes(key), value: value === null ? null : bytes(value) }));
    const second = windowStore();
    second.store.restore(changelog);
    expect(second.store.fetch('a', 0)).toBe(1);
    expect(second.store.fetch('é', 40)).toBe(2);
    second.store.put('a', 9, 200);
    second.store.flush();
    expect(second.innermost.approximateNumEntries()).toBe(1);
  });

  it('a persistent store learns the windows already on disk with one scan before its first purge', () => {
    const { store, innermost } = windowStore({ persistent: true });
    // Windows written below before this store instance existed (a reopened RocksDB store).
    const composite = (key: string, startMs: number): Uint8Array => {
      const keyBytes = Buffer.from(key);
      const result = new Uint8Array(keyBytes.byteLength + 12);
      result.set(keyBytes, 0);
      new DataView(result.buffer).setUint32(keyBytes.byteLength + 4, startMs);
      return result;
    };
    innermost.put(composite('old', 0), Serdes.long().serialize(4, 'w'));
    expect(store.fetch('old', 0)).toBe(4);
    store.put('new', 1, 500);
    store.flush();
    expect(innermost.approximateNumEntries()).toBe(1);
    expect(store.fetch('old', 0)).toBeNull();
  });

  it('without a cache, writes go straight down and expiry still uses the index', () => {
    const { store, innermost, logged } = windowStore({ caching: false });
    store.put('a', 1, 0);
    store.put('a', 2, 0);
    expect(store.fetch('a', 0)).toBe(2);
    store.put('b', 1, 300);
    store.flush();
    expect(innermost.approximateNumEntries()).toBe(1);
    expect(logged.map(([, value]) => value === null)).toEqual([false, false, false]);
  });

  it('hopping windows in one time slot expire one by one as stream time passes them', () => {
    const { store, innermost } = windowStore({ retentionMs: 1_600 });
    for (let startMs = 0; startMs < 1_000; startMs += 50) store.put('k', startMs, startMs);
    store.flush();
    expect(innermost.approximateNumEntries()).toBe(20);
    store.put('k', 1, 1_700);
    store.flush();
    // Stream time 1700, retention 1600: starts from 101 on stay live.
    expect(store.fetchRange('k', 0, 2_000).map((entry) => entry.windowStartMs)).toEqual([...Array.from({ length: 17 }, (_, index) => 150 + index * 50), 1_700]);
    expect(innermost.approximateNumEntries()).toBe(18);
  });
});
