import { describe, expect, it } from 'vitest';
import { Serdes } from '../../../core/serdes/serde.ts';
import type { ChangelogWriter } from '../../../core/topology/processor.ts';
import { buildKeyValueStore, buildSessionStore, buildWindowStore, CachingLayer, inMemoryKeyValueBytesStore } from '../../../state/stores/index.ts';

function context(writer: ChangelogWriter | null, timestamp = () => 42) {
  return { applicationId: 'app', taskId: '0_0', partition: 3, changelogTopic: writer === null ? null : 'app-s-changelog', changelogWriter: writer, recordTimestampMs: timestamp };
}

function recordingWriter() {
  const sent: { topic: string; partition: number; key: string; value: string | null; timestampMs: number }[] = [];
  const writer: ChangelogWriter = {
    send: (topic, partition, key, value, timestampMs) => sent.push({ topic, partition, key: Buffer.from(key).toString('hex'), value: value === null ? null : Buffer.from(value).toString(), timestampMs }),
  };
  return { sent, writer };
}

describe('key-value stores', () => {
  it('keep keys in byte order for ranges and delete with null', () => {
    const store = buildKeyValueStore({ name: 's', logging: false, caching: false }, Serdes.string(), Serdes.int32());
    store.init(context(null));
    for (const [key, value] of [['b', 2], ['a', 1], ['c', 3], ['bb', 4]] as const) store.put(key, value);
    expect(store.range('b', 'c').map((entry) => entry.key)).toEqual(['b', 'bb', 'c']);
    expect(store.all().map((entry) => entry.value)).toEqual([1, 2, 4, 3]);
    expect(store.putIfAbsent('a', 9)).toBe(1);
    expect(store.delete('a')).toBe(1);
    store.put('b', null);
    expect(store.get('a')).toBeNull();
    expect(store.approximateNumEntries()).toBe(2);
  });

  it('change logging writes every put to the changelog with the record timestamp and task partition', () => {
    const { sent, writer } = recordingWriter();
    const store = buildKeyValueStore({ name: 's', logging: true, caching: false }, Serdes.string(), Serdes.string());
    store.init(context(writer));
    store.put('k', 'v');
    store.delete('k');
    expect(sent).toEqual([
      { topic: 'app-s-changelog', partition: 3, key: '6b', value: 'v', timestampMs: 42 },
      { topic: 'app-s-changelog', partition: 3, key: '6b', value: null, timestampMs: 42 },
    ]);
  });

  it('caching holds writes until flush, so repeated updates reach the changelog once', () => {
    const { sent, writer } = recordingWriter();
    const store = buildKeyValueStore({ name: 's', logging: true, caching: true }, Serdes.string(), Serdes.string());
    store.init(context(writer));
    store.put('k', 'v1');
    store.put('k', 'v2');
    expect(store.get('k')).toBe('v2');
    expect(sent).toHaveLength(0);
    store.flush();
    expect(sent.map((entry) => entry.value)).toEqual(['v2']);
  });

  it('a full cache flushes to the layer below', () => {
    const inner = inMemoryKeyValueBytesStore('s');
    const cache = new CachingLayer(inner, 2);
    cache.init(context(null));
    for (const key of ['a', 'b', 'c']) cache.put(Buffer.from(key), Buffer.from(key));
    expect(inner.approximateNumEntries()).toBe(2);
    expect(cache.range(null, null)).toHaveLength(3);
  });

  it('a write after a flush whose listener read the written key is not lost', () => {
    const inner = inMemoryKeyValueBytesStore('s');
    const cache = new CachingLayer(inner, 1);
    cache.init(context(null));
    // The listener reads b while b's first write makes room: that read caches b, the write
    // then replaces the entry it made.
    cache.setFlushListener(() => void cache.get(Buffer.from('b')));
    cache.put(Buffer.from('a'), Buffer.from('a'));
    cache.put(Buffer.from('b'), Buffer.from('b1'));
    cache.put(Buffer.from('b'), Buffer.from('b2'));
    cache.flush();
    expect(Buffer.from(inner.get(Buffer.from('b')) ?? []).toString()).toBe('b2');
  });
});

describe('window and session stores', () => {
  it('window stores fetch by key and time, and expire windows past retention', () => {
    const store = buildWindowStore({ name: 'w', logging: false, caching: true, retentionMs: 100, windowSizeMs: 10, retainDuplicates: false }, Serdes.string(), Serdes.int32());
    store.init(context(null));
    store.put('a', 1, 0);
    store.put('a', 2, 10);
    store.put('ab', 3, 10);
    store.put('b', 4, 20);
    expect(store.fetch('a', 10)).toBe(2);
    expect(store.fetchRange('a', 0, 50)).toEqual([{ windowStartMs: 0, value: 1 }, { windowStartMs: 10, value: 2 }]);
    expect(store.fetchAll(10, 10).map((entry) => [entry.key.key, entry.key.window.endMs, entry.value])).toEqual([['a', 20, 2], ['ab', 20, 3]]);
    store.put('b', 5, 105);
    expect(store.fetch('a', 0)).toBeNull();
    expect(store.fetch('a', 10)).toBe(2);
  });

  it('keys that are equal as numbers but serialize apart (0 and -0 as float64) stay apart, cached or not', () => {
    for (const caching of [true, false]) {
      const windows = buildWindowStore({ name: 'w', logging: false, caching, retentionMs: 100, windowSizeMs: 10, retainDuplicates: false }, Serdes.float64(), Serdes.int32());
      windows.init(context(null));
      windows.put(0, 1, 10);
      windows.put(-0, 2, 10);
      expect([caching, windows.fetch(0, 10), windows.fetch(-0, 10)]).toEqual([caching, 1, 2]);
      const table = buildKeyValueStore({ name: 'k', logging: false, caching }, Serdes.float64(), Serdes.int32());
      table.init(context(null));
      table.put(0, 1);
      table.put(-0, 2);
      expect([caching, table.get(0), table.get(-0)]).toEqual([caching, 1, 2]);
    }
  });

  it('window stores that retain duplicates keep every put', () => {
    const store = buildWindowStore({ name: 'j', logging: false, caching: true, retentionMs: 100, windowSizeMs: 10, retainDuplicates: true }, Serdes.string(), Serdes.string());
    store.init(context(null));
    store.put('k', 'x', 5);
    store.put('k', 'y', 5);
    expect(store.fetchRange('k', 0, 10).map((entry) => entry.value)).toEqual(['x', 'y']);
  });

  it('session stores find overlapping sessions of one key', () => {
    const store = buildSessionStore({ name: 's', logging: false, caching: false, retentionMs: 1000 }, Serdes.string(), Serdes.int32());
    store.init(context(null));
    store.put({ key: 'u', window: { startMs: 0, endMs: 10 } }, 1);
    store.put({ key: 'u', window: { startMs: 50, endMs: 60 } }, 2);
    store.put({ key: 'v', window: { startMs: 5, endMs: 8 } }, 3);
    expect(store.findSessions('u', 5, 55).map((entry) => entry.value)).toEqual([1, 2]);
    expect(store.findSessions('u', 11, 100).map((entry) => entry.value)).toEqual([2]);
    expect(store.fetchSession('u', 50, 60)).toBe(2);
    store.remove({ key: 'u', window: { startMs: 0, endMs: 10 } });
    expect(store.fetch('u').map((entry) => entry.value)).toEqual([2]);
  });
});

describe('in-memory bytes store ranges', () => {
  it('match a sorted model through interleaved puts, deletes, re-inserts and ranges', () => {
    const store = inMemoryKeyValueBytesStore('model');
    store.init(context(null));
    const model = new Map<string, string>();
    let seed = 7;
    const random = (limit: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % limit;
    };
    for (let step = 0; step < 3000; step++) {
      const key = `k${random(200)}`;
      const action = random(10);
      if (action < 5) {
        store.put(Buffer.from(key), Buffer.from(String(step)));
        model.set(key, String(step));
      } else if (action < 8) {
        store.put(Buffer.from(key), null);
        model.delete(key);
      } else {
        const from = `k${random(200)}`;
        const to = `k${random(200)}`;
        const expected = [...model.keys()].filter((candidate) => candidate >= from && candidate <= to).sort();
        const actual = store.range(Buffer.from(from), Buffer.from(to)).map((entry) => Buffer.from(entry.key).toString());
        expect(actual).toEqual(expected);
      }
    }
    expect(store.range(null, null).map((entry) => Buffer.from(entry.key).toString())).toEqual([...model.keys()].sort());
  });
});

describe('caching layer flush listener', () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
  const text = (value: Uint8Array | null): string | null => (value === null ? null : new TextDecoder().decode(value));

  function cachingStore(entriesMax: number) {
    const store = new CachingLayer(inMemoryKeyValueBytesStore('cached'), entriesMax);
    let nowMs = 0;
    store.init({ applicationId: 'app', taskId: '0_0', partition: 0, changelogTopic: null, changelogWriter: null, recordTimestampMs: () => nowMs });
    const flushed: [string | null, string | null, string | null, number][] = [];
    store.setFlushListener((key, newValue, oldValue, writtenAtMs) => flushed.push([text(key), text(newValue), text(oldValue), writtenAtMs]));
    return { store, flushed, at: (timeMs: number) => (nowMs = timeMs) };
  }

  it('reports each dirty key once per flush with the previously flushed value as old value', () => {
    const { store, flushed, at } = cachingStore(100);
    at(1);
    store.put(bytes('k'), bytes('1'));
    at(2);
    store.put(bytes('k'), bytes('2'));
    store.get(bytes('other'));
    expect(flushed).toEqual([]);
    store.flush();
    expect(flushed).toEqual([['k', '2', null, 2]]);
    at(5);
    store.put(bytes('k'), null);
    store.flush();
    expect(flushed.at(-1)).toEqual(['k', null, '2', 5]);
    store.put(bytes('n'), bytes('x'));
    store.put(bytes('n'), null);
    store.flush();
    expect(flushed).toHaveLength(2);
  });

  it('a full cache flushes, and tells the listener, before the commit', () => {
    const { store, flushed } = cachingStore(2);
    store.put(bytes('a'), bytes('1'));
    store.put(bytes('b'), bytes('1'));
    expect(flushed).toEqual([]);
    store.put(bytes('c'), bytes('1'));
    expect(flushed.map(([key]) => key)).toEqual(['a', 'b']);
    expect(text(store.get(bytes('a')))).toBe('1');
  });
});

describe('window store key bytes', () => {
  it('the window index keeps its own copy of a key made in Buffer\'s pool, and expiry hands that copy below', () => {
    const deleted: Uint8Array[] = [];
    const memory = inMemoryKeyValueBytesStore('w');
    // A plain byte store (no hashed methods): expiry reaches it as put(key, null) with the index's bytes.
    const plain = {
      name: 'w', persistent: false,
      init: (context: Parameters<typeof memory.init>[0]) => memory.init(context),
      get: (key: Uint8Array) => memory.get(key),
      put: (key: Uint8Array, value: Uint8Array | null) => { if (value === null) deleted.push(key); memory.put(key, value); },
      delete: (key: Uint8Array) => memory.delete(key),
      range: (from: Uint8Array | null, to: Uint8Array | null) => memory.range(from, to),
      approximateNumEntries: () => memory.approximateNumEntries(),
      restore: () => undefined, flush: () => undefined, close: () => memory.close(),
    };
    const store = buildWindowStore({ name: 'w', logging: false, caching: true, supplier: () => plain, retentionMs: 1_000, windowSizeMs: 100, retainDuplicates: false }, Serdes.string(), Serdes.long());
    store.init(context(null));
    store.put('a', 1, 0);
    store.flush();
    store.put('b', 1, 5_000);
    store.flush();
    expect(deleted.map((key) => Buffer.from(key.subarray(0, 1)).toString())).toEqual(['a']);
    expect(deleted[0]?.buffer.byteLength).toBe(deleted[0]?.byteLength);
    expect(store.fetch('a', 0)).toBeNull();
    expect(store.fetch('b', 5_000)).toBe(1);
  });
});
