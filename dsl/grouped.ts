// Grouped streams and tables and their aggregations. Each aggregation names its store (the
// user's Materialized name or a generated one), repartitions first when the key changed
// upstream, and returns a table over the store.
import { Serdes, type Serde } from '../core/serdes/serde.ts';
import { durationMs } from '../core/topology/duration.ts';
import type { UntypedProcessor } from '../core/topology/topology.ts';
import type { SessionWindows, SlidingWindows, TimeWindows, Windowed } from '../core/topology/windows.ts';
import { windowedSerde } from '../core/serdes/composite.ts';
import { changeSerde } from '../core/serdes/composite.ts';
import type { GraphNode } from './graph.ts';
import { fallbackSerde, type InternalBuilder } from './internal.ts';
import { KTable } from './ktable.ts';
import type { Materialized, Named } from './options.ts';
import * as aggregate from './processors/aggregate.ts';
import * as table from './processors/table.ts';
import { passThroughProcessor } from './processors/stateless.ts';
import { keyValueStoreDescriptor, sessionStoreDescriptor, settingsFrom, windowStoreDescriptor } from './stores.ts';

export type AggregateOptions<K, VA> = Named & Materialized<K, VA>;
export type WindowedAggregateOptions<K, VA> = AggregateOptions<K, VA> & {
  /** 'on-window-update' (default) emits every change; 'on-window-close' only final results. */
  readonly emit?: aggregate.EmitStrategy;
};

/**
 * Emit-final aggregations keep how far they emitted in a small logged store beside their own,
 * so a restarted task does not emit closed windows a second time. Returns the store to connect.
 */
function emitProgressStores(builder: InternalBuilder, storeName: string, options: { readonly emit?: aggregate.EmitStrategy; readonly logging?: boolean }): string[] {
  if (options.emit !== 'on-window-close') return [];
  const name = aggregate.emitProgressStoreName(storeName);
  // Cached, so a commit logs the progress once however many records advanced it.
  if (!builder.stores.has(name)) builder.addStore(keyValueStoreDescriptor(name, Serdes.string(), Serdes.long(), settingsFrom({ logging: options.logging ?? true, caching: true }), false));
  return [name];
}

const count = { initializer: () => 0, aggregator: (_key: unknown, _value: unknown, total: number) => total + 1 };

function reducing<K, V>(reducer: (aggregate: V, value: V, key: K) => V): aggregate.Aggregation<K, V, V | null> {
  return { initializer: () => null, aggregator: (key, value, current) => (current === null ? value : reducer(current, value, key)) };
}

export class KGroupedStream<K, V> {
  constructor(
    readonly stream: { readonly builder: InternalBuilder; readonly node: GraphNode },
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** Grouped name: names the repartition topic. */
    readonly groupedName: string | undefined,
    readonly repartitionRequired: boolean,
  ) {}

  get builder(): InternalBuilder {
    return this.stream.builder;
  }

  /** The node aggregations read from: the stream, or a repartition of it when keys changed. */
  input(storeName: string): GraphNode {
    if (!this.repartitionRequired) return this.stream.node;
    return this.builder.addRepartition(this.stream.node, this.groupedName ?? storeName, {
      keySerde: (this.keySerde ?? fallbackSerde<K>()) as Serde<unknown>,
      valueSerde: (this.valueSerde ?? fallbackSerde<V>()) as Serde<unknown>,
      userRequested: false,
    });
  }

  /** Names store then processor, in Kafka Streams' order, and adds the aggregation node. */
  private aggregateWith<VA>(prefix: string, operator: string, options: AggregateOptions<K, VA>, valueSerde: Serde<VA>, makeProcessor: (storeName: string) => () => UntypedProcessor): KTable<K, VA> {
    const storeName = this.builder.statefulName(options.name, operator, () => this.builder.newStoreName(prefix));
    const name = this.builder.newName(prefix);
    const input = this.input(storeName);
    const keySerde = options.key ?? this.keySerde ?? fallbackSerde<K>();
    this.builder.addStore(keyValueStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), true));
    const node = this.builder.addProcessor(name, [input], makeProcessor(storeName), [storeName]);
    return new KTable<K, VA>(this.builder, node, keySerde, valueSerde, storeName, table.storeGetter<K, VA>(storeName));
  }

  count(options: AggregateOptions<K, number> = {}): KTable<K, number> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'count', options, options.value ?? Serdes.long(), (store) => aggregate.streamAggregateProcessor(store, count));
  }

  reduce(reducer: (aggregate: V, value: V, key: K) => V, options: AggregateOptions<K, V> = {}): KTable<K, V> {
    const valueSerde = options.value ?? this.valueSerde ?? fallbackSerde<V>();
    return this.aggregateWith('KSTREAM-REDUCE-', 'reduce', options, valueSerde, (store) => aggregate.streamAggregateProcessor(store, reducing(reducer) as aggregate.Aggregation<K, V, V>));
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, options: AggregateOptions<K, VA> = {}): KTable<K, VA> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'aggregate', options, options.value ?? fallbackSerde<VA>(), (store) => aggregate.streamAggregateProcessor(store, { initializer, aggregator }));
  }

  windowedBy(windows: TimeWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(windows: SlidingWindows): SlidingWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SessionWindows | SlidingWindows): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> | SlidingWindowedKStream<K, V> {
    if (windows.kind === 'time') return new TimeWindowedKStream(this, windows);
    if (windows.kind === 'session') return new SessionWindowedKStream(this, windows);
    return new SlidingWindowedKStream(this, windows);
  }

  /** Starts a cogroup: several grouped streams aggregated into one table. */
  cogroup<VA>(aggregator: (key: K, value: V, aggregate: VA) => VA): CogroupedKStream<K, VA> {
    return new CogroupedKStream<K, VA>(this.builder).cogroup(this, aggregator);
  }
}

export class TimeWindowedKStream<K, V> {
  constructor(private readonly grouped: KGroupedStream<K, V>, private readonly windows: TimeWindows) {}

  private aggregateWith<VA>(prefix: string, operator: string, options: WindowedAggregateOptions<K, VA>, valueSerde: Serde<VA>, aggregation: aggregate.Aggregation<K, V, VA>): KTable<Windowed<K>, VA> {
    const builder = this.grouped.builder;
    const storeName = builder.statefulName(options.name, operator, () => builder.newStoreName(prefix));
    const name = builder.newName(prefix);
    const input = this.grouped.input(storeName);
    const keySerde = options.key ?? this.grouped.keySerde ?? fallbackSerde<K>();
    const retentionMs = Math.max(options.retention === undefined ? 0 : durationMs(options.retention, 'retention'), this.windows.retentionMs());
    const window = { retentionMs, windowSizeMs: this.windows.sizeMs, retainDuplicates: false, timestamped: true };
    builder.addStore(windowStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), window));
    const processor = aggregate.windowAggregateProcessor(storeName, this.windows, aggregation, options.emit ?? 'on-window-update');
    const node = builder.addProcessor(name, [input], processor, [storeName, ...emitProgressStores(builder, storeName, options)]);
    const getter: table.ValueGetterSupplier<Windowed<K>, VA> = {
      storeNames: [storeName],
      create: () => {
        throw new Error('windowed tables cannot be looked up by joins');
      },
    };
    return new KTable<Windowed<K>, VA>(builder, node, windowedSerde(keySerde), valueSerde, storeName, getter, this.windows.graceMs);
  }

  count(options: WindowedAggregateOptions<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'windowed count', options, options.value ?? Serdes.long(), count);
  }

  reduce(reducer: (aggregate: V, value: V, key: K) => V, options: WindowedAggregateOptions<K, V> = {}): KTable<Windowed<K>, V> {
    const valueSerde = options.value ?? this.grouped.valueSerde ?? fallbackSerde<V>();
    return this.aggregateWith('KSTREAM-REDUCE-', 'windowed reduce', options, valueSerde, reducing(reducer) as aggregate.Aggregation<K, V, V>);
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, options: WindowedAggregateOptions<K, VA> = {}): KTable<Windowed<K>, VA> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'windowed aggregate', options, options.value ?? fallbackSerde<VA>(), { initializer, aggregator });
  }
}

export class SlidingWindowedKStream<K, V> {
  constructor(private readonly grouped: KGroupedStream<K, V>, private readonly windows: SlidingWindows) {}

  private aggregateWith<VA>(prefix: string, operator: string, options: WindowedAggregateOptions<K, VA>, valueSerde: Serde<VA>, aggregation: aggregate.Aggregation<K, V, VA>): KTable<Windowed<K>, VA> {
    const builder = this.grouped.builder;
    const storeName = builder.statefulName(options.name, operator, () => builder.newStoreName(prefix));
    const name = builder.newName(prefix);
    const input = this.grouped.input(storeName);
    const keySerde = options.key ?? this.grouped.keySerde ?? fallbackSerde<K>();
    const differenceMs = this.windows.timeDifferenceMs;
    const retentionMs = Math.max(options.retention === undefined ? 0 : durationMs(options.retention, 'retention'), 2 * differenceMs + this.windows.graceMs + 2);
    const settings = settingsFrom(options);
    builder.addStore(windowStoreDescriptor(storeName, keySerde, valueSerde, settings, { retentionMs, windowSizeMs: differenceMs, retainDuplicates: false, timestamped: true }));
    const recordsStore = `${storeName}-records`;
    const recordSerde = this.grouped.valueSerde ?? fallbackSerde<V>();
    builder.addStore(windowStoreDescriptor(recordsStore, keySerde, recordSerde, { ...settings, queryable: false }, { retentionMs, windowSizeMs: 0, retainDuplicates: true, timestamped: false }));
    const node = builder.addProcessor(name, [input], aggregate.slidingAggregateProcessor(storeName, recordsStore, this.windows, aggregation, options.emit ?? 'on-window-update'), [storeName, recordsStore, ...emitProgressStores(builder, storeName, options)]);
    const getter: table.ValueGetterSupplier<Windowed<K>, VA> = {
      storeNames: [storeName],
      create: () => {
        throw new Error('windowed tables cannot be looked up by joins');
      },
    };
    return new KTable<Windowed<K>, VA>(builder, node, windowedSerde(keySerde), valueSerde, storeName, getter, this.windows.graceMs + 1);
  }

  count(options: WindowedAggregateOptions<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'sliding count', options, options.value ?? Serdes.long(), count);
  }

  reduce(reducer: (aggregate: V, value: V, key: K) => V, options: WindowedAggregateOptions<K, V> = {}): KTable<Windowed<K>, V> {
    const valueSerde = options.value ?? this.grouped.valueSerde ?? fallbackSerde<V>();
    return this.aggregateWith('KSTREAM-REDUCE-', 'sliding reduce', options, valueSerde, reducing(reducer) as aggregate.Aggregation<K, V, V>);
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, options: WindowedAggregateOptions<K, VA> = {}): KTable<Windowed<K>, VA> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'sliding aggregate', options, options.value ?? fallbackSerde<VA>(), { initializer, aggregator });
  }
}

export class SessionWindowedKStream<K, V> {
  constructor(private readonly grouped: KGroupedStream<K, V>, private readonly windows: SessionWindows) {}

  private aggregateWith<VA>(prefix: string, operator: string, options: WindowedAggregateOptions<K, VA>, valueSerde: Serde<VA>, aggregation: aggregate.SessionAggregation<K, V, VA>): KTable<Windowed<K>, VA> {
    const builder = this.grouped.builder;
    const storeName = builder.statefulName(options.name, operator, () => builder.newStoreName(prefix));
    const name = builder.newName(prefix);
    const input = this.grouped.input(storeName);
    const keySerde = options.key ?? this.grouped.keySerde ?? fallbackSerde<K>();
    const minimumRetentionMs = this.windows.inactivityGapMs + this.windows.graceMs;
    const retentionMs = Math.max(options.retention === undefined ? 0 : durationMs(options.retention, 'retention'), minimumRetentionMs);
    builder.addStore(sessionStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), retentionMs));
    const node = builder.addProcessor(name, [input], aggregate.sessionAggregateProcessor(storeName, this.windows, aggregation, options.emit ?? 'on-window-update'), [storeName, ...emitProgressStores(builder, storeName, options)]);
    const getter: table.ValueGetterSupplier<Windowed<K>, VA> = {
      storeNames: [storeName],
      create: () => {
        throw new Error('session tables cannot be looked up by joins');
      },
    };
    return new KTable<Windowed<K>, VA>(builder, node, windowedSerde(keySerde), valueSerde, storeName, getter, this.windows.graceMs + this.windows.inactivityGapMs + 1);
  }

  count(options: WindowedAggregateOptions<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'session count', options, options.value ?? Serdes.long(), { ...count, merger: (_key, left, right) => left + right });
  }

  reduce(reducer: (aggregate: V, value: V, key: K) => V, options: WindowedAggregateOptions<K, V> = {}): KTable<Windowed<K>, V> {
    const valueSerde = options.value ?? this.grouped.valueSerde ?? fallbackSerde<V>();
    const base = reducing(reducer);
    const merger = (key: K, left: V | null, right: V | null): V | null => (left === null ? right : right === null ? left : reducer(left, right, key));
    return this.aggregateWith('KSTREAM-REDUCE-', 'session reduce', options, valueSerde, { ...base, merger } as unknown as aggregate.SessionAggregation<K, V, V>);
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, merger: (key: K, left: VA, right: VA) => VA, options: WindowedAggregateOptions<K, VA> = {}): KTable<Windowed<K>, VA> {
    return this.aggregateWith('KSTREAM-AGGREGATE-', 'session aggregate', options, options.value ?? fallbackSerde<VA>(), { initializer, aggregator, merger });
  }
}

export class KGroupedTable<K, V> {
  constructor(
    private readonly builder: InternalBuilder,
    private readonly node: GraphNode,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly groupedName: string | undefined,
  ) {}

  private aggregateWith<VA>(prefix: string, operator: string, options: AggregateOptions<K, VA>, valueSerde: Serde<VA>, makeProcessor: (storeName: string) => () => UntypedProcessor): KTable<K, VA> {
    const storeName = this.builder.statefulName(options.name, operator, () => this.builder.newStoreName(prefix));
    const name = this.builder.newName(prefix);
    const keySerde = options.key ?? this.keySerde ?? fallbackSerde<K>();
    const input = this.builder.addRepartition(this.node, this.groupedName ?? storeName, {
      keySerde: keySerde as Serde<unknown>,
      valueSerde: changeSerde(this.valueSerde ?? fallbackSerde<V>()) as Serde<unknown>,
      userRequested: false,
    });
    this.builder.addStore(keyValueStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), true));
    const node = this.builder.addProcessor(name, [input], makeProcessor(storeName), [storeName]);
    return new KTable<K, VA>(this.builder, node, keySerde, valueSerde, storeName, table.storeGetter<K, VA>(storeName));
  }

  count(options: AggregateOptions<K, number> = {}): KTable<K, number> {
    const counting = { initializer: () => 0, adder: (_key: K, _value: V, total: number) => total + 1, subtractor: (_key: K, _value: V, total: number) => total - 1 };
    return this.aggregateWith('KTABLE-AGGREGATE-', 'table count', options, options.value ?? Serdes.long(), (store) => table.tableAggregateProcessor(store, counting));
  }

  reduce(adder: (aggregate: V, value: V) => V, subtractor: (aggregate: V, value: V) => V, options: AggregateOptions<K, V> = {}): KTable<K, V> {
    const valueSerde = options.value ?? this.valueSerde ?? fallbackSerde<V>();
    return this.aggregateWith('KTABLE-REDUCE-', 'table reduce', options, valueSerde, (store) => table.tableReduceProcessor<K, V>(store, adder, subtractor));
  }

  aggregate<VA>(initializer: () => VA, adder: (key: K, value: V, aggregate: VA) => VA, subtractor: (key: K, value: V, aggregate: VA) => VA, options: AggregateOptions<K, VA> = {}): KTable<K, VA> {
    return this.aggregateWith('KTABLE-AGGREGATE-', 'table aggregate', options, options.value ?? fallbackSerde<VA>(), (store) => table.tableAggregateProcessor(store, { initializer, adder, subtractor }));
  }
}

/** Several grouped streams feeding one aggregate store, each with its own aggregator. */
export class CogroupedKStream<K, VA> {
  private readonly inputs: { grouped: KGroupedStream<K, unknown>; aggregator: (key: K, value: unknown, aggregate: VA) => VA }[] = [];

  constructor(private readonly builder: InternalBuilder) {}

  cogroup<V>(grouped: KGroupedStream<K, V>, aggregator: (key: K, value: V, aggregate: VA) => VA): CogroupedKStream<K, VA> {
    this.inputs.push({ grouped: grouped as unknown as KGroupedStream<K, unknown>, aggregator: aggregator as (key: K, value: unknown, aggregate: VA) => VA });
    return this;
  }

  aggregate(initializer: () => VA, options: AggregateOptions<K, VA> = {}): KTable<K, VA> {
    const storeName = this.builder.statefulName(options.name, 'cogroup aggregate', () => this.builder.newStoreName('COGROUPKSTREAM-AGGREGATE-'));
    const first = this.inputs[0];
    if (first === undefined) throw new Error('cogroup needs at least one grouped stream');
    const keySerde = options.key ?? first.grouped.keySerde ?? fallbackSerde<K>();
    const valueSerde = options.value ?? fallbackSerde<VA>();
    this.builder.addStore(keyValueStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), true));
    const parents = this.inputs.map(({ grouped, aggregator }, index) => {
      const input = grouped.input(`${storeName}-${index}`);
      const name = this.builder.newName('COGROUPKSTREAM-AGGREGATE-');
      return this.builder.addProcessor(name, [input], aggregate.streamAggregateProcessor(storeName, { initializer, aggregator }), [storeName]);
    });
    const merge = this.builder.addProcessor(this.builder.newName('COGROUPKSTREAM-MERGE-'), parents, passThroughProcessor());
    return new KTable<K, VA>(this.builder, merge, keySerde, valueSerde, storeName, table.storeGetter<K, VA>(storeName));
  }
  /** Cogroups into time windows: every input updates the windows its records fall into. */
  windowedBy(windows: TimeWindows): TimeWindowedCogroupedKStream<K, VA> {
    return new TimeWindowedCogroupedKStream(this.builder, this.inputs, windows);
  }
}

export class TimeWindowedCogroupedKStream<K, VA> {
  constructor(
    private readonly builder: InternalBuilder,
    private readonly inputs: readonly { grouped: KGroupedStream<K, unknown>; aggregator: (key: K, value: unknown, aggregate: VA) => VA }[],
    private readonly windows: TimeWindows,
  ) {}

  /**
   * Emits on every window update, or with `emit: 'on-window-close'` each window's final result
   * once: the inputs' processors share the store and with it one stream time per task.
   */
  aggregate(initializer: () => VA, options: WindowedAggregateOptions<K, VA> = {}): KTable<Windowed<K>, VA> {
    const storeName = this.builder.statefulName(options.name, 'windowed cogroup aggregate', () => this.builder.newStoreName('COGROUPKSTREAM-AGGREGATE-'));
    const first = this.inputs[0];
    if (first === undefined) throw new Error('cogroup needs at least one grouped stream');
    const keySerde = options.key ?? first.grouped.keySerde ?? fallbackSerde<K>();
    const valueSerde = options.value ?? fallbackSerde<VA>();
    const retentionMs = Math.max(options.retention === undefined ? 0 : durationMs(options.retention, 'retention'), this.windows.retentionMs());
    const window = { retentionMs, windowSizeMs: this.windows.sizeMs, retainDuplicates: false, timestamped: true };
    this.builder.addStore(windowStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), window));
    const parents = this.inputs.map(({ grouped, aggregator }, index) => {
      const input = grouped.input(`${storeName}-${index}`);
      const processor = aggregate.windowAggregateProcessor(storeName, this.windows, { initializer, aggregator }, options.emit ?? 'on-window-update');
      return this.builder.addProcessor(this.builder.newName('COGROUPKSTREAM-AGGREGATE-'), [input], processor, [storeName, ...emitProgressStores(this.builder, storeName, options)]);
    });
    const merge = this.builder.addProcessor(this.builder.newName('COGROUPKSTREAM-MERGE-'), parents, passThroughProcessor());
    const getter: table.ValueGetterSupplier<Windowed<K>, VA> = {
      storeNames: [storeName],
      create: () => {
        throw new Error('windowed tables cannot be looked up by joins');
      },
    };
    return new KTable<Windowed<K>, VA>(this.builder, merge, windowedSerde(keySerde), valueSerde, storeName, getter, this.windows.graceMs);
  }
}

