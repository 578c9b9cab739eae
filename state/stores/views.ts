// Read-only views for interactive queries and the test driver. Tables keep a timestamp with
// each value; these views hide it, as Kafka Streams' store facades do.
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
