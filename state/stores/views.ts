// Read-only views for interactive queries and the test driver. They are new objects exposing
// only reads, so a caller cannot write into a store by casting. Tables keep a timestamp with
// each value; the plain views hide it, as Kafka Streams' store facades do. A store exists once
// per task, so the composite views read every task's instance, Kafka Streams' Composite*Store:
// keys are partitioned, so a key lives in at most one instance and a point read stops there.
import type { ValueAndTimestamp } from '../../core/topology/record.ts';
import type { Windowed } from '../../core/topology/windows.ts';
import type { KeyValue, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, WindowEntry } from './types.ts';

function plain<K, V>(entry: KeyValue<K, ValueAndTimestamp<V>>): KeyValue<K, V> {
  return { key: entry.key, value: entry.value.value };
}

export function keyValueView<K, V>(store: ReadOnlyKeyValueStore<K, ValueAndTimestamp<V>>): ReadOnlyKeyValueStore<K, V> {
  return {
    name: store.name,
    get: (key) => store.get(key)?.value ?? null,
    range: (from, to) => store.range(from, to).map(plain),
    all: () => store.all().map(plain),
    approximateNumEntries: () => store.approximateNumEntries(),
  };
}

export function windowView<K, V>(store: ReadOnlyWindowStore<K, ValueAndTimestamp<V>>): ReadOnlyWindowStore<K, V> {
  const plainWindow = (entry: WindowEntry<ValueAndTimestamp<V>>): WindowEntry<V> => ({ windowStartMs: entry.windowStartMs, value: entry.value.value });
  return {
    name: store.name,
    fetch: (key, windowStartMs) => store.fetch(key, windowStartMs)?.value ?? null,
    fetchRange: (key, fromMs, toMs) => store.fetchRange(key, fromMs, toMs).map(plainWindow),
    fetchAll: (fromMs, toMs) => store.fetchAll(fromMs, toMs).map((entry) => plain<Windowed<K>, V>(entry)),
    all: () => store.all().map((entry) => plain<Windowed<K>, V>(entry)),
  };
}

export function sessionView<K, V>(store: ReadOnlySessionStore<K, V>): ReadOnlySessionStore<K, V> {
  return { name: store.name, fetch: (key) => store.fetch(key), fetchSession: (key, startMs, endMs) => store.fetchSession(key, startMs, endMs) };
}

function firstFound<S, R>(stores: readonly S[], read: (store: S) => R | null): R | null {
  for (const store of stores) {
    const found = read(store);
    if (found !== null) return found;
  }
  return null;
}

function firstNonEmpty<S, R>(stores: readonly S[], read: (store: S) => R[]): R[] {
  for (const store of stores) {
    const found = read(store);
    if (found.length > 0) return found;
  }
  return [];
}

/** Ranges concatenate the instances in task order; each part is in key order. */
export function compositeKeyValueView<K, V>(name: string, stores: readonly ReadOnlyKeyValueStore<K, V>[]): ReadOnlyKeyValueStore<K, V> {
  return {
    name,
    get: (key) => firstFound(stores, (store) => store.get(key)),
    range: (from, to) => stores.flatMap((store) => store.range(from, to)),
    all: () => stores.flatMap((store) => store.all()),
    approximateNumEntries: () => stores.reduce((total, store) => total + store.approximateNumEntries(), 0),
  };
}

export function compositeWindowView<K, V>(name: string, stores: readonly ReadOnlyWindowStore<K, V>[]): ReadOnlyWindowStore<K, V> {
  return {
    name,
    fetch: (key, windowStartMs) => firstFound(stores, (store) => store.fetch(key, windowStartMs)),
    fetchRange: (key, fromMs, toMs) => firstNonEmpty(stores, (store) => store.fetchRange(key, fromMs, toMs)),
    fetchAll: (fromMs, toMs) => stores.flatMap((store) => store.fetchAll(fromMs, toMs)),
    all: () => stores.flatMap((store) => store.all()),
  };
}

export function compositeSessionView<K, V>(name: string, stores: readonly ReadOnlySessionStore<K, V>[]): ReadOnlySessionStore<K, V> {
  return {
    name,
    fetch: (key) => firstNonEmpty(stores, (store) => store.fetch(key)),
    fetchSession: (key, startMs, endMs) => firstFound(stores, (store) => store.fetchSession(key, startMs, endMs)),
  };
}
