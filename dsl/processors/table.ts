// Processors for tables. Tables pass Change records (new and old value) between processors, and
// each table offers a value getter so joins can look up its current value by key: a store read
// for materialized tables, a computation over the parent's getter for derived ones.
import type { ProcessorContext } from '../../core/topology/processor.ts';
import { NO_HEADERS, type Change, type ValueAndTimestamp } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';
import type { CachedKeyValueStore, KeyValueStore } from '../../state/stores/types.ts';
import { processorOf, type Forward } from './stateless.ts';

export interface ValueGetter<K, V> {
  init(context: ProcessorContext<unknown, unknown>): void;
  get(key: K): ValueAndTimestamp<V> | null;
}

export interface ValueGetterSupplier<K, V> {
  /** Stores the getter reads; processors that use it must be connected to them. */
  readonly storeNames: readonly string[];
  create(): ValueGetter<K, V>;
}

export type TimestampedStore<K, V> = KeyValueStore<K, ValueAndTimestamp<V>>;

export function storeGetter<K, V>(storeName: string): ValueGetterSupplier<K, V> {
  return {
    storeNames: [storeName],
    create: () => {
      let store: TimestampedStore<K, V> | null = null;
      return {
        init: (context) => {
          store = context.getStateStore<TimestampedStore<K, V>>(storeName);
        },
        get: (key) => store?.get(key) ?? null,
      };
    },
  };
}

/** A getter derived from a parent's: transform returns null to hide a row. */
export function derivedGetter<K, V, VR>(parent: ValueGetterSupplier<K, V>, transform: (value: V, key: K) => VR | null): ValueGetterSupplier<K, VR> {
  return {
    storeNames: parent.storeNames,
    create: () => {
      const inner = parent.create();
      return {
        init: (context) => inner.init(context),
        get: (key) => {
          const found = inner.get(key);
          if (found === null) return null;
          const value = transform(found.value, key);
          return value === null ? null : { value, timestamp: found.timestamp };
        },
      };
    },
  };
}

/**
 * How a materialized table sends its updates on. When its store caches (Materialized caching,
 * on by default), the store forwards one merged change per key when it flushes at commit or
 * when the cache fills, with the value of the previous flush as the old value, so downstream
 * sees one update per key per commit (Kafka Streams' record cache). Otherwise every update goes
 * on at once. Cached changes carry the timestamp stored with the value (for a delete, the
 * deleting record's) and no headers.
 */
export function tableEmitter<K, V>(store: TimestampedStore<K, V>, forward: Forward<K, Change<V>>): Forward<K, Change<V>> {
  return tableUpdates(store, forward) ?? (() => undefined);
}

/**
 * Like tableEmitter, but null when the store sends updates at flush, so a processor can skip
 * building an update nobody takes (`updates?.(record)` does not evaluate its argument then).
 */
export function tableUpdates<K, V>(store: TimestampedStore<K, V>, forward: Forward<K, Change<V>>): Forward<K, Change<V>> | null {
  if (!('setFlushListener' in store)) return forward;
  const cached = (store as CachedKeyValueStore<K, ValueAndTimestamp<V>>).setFlushListener((key, newValue, oldValue, writtenAtMs) => {
    const timestamp = newValue?.timestamp ?? writtenAtMs;
    forward({ key, value: { newValue: newValue?.value ?? null, oldValue: oldValue?.value ?? null }, timestamp, headers: NO_HEADERS });
  });
  return cached ? null : forward;
}

/** Reads a topic into a store and forwards each update as a change. Null keys are dropped. */
export function tableSourceProcessor<K, V>(storeName: string): () => UntypedProcessor {
  return () => {
    let store: TimestampedStore<K, V> | null = null;
    let emit: Forward<K, Change<V>> | null = null;
    return processorOf<K, V | null, K, Change<V>>((record, forward, context) => {
      if (record.key === null || record.key === undefined) {
        context.metrics.droppedRecords++;
        return;
      }
      if (store === null) {
        store = context.getStateStore<TimestampedStore<K, V>>(storeName);
        emit = tableUpdates(store, forward);
      }
      const old = store.get(record.key);
      store.put(record.key, record.value === null ? null : { value: record.value, timestamp: record.timestamp });
      emit?.({ ...record, value: { newValue: record.value, oldValue: old?.value ?? null } });
    })();
  };
}

/**
 * filter and mapValues on tables: transform both sides of the change (null hides a row), drop
 * changes that stay invisible, and write the result to a store when materialized.
 */
export function tableTransformProcessor<K, V, VR>(transform: (value: V, key: K) => VR | null, storeName: string | null): () => UntypedProcessor {
  return () => {
    let store: TimestampedStore<K, VR> | null = null;
    let emit: Forward<K, Change<VR>> | null = null;
    return processorOf<K, Change<V>, K, Change<VR>>((record, forward, context) => {
      const apply = (value: V | null): VR | null => (value === null ? null : transform(value, record.key));
      const change = { newValue: apply(record.value.newValue), oldValue: apply(record.value.oldValue) };
      if (change.newValue === null && change.oldValue === null) return;
      if (storeName !== null) {
        store ??= context.getStateStore<TimestampedStore<K, VR>>(storeName);
        emit ??= tableEmitter(store, forward);
        store.put(record.key, change.newValue === null ? null : { value: change.newValue, timestamp: record.timestamp });
      }
      (emit ?? forward)({ ...record, value: change });
    })();
  };
}

export function toStreamProcessor<K, V>(): () => UntypedProcessor {
  return processorOf<K, Change<V>, K, V | null>((record, forward) => {
    forward({ ...record, value: record.value.newValue });
  });
}

/** KTable.groupBy: the old row is subtracted under its old key before the new row is added. */
export function tableGroupByProcessor<K, V, KR, VR>(selector: (value: V, key: K) => readonly [KR, VR]): () => UntypedProcessor {
  return processorOf<K, Change<V>, KR, Change<VR>>((record, forward) => {
    if (record.value.oldValue !== null) {
      const [key, value] = selector(record.value.oldValue, record.key);
      forward({ ...record, key, value: { newValue: null, oldValue: value } });
    }
    if (record.value.newValue !== null) {
      const [key, value] = selector(record.value.newValue, record.key);
      forward({ ...record, key, value: { newValue: value, oldValue: null } });
    }
  });
}

export interface TableAggregation<K, V, VA> {
  readonly initializer: () => VA;
  readonly adder: (key: K, value: V, aggregate: VA) => VA;
  readonly subtractor: (key: K, value: V, aggregate: VA) => VA;
}

/** Aggregates a grouped table: subtract the old value, add the new one, forward the change. */
export function tableAggregateProcessor<K, V, VA>(storeName: string, aggregation: TableAggregation<K, V, VA>): () => UntypedProcessor {
  return () => {
    let store: TimestampedStore<K, VA> | null = null;
    let emit: Forward<K, Change<VA>> | null = null;
    return processorOf<K, Change<V>, K, Change<VA>>((record, forward, context) => {
      if (record.key === null || record.key === undefined) {
        context.metrics.droppedRecords++;
        return;
      }
      if (store === null) {
        store = context.getStateStore<TimestampedStore<K, VA>>(storeName);
        emit = tableUpdates(store, forward);
      }
      const old = store.get(record.key);
      let aggregate = old?.value ?? aggregation.initializer();
      if (record.value.oldValue !== null && old !== null) aggregate = aggregation.subtractor(record.key, record.value.oldValue, aggregate);
      if (record.value.newValue !== null) aggregate = aggregation.adder(record.key, record.value.newValue, aggregate);
      const timestamp = Math.max(record.timestamp, old?.timestamp ?? record.timestamp);
      store.put(record.key, { value: aggregate, timestamp });
      emit?.({ ...record, timestamp, value: { newValue: aggregate, oldValue: old?.value ?? null } });
    })();
  };
}

/** Reduces a grouped table; a row whose values were all subtracted away is deleted. */
export function tableReduceProcessor<K, V>(storeName: string, adder: (aggregate: V, value: V) => V, subtractor: (aggregate: V, value: V) => V): () => UntypedProcessor {
  return () => {
    let store: TimestampedStore<K, V> | null = null;
    let emit: Forward<K, Change<V>> | null = null;
    return processorOf<K, Change<V>, K, Change<V>>((record, forward, context) => {
      if (record.key === null || record.key === undefined) {
        context.metrics.droppedRecords++;
        return;
      }
      if (store === null) {
        store = context.getStateStore<TimestampedStore<K, V>>(storeName);
        emit = tableUpdates(store, forward);
      }
      const old = store.get(record.key);
      let aggregate: V | null = old?.value ?? null;
      if (record.value.oldValue !== null && aggregate !== null) aggregate = subtractor(aggregate, record.value.oldValue);
      if (record.value.newValue !== null) aggregate = aggregate === null ? record.value.newValue : adder(aggregate, record.value.newValue);
      store.put(record.key, aggregate === null ? null : { value: aggregate, timestamp: record.timestamp });
      emit?.({ ...record, value: { newValue: aggregate, oldValue: old?.value ?? null } });
    })();
  };
}

/**
 * One side of a table-table join. combine(thisValue, otherValue) applies the joiner with the
 * arguments in left-right order and returns null when the join mode yields no row.
 */
export function tableJoinProcessor<K, V, VO, VR>(other: ValueGetterSupplier<K, VO>, combine: (value: V | null, other: VO | null, key: K) => VR | null, storeName: string | null): () => UntypedProcessor {
  return () => {
    const getter = other.create();
    let store: TimestampedStore<K, VR> | null = null;
    let initialised = false;
    return processorOf<K, Change<V>, K, Change<VR>>((record, forward, context) => {
      if (!initialised) {
        getter.init(context as ProcessorContext<unknown, unknown>);
        initialised = true;
      }
      if (record.key === null || record.key === undefined) return;
      const found = getter.get(record.key);
      const otherValue = found?.value ?? null;
      const newValue = record.value.newValue === null && otherValue === null ? null : combine(record.value.newValue, otherValue, record.key);
      const oldValue = record.value.oldValue === null && otherValue === null ? null : combine(record.value.oldValue, otherValue, record.key);
      if (newValue === null && oldValue === null) return;
      const timestamp = Math.max(record.timestamp, found?.timestamp ?? record.timestamp);
      if (storeName !== null) {
        store ??= context.getStateStore<TimestampedStore<K, VR>>(storeName);
        store.put(record.key, newValue === null ? null : { value: newValue, timestamp });
      }
      forward({ ...record, timestamp, value: { newValue, oldValue } });
    })();
  };
}

export function joinedGetter<K, V, VO, VR>(left: ValueGetterSupplier<K, V>, right: ValueGetterSupplier<K, VO>, combine: (value: V | null, other: VO | null, key: K) => VR | null): ValueGetterSupplier<K, VR> {
  return {
    storeNames: [...left.storeNames, ...right.storeNames],
    create: () => {
      const leftGetter = left.create();
      const rightGetter = right.create();
      return {
        init: (context) => {
          leftGetter.init(context);
          rightGetter.init(context);
        },
        get: (key) => {
          const leftFound = leftGetter.get(key);
          const rightFound = rightGetter.get(key);
          if (leftFound === null && rightFound === null) return null;
          const value = combine(leftFound?.value ?? null, rightFound?.value ?? null, key);
          return value === null ? null : { value, timestamp: Math.max(leftFound?.timestamp ?? 0, rightFound?.timestamp ?? 0) };
        },
      };
    },
  };
}
