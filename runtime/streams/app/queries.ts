// Interactive queries: read-only views over the instances of a store held by this process's
// active tasks, and where a key's store instance lives in the group. Queries run on the event
// loop between two batches of processing, so they see a store between records, never mid-record.
import { partitionForKey } from '../../../core/partitioner.ts';
import type { StateStore } from '../../../core/topology/processor.ts';
import type { ValueAndTimestamp } from '../../../core/topology/record.ts';
import { findQueryableStore, findStore, subtopologyStores, type Topology } from '../../../core/topology/topology.ts';
import type { KeyValueStore, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, SessionStore, WindowStore } from '../../../state/stores/types.ts';
import { compositeKeyValueView, compositeSessionView, compositeWindowView, keyValueView, windowView } from '../../../state/stores/views.ts';
import type { StreamTask } from '../task.ts';
import { taskId } from './plan.ts';

export interface KeyQueryMetadata {
  /** host:port (application.server) of the instance that holds the key, or null when unknown. */
  readonly activeHost: string | null;
  readonly partition: number;
  readonly taskId: string;
}

/** Any queryable store, tagged with its kind so callers can match on it (ts-pattern works well). */
export type QueryableStoreView<K, V> =
  | { readonly kind: 'key-value'; readonly view: ReadOnlyKeyValueStore<K, V> }
  | { readonly kind: 'window'; readonly view: ReadOnlyWindowStore<K, V> }
  | { readonly kind: 'session'; readonly view: ReadOnlySessionStore<K, V> };

export class StoreQueries {
  constructor(
    private readonly topology: Topology,
    private readonly tasks: () => readonly StreamTask[],
    private readonly globalStores: () => ReadonlyMap<string, StateStore>,
  ) {}

  /** The single instance of a global store, or one instance per active task that has the store. */
  private instances<S>(name: string): S[] {
    const global = this.globalStores().get(name);
    if (global !== undefined) return [global as S];
    return this.tasks().flatMap((task) => {
      const store = task.getStore(name);
      return store === undefined ? [] : [store as S];
    });
  }

  /** The view of whatever kind the named store is. */
  store<K, V>(name: string): QueryableStoreView<K, V> {
    const descriptor = findStore(this.topology, name);
    if (descriptor === undefined) throw new Error(`no store named ${name}`);
    if (descriptor.kind === 'window') return { kind: 'window', view: this.windowStore<K, V>(name) };
    if (descriptor.kind === 'session') return { kind: 'session', view: this.sessionStore<K, V>(name) };
    return { kind: 'key-value', view: this.keyValueStore<K, V>(name) };
  }

  keyValueStore<K, V>(name: string): ReadOnlyKeyValueStore<K, V> {
    const descriptor = findQueryableStore(this.topology, name, 'key-value');
    return lazyKeyValue(name, () => {
      const stores = descriptor.timestamped
        ? this.instances<KeyValueStore<K, ValueAndTimestamp<V>>>(name).map((store) => keyValueView(store))
        : this.instances<KeyValueStore<K, V>>(name);
      return compositeKeyValueView(name, stores);
    });
  }

  windowStore<K, V>(name: string): ReadOnlyWindowStore<K, V> {
    const descriptor = findQueryableStore(this.topology, name, 'window');
    const current = (): ReadOnlyWindowStore<K, V> => {
      const stores = descriptor.timestamped
        ? this.instances<WindowStore<K, ValueAndTimestamp<V>>>(name).map((store) => windowView(store))
        : this.instances<WindowStore<K, V>>(name);
      return compositeWindowView(name, stores);
    };
    return {
      name,
      fetch: (key, windowStartMs) => current().fetch(key, windowStartMs),
      fetchRange: (key, fromMs, toMs) => current().fetchRange(key, fromMs, toMs),
      fetchAll: (fromMs, toMs) => current().fetchAll(fromMs, toMs),
      all: () => current().all(),
    };
  }

  sessionStore<K, V>(name: string): ReadOnlySessionStore<K, V> {
    findQueryableStore(this.topology, name, 'session');
    const current = (): ReadOnlySessionStore<K, V> => compositeSessionView(name, this.instances<SessionStore<K, V>>(name));
    return {
      name,
      fetch: (key) => current().fetch(key),
      fetchSession: (key, startMs, endMs) => current().fetchSession(key, startMs, endMs),
    };
  }

  /** The task (and host) whose instance of the store holds the key. */
  metadataForKey<K>(storeName: string, key: K, serializer: (key: K) => Uint8Array, taskCounts: ReadonlyMap<number, number>, endpoints: ReadonlyMap<string, string>): KeyQueryMetadata {
    const subtopology = this.topology.subtopologies.find((candidate) => subtopologyStores(candidate).includes(storeName));
    if (subtopology === undefined) throw new Error(`no store named ${storeName} in the topology`);
    const partitions = taskCounts.get(subtopology.id);
    if (partitions === undefined) throw new Error('the application has not planned its tasks yet; call metadataForKey after start()');
    const partition = partitionForKey(serializer(key), partitions);
    const id = taskId(subtopology.id, partition);
    return { activeHost: endpoints.get(id) ?? null, partition, taskId: id };
  }
}

/**
 * A view that looks up the current task instances on every call, so it stays right across
 * rebalances (Kafka Streams hands out such views too).
 */
function lazyKeyValue<K, V>(name: string, current: () => ReadOnlyKeyValueStore<K, V>): ReadOnlyKeyValueStore<K, V> {
  return {
    name,
    get: (key) => current().get(key),
    range: (from, to) => current().range(from, to),
    all: () => current().all(),
    approximateNumEntries: () => current().approximateNumEntries(),
  };
}
