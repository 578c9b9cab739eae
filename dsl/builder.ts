// StreamsBuilder: the entry point of the DSL. It reads topics as streams and tables, collects
// the operators users chain onto them, and builds the plain-data Topology the runtime executes.
import type { Serde } from '../core/serdes/serde.ts';
import { durationMs, type DurationLike } from '../core/topology/duration.ts';
import { describeTopologyData, describeTopologyText, type TopologyDescription } from '../core/topology/describe.ts';
import type { Topology } from '../core/topology/topology.ts';
import type { SourceGraphNode } from './graph.ts';
import { InternalBuilder, fallbackSerde, type BuilderOptions } from './internal.ts';
import { KStream } from './kstream.ts';
import { GlobalKTable, KTable } from './ktable.ts';
import type { Consumed, Materialized } from './options.ts';
import { storeGetter, tableSourceProcessor } from './processors/table.ts';
import { keyValueStoreDescriptor, sessionStoreDescriptor, settingsFrom, windowStoreDescriptor } from './stores.ts';

export type StateStoreSpec<K, V> =
  | ({ readonly kind: 'key-value'; readonly name: string; readonly key: Serde<K>; readonly value: Serde<V> } & Omit<Materialized<K, V>, 'name' | 'key' | 'value'>)
  | ({ readonly kind: 'window'; readonly name: string; readonly key: Serde<K>; readonly value: Serde<V>; readonly retention: DurationLike; readonly windowSize: DurationLike; readonly retainDuplicates?: boolean } & Omit<Materialized<K, V>, 'name' | 'key' | 'value' | 'retention'>)
  | ({ readonly kind: 'session'; readonly name: string; readonly key: Serde<K>; readonly value: Serde<V>; readonly retention: DurationLike } & Omit<Materialized<K, V>, 'name' | 'key' | 'value' | 'retention'>);

export class StreamsBuilder {
  private readonly internal: InternalBuilder;

  constructor(options: BuilderOptions = {}) {
    this.internal = new InternalBuilder(options);
  }

  /** Warnings about generated names of stateful operators. */
  get warnings(): readonly string[] {
    return this.internal.warnings;
  }

  private source<K, V>(topics: readonly string[], pattern: RegExp | null, consumed: Consumed<K, V>): SourceGraphNode {
    return this.internal.addNode({
      kind: 'source',
      name: consumed.name ?? this.internal.newName('KSTREAM-SOURCE-'),
      topics: [...topics],
      pattern,
      keySerde: (consumed.key ?? fallbackSerde<K>()) as Serde<unknown>,
      valueSerde: (consumed.value ?? fallbackSerde<V>()) as Serde<unknown>,
      timestampExtractor: consumed.timestampExtractor ?? null,
      offsetReset: consumed.offsetReset ?? null,
      parents: [],
    });
  }

  /** A stream of the records in one or more topics, or in every topic matching a pattern. */
  stream<K = string, V = string>(topics: string | readonly string[] | RegExp, consumed: Consumed<K, V> = {}): KStream<K, V> {
    const node = topics instanceof RegExp ? this.source([], topics, consumed) : this.source(typeof topics === 'string' ? [topics] : topics, null, consumed);
    return new KStream<K, V>(this.internal, node, consumed.key, consumed.value, false);
  }

  /** A table over a topic: each record upserts its key, a null value deletes it. */
  table<K = string, V = string>(topic: string, consumed: Consumed<K, V> = {}, materialized: Materialized<K, V> = {}): KTable<K, V> {
    const storeName = this.internal.statefulName(materialized.name, `table(${topic})`, () => this.internal.newStoreName(`${topic}-`));
    const source = this.source(topic === '' ? [] : [topic], null, consumed);
    const keySerde = materialized.key ?? consumed.key ?? fallbackSerde<K>();
    const valueSerde = materialized.value ?? consumed.value ?? fallbackSerde<V>();
    this.internal.addStore(keyValueStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(materialized), true));
    const node = this.internal.addProcessor(this.internal.newName('KTABLE-SOURCE-'), [source], tableSourceProcessor<K, V>(storeName), [storeName]);
    return new KTable<K, V>(this.internal, node, keySerde, valueSerde, storeName, storeGetter<K, V>(storeName));
  }

  /** A table every task holds in full; its source topic is its changelog, so it logs nothing. */
  globalTable<K = string, V = string>(topic: string, consumed: Consumed<K, V> = {}, materialized: Materialized<K, V> = {}): GlobalKTable<K, V> {
    const storeName = this.internal.statefulName(materialized.name, `globalTable(${topic})`, () => this.internal.newStoreName(`${topic}-`));
    const keySerde = materialized.key ?? consumed.key ?? fallbackSerde<K>();
    const valueSerde = materialized.value ?? consumed.value ?? fallbackSerde<V>();
    this.internal.addStore(keyValueStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom({ ...materialized, logging: false }), true));
    const sourceName = consumed.name ?? this.internal.newName('KSTREAM-SOURCE-');
    const processorName = this.internal.newName('KTABLE-SOURCE-');
    this.internal.globalStores.push({
      storeName,
      source: { kind: 'source', name: sourceName, topics: [topic], pattern: null, keySerde: keySerde as Serde<unknown>, valueSerde: valueSerde as Serde<unknown>, timestampExtractor: consumed.timestampExtractor ?? null, offsetReset: consumed.offsetReset ?? null, successors: [processorName] },
      processor: { kind: 'processor', name: processorName, supplier: tableSourceProcessor<K, V>(storeName), stores: [storeName], predecessors: [sourceName], successors: [] },
    });
    const node: SourceGraphNode = { kind: 'source', name: sourceName, topics: [topic], pattern: null, keySerde: keySerde as Serde<unknown>, valueSerde: valueSerde as Serde<unknown>, timestampExtractor: null, offsetReset: null, parents: [] };
    return new GlobalKTable<K, V>(node, storeName, keySerde, valueSerde);
  }

  /** Adds a store for processors given to process() or processValues(). */
  addStateStore<K, V>(spec: StateStoreSpec<K, V>): this {
    const settings = settingsFrom(spec);
    if (spec.kind === 'key-value') {
      this.internal.addStore(keyValueStoreDescriptor(spec.name, spec.key, spec.value, settings, false));
    } else if (spec.kind === 'window') {
      const window = { retentionMs: durationMs(spec.retention, 'retention'), windowSizeMs: durationMs(spec.windowSize, 'window size'), retainDuplicates: spec.retainDuplicates ?? false, timestamped: false };
      this.internal.addStore(windowStoreDescriptor(spec.name, spec.key, spec.value, settings, window));
    } else {
      this.internal.addStore(sessionStoreDescriptor(spec.name, spec.key, spec.value, settings, durationMs(spec.retention, 'retention')));
    }
    return this;
  }

  build(): Topology {
    return this.internal.build();
  }
}

/** The topology in Kafka Streams' describe() text format. */
export function describe(topology: Topology): string {
  return describeTopologyText(describeTopologyData(topology));
}

/** The topology as JSON-ready data, for pictures and for checkCompatibility. */
export function describeData(topology: Topology): TopologyDescription {
  return describeTopologyData(topology);
}
