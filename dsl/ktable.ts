// KTable: a changelog stream seen as a table, and GlobalKTable: a table replicated in full to
// every task. Table operators pass Change records and keep a value getter for joins.
import type { Serde } from '../core/serdes/serde.ts';
import { durationMs, type DurationLike } from '../core/topology/duration.ts';
import type { Windowed } from '../core/topology/windows.ts';
import type { GraphNode } from './graph.ts';
import { KGroupedTable } from './grouped.ts';
import { fallbackSerde, type InternalBuilder } from './internal.ts';
import { KStream } from './kstream.ts';
import type { Grouped, Materialized, Named } from './options.ts';
import { passThroughProcessor } from './processors/stateless.ts';
import { bufferedUpdateSerde, suppressProcessor, windowEndTime } from './processors/suppress.ts';
import * as table from './processors/table.ts';
import * as fk from './processors/fk-join.ts';
import { Serdes } from '../core/serdes/serde.ts';
import { keyValueStoreDescriptor, settingsFrom } from './stores.ts';
import { LIMITS } from '../core/limits.ts';

export interface BufferConfig {
  /** Keys held at most; default unbounded (up to the engine's limit). */
  readonly maxRecords?: number;
  /** Default 'emit-early' for time limits; final results must never emit early, so 'shut-down'. */
  readonly whenFull?: 'emit-early' | 'shut-down';
}

export type Suppressed =
  | { readonly kind: 'until-window-closes'; readonly buffer: BufferConfig; readonly name?: string }
  | { readonly kind: 'until-time-limit'; readonly timeLimitMs: number; readonly buffer: BufferConfig; readonly name?: string };

export const Suppressed = {
  /** Emits each window's final result once, when stream time passes its end plus grace. */
  untilWindowCloses: (buffer: BufferConfig = {}): Suppressed => ({ kind: 'until-window-closes', buffer }),
  /** Emits a key's latest value once the limit of stream time has passed since its first held update. */
  untilTimeLimit: (timeLimit: DurationLike, buffer: BufferConfig = {}): Suppressed => ({ kind: 'until-time-limit', timeLimitMs: durationMs(timeLimit, 'time limit'), buffer }),
};

type TableCombine<K, V, VO, VR> = (value: V | null, other: VO | null, key: K) => VR | null;

export class KTable<K, V> {
  constructor(
    readonly builder: InternalBuilder,
    readonly node: GraphNode,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** Name of the store holding this table, when it is materialized. */
    readonly storeName: string | null,
    readonly getter: table.ValueGetterSupplier<K, V>,
    /**
     * For windowed tables, how far stream time must pass a window's end before the window is
     * closed, for suppress(untilWindowCloses): the grace for time windows, whose end is
     * exclusive, grace + 1 for sliding windows, whose end is inclusive, and grace + gap + 1 for
     * session windows, which a record up to one inactivity gap after their end still extends.
     */
    readonly windowCloseDelayMs: number | null = null,
  ) {}

  /** The store interactive queries can read this table from, or null (Kafka's queryableStoreName()). */
  get queryableStoreName(): string | null {
    return this.storeName !== null && this.builder.stores.get(this.storeName)?.queryable === true ? this.storeName : null;
  }

  private derive<VR>(prefix: string, transform: (value: V, key: K) => VR | null, options: Named & Materialized<K, VR>, valueSerde: Serde<VR> | undefined): KTable<K, VR> {
    const name = this.builder.newName(prefix);
    let storeName: string | null = null;
    if (options.name !== undefined) {
      storeName = options.name;
      const keySerde = options.key ?? this.keySerde ?? fallbackSerde<K>();
      this.builder.addStore(keyValueStoreDescriptor(storeName, keySerde, options.value ?? valueSerde ?? fallbackSerde<VR>(), settingsFrom(options), true));
    }
    const node = this.builder.addProcessor(name, [this.node], table.tableTransformProcessor(transform, storeName), storeName === null ? [] : [storeName]);
    const getter = storeName === null ? table.derivedGetter(this.getter, transform) : table.storeGetter<K, VR>(storeName);
    return new KTable<K, VR>(this.builder, node, this.keySerde, options.value ?? valueSerde, storeName, getter, this.windowCloseDelayMs);
  }

  filter(predicate: (value: V, key: K) => boolean, options: Named & Materialized<K, V> = {}): KTable<K, V> {
    return this.derive('KTABLE-FILTER-', (value, key) => (predicate(value, key) ? value : null), options, this.valueSerde);
  }

  filterNot(predicate: (value: V, key: K) => boolean, options: Named & Materialized<K, V> = {}): KTable<K, V> {
    return this.derive('KTABLE-FILTER-', (value, key) => (predicate(value, key) ? null : value), options, this.valueSerde);
  }

  mapValues<VR>(mapper: (value: V, key: K) => VR, options: Named & Materialized<K, VR> = {}): KTable<K, VR> {
    return this.derive<VR>('KTABLE-MAPVALUES-', mapper, options, undefined);
  }

  /** The table's changelog as a stream; deletes arrive as records with a null value. */
  toStream(named: Named = {}): KStream<K, V> {
    const name = named.name ?? this.builder.newName('KTABLE-TOSTREAM-');
    const node = this.builder.addProcessor(name, [this.node], table.toStreamProcessor<K, V>());
    return new KStream<K, V>(this.builder, node, this.keySerde, this.valueSerde, false);
  }

  /** Regroups rows by a new key; aggregations then add new rows and subtract replaced ones. */
  groupBy<KR, VR>(selector: (value: V, key: K) => readonly [KR, VR], grouped: Grouped<KR, VR> = {}): KGroupedTable<KR, VR> {
    const name = this.builder.newName('KTABLE-SELECT-');
    const node = this.builder.addProcessor(name, [this.node], table.tableGroupByProcessor(selector), [], true);
    return new KGroupedTable<KR, VR>(this.builder, node, grouped.key, grouped.value, grouped.name);
  }

  /** Foreign-key join: each row joins the other table's row whose key it extracts. */
  join<KO, VO, VR>(other: KTable<KO, VO>, foreignKey: (value: V) => KO, joiner: (value: V, other: VO) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR>;
  join<VO, VR>(other: KTable<K, VO>, joiner: (value: V, other: VO, key: K) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR>;
  join(other: unknown, second: unknown, third?: unknown, fourth?: unknown): unknown {
    if (typeof third === 'function') {
      const joiner = third as (value: V, other: unknown) => unknown;
      return foreignKeyJoin(this, other as KTable<unknown, unknown>, second as (value: V) => unknown, (value, otherValue) => (otherValue === null ? null : joiner(value, otherValue)), (fourth ?? {}) as Named & Materialized<K, unknown>);
    }
    const joiner = second as unknown as (value: V, other: unknown, key: K) => unknown;
    const table = other as unknown as KTable<K, unknown>;
    return this.tableJoin(table, (value, otherValue, key) => (value === null || otherValue === null ? null : joiner(value, otherValue, key)), (third ?? {}) as Named & Materialized<K, unknown>, 'KTABLE-JOINTHIS-', 'KTABLE-JOINOTHER-');
  }

  /** Foreign-key left join: rows without a matching other row join with null. */
  leftJoin<KO, VO, VR>(other: KTable<KO, VO>, foreignKey: (value: V) => KO, joiner: (value: V, other: VO | null) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR>;
  leftJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V, other: VO | null, key: K) => VR, options?: Named & Materialized<K, VR>): KTable<K, VR>;
  leftJoin(other: unknown, second: unknown, third?: unknown, fourth?: unknown): unknown {
    if (typeof third === 'function') {
      const joiner = third as (value: V, other: unknown) => unknown;
      return foreignKeyJoin(this, other as KTable<unknown, unknown>, second as (value: V) => unknown, joiner, (fourth ?? {}) as Named & Materialized<K, unknown>);
    }
    const joiner = second as unknown as (value: V, other: unknown, key: K) => unknown;
    const table = other as unknown as KTable<K, unknown>;
    return this.tableJoin(table, (value, otherValue, key) => (value === null ? null : joiner(value, otherValue, key)), (third ?? {}) as Named & Materialized<K, unknown>, 'KTABLE-LEFTTHIS-', 'KTABLE-LEFTOTHER-');
  }

  outerJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V | null, other: VO | null, key: K) => VR, options: Named & Materialized<K, VR> = {}): KTable<K, VR> {
    return this.tableJoin(other, (value, otherValue, key) => (value === null && otherValue === null ? null : joiner(value, otherValue, key)), options, 'KTABLE-OUTERTHIS-', 'KTABLE-OUTEROTHER-');
  }

  private tableJoin<VO, VR>(other: KTable<K, VO>, combine: TableCombine<K, V, VO, VR>, options: Named & Materialized<K, VR>, thisPrefix: string, otherPrefix: string): KTable<K, VR> {
    const builder = this.builder;
    const base = options.name;
    const thisName = base === undefined ? builder.newName(thisPrefix) : `${base}-join-this`;
    const otherName = base === undefined ? builder.newName(otherPrefix) : `${base}-join-other`;
    const mergeName = base === undefined ? builder.newName('KTABLE-MERGE-') : `${base}-join-merge`;
    const swapped: TableCombine<K, VO, V, VR> = (value, otherValue, key) => combine(otherValue, value, key);
    const thisNode = builder.addProcessor(thisName, [this.node], table.tableJoinProcessor(other.getter, combine, null), other.getter.storeNames);
    const otherNode = builder.addProcessor(otherName, [other.node], table.tableJoinProcessor(this.getter, swapped, null), this.getter.storeNames);
    let storeName: string | null = null;
    if (base !== undefined) {
      storeName = base;
      builder.addStore(keyValueStoreDescriptor(storeName, options.key ?? this.keySerde ?? fallbackSerde<K>(), options.value ?? fallbackSerde<VR>(), settingsFrom(options), true));
    }
    const merge = builder.addProcessor(mergeName, [thisNode, otherNode], storeName === null ? passThroughProcessor() : table.tableTransformProcessor((value: VR) => value, storeName), storeName === null ? [] : [storeName]);
    builder.copartitioned.push([this.node.name, other.node.name]);
    const getter = storeName === null ? table.joinedGetter(this.getter, other.getter, combine) : table.storeGetter<K, VR>(storeName);
    return new KTable<K, VR>(builder, merge, this.keySerde, options.value, storeName, getter);
  }

  /** Holds updates back: final results per window, or the latest value per key after a time limit. */
  suppress(suppressed: Suppressed): KTable<K, V> {
    const name = suppressed.name ?? this.builder.newName('KTABLE-SUPPRESS-');
    const storeName = this.builder.statefulName(suppressed.name === undefined ? undefined : `${suppressed.name}-store`, 'suppress', () => this.builder.newStoreName('KTABLE-SUPPRESS-'));
    const keySerde = this.keySerde ?? fallbackSerde<K>();
    const valueSerde = this.valueSerde ?? fallbackSerde<V>();
    const recordsMax = suppressed.buffer.maxRecords ?? LIMITS.suppressBufferRecordsMax;
    let options;
    if (suppressed.kind === 'until-window-closes') {
      if (this.windowCloseDelayMs === null) throw new Error('suppress(untilWindowCloses) needs a windowed table');
      options = { bufferTimeMs: windowEndTime as never, delayMs: this.windowCloseDelayMs, recordsMax, whenFull: 'shut-down' as const, keySerde, storeName };
    } else {
      options = { bufferTimeMs: (record: { timestamp: number }) => record.timestamp, delayMs: suppressed.timeLimitMs, recordsMax, whenFull: suppressed.buffer.whenFull ?? 'emit-early', keySerde, storeName };
    }
    this.builder.addStore(keyValueStoreDescriptor(storeName, Serdes.bytes(), bufferedUpdateSerde, settingsFrom({ caching: false }), false));
    const node = this.builder.addProcessor(name, [this.node], suppressProcessor<K, V>(options, valueSerde), [storeName]);
    return new KTable<K, V>(this.builder, node, this.keySerde, this.valueSerde, null, this.getter, this.windowCloseDelayMs);
  }
}

/**
 * Wires a foreign-key join: registration -> subscription topic (keyed by foreign key) ->
 * subscription store beside the other table -> response topic (keyed by this table's key) ->
 * resolver beside this table. joiner returns null to drop a row (inner joins without a match).
 */
function foreignKeyJoin<K, V, KO, VO, VR>(
  left: KTable<K, V>,
  right: KTable<KO, VO>,
  foreignKey: (value: V) => KO,
  joiner: (value: V, other: VO | null) => VR | null,
  options: Named & Materialized<K, VR>,
): KTable<K, VR> {
  const builder = left.builder;
  const keySerde = left.keySerde ?? fallbackSerde<K>();
  const valueSerde = left.valueSerde ?? fallbackSerde<V>();
  const foreignKeySerde = right.keySerde ?? fallbackSerde<KO>();
  const combined = fk.combinedKeySerde(foreignKeySerde, keySerde);
  const registrationName = builder.newName('KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-');
  const registration = builder.addProcessor(registrationName, [left.node], fk.subscriptionSendProcessor<K, V, KO>(foreignKey, valueSerde, foreignKeySerde), [], true);
  const subscriptionTopic = builder.addRepartition(registration, registrationName, { keySerde: foreignKeySerde as Serde<unknown>, valueSerde: fk.subscriptionSerde(keySerde) as Serde<unknown>, userRequested: true, topicSuffix: '-topic' });
  const storeName = builder.statefulName(options.name === undefined ? undefined : `${options.name}-subscription-store`, 'foreign-key join', () => builder.newStoreName('KTABLE-FK-JOIN-SUBSCRIPTION-'));
  builder.addStore(keyValueStoreDescriptor(storeName, Serdes.bytes(), Serdes.string(), settingsFrom({ caching: false }), false));
  const receive = builder.addProcessor(builder.newName('KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-'), [subscriptionTopic], fk.subscriptionReceiveProcessor<K, KO, VO>(storeName, right.getter, combined), [storeName, ...right.getter.storeNames]);
  const rightChanges = builder.addProcessor(builder.newName('KTABLE-FK-JOIN-SUBSCRIPTION-JOIN-FOREIGN-PROCESSOR-'), [right.node], fk.rightChangeProcessor<K, KO, VO>(storeName, combined, foreignKeySerde), [storeName]);
  const responseName = builder.newName('KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-');
  const responseTopic = builder.addRepartition(receive, responseName, { keySerde: keySerde as Serde<unknown>, valueSerde: fk.responseSerde(right.valueSerde ?? fallbackSerde<VO>()) as Serde<unknown>, userRequested: true, topicSuffix: '-topic' });
  responseTopic.parents.push(rightChanges);
  let resultStore: string | null = null;
  if (options.name !== undefined) {
    resultStore = options.name;
    builder.addStore(keyValueStoreDescriptor(resultStore, keySerde, options.value ?? fallbackSerde<VR>(), settingsFrom(options), true));
  }
  const resolverStores = resultStore === null ? [...left.getter.storeNames] : [...left.getter.storeNames, resultStore];
  const resolver = builder.addProcessor(builder.newName('KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-'), [responseTopic], fk.responseResolveProcessor<K, V, VO, VR>(left.getter, valueSerde, joiner, resultStore), resolverStores);
  builder.copartitioned.push([subscriptionTopic.name, right.node.name], [responseTopic.name, left.node.name]);
  const getter: table.ValueGetterSupplier<K, VR> = resultStore === null
    ? { storeNames: [], create: () => { throw new Error('an unmaterialized foreign-key join result cannot be looked up; give it a name'); } }
    : table.storeGetter<K, VR>(resultStore);
  return new KTable<K, VR>(builder, resolver, keySerde, options.value, resultStore, getter);
}

/** A table read in full by every task; joined by a key selected from each stream record. */
export class GlobalKTable<K, V> {
  constructor(
    readonly node: GraphNode,
    readonly storeName: string,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
  ) {}
}

export type WindowedKTable<K, V> = KTable<Windowed<K>, V>;
