// Options objects for DSL operators, named after Kafka Streams' Consumed, Produced, Grouped,
// Materialized, Joined, StreamJoined, Repartitioned and Named. Every field is optional; serdes
// not given follow the stream (when its types did not change) or fall back to JSON.
import type { Serde } from '../core/serdes/serde.ts';
import type { DurationLike } from '../core/topology/duration.ts';
import type { StreamPartitioner, TimestampExtractor } from '../core/topology/processor.ts';
import type { OffsetReset } from '../core/topology/topology.ts';
import type { KeyValueBytesStoreSupplier } from '../state/stores/types.ts';

export interface Named {
  /** Names the operator's processor node. */
  readonly name?: string;
}

export interface Consumed<K, V> extends Named {
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  readonly timestampExtractor?: TimestampExtractor;
  readonly offsetReset?: OffsetReset;
}

export interface Produced<K, V> extends Named {
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  readonly partitioner?: StreamPartitioner<K, V>;
}

export interface Grouped<K, V> {
  /** Names the repartition topic (`<name>-repartition`) and its processors. */
  readonly name?: string;
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
}

export interface Repartitioned<K, V> {
  readonly name?: string;
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  readonly partitions?: number;
  readonly partitioner?: StreamPartitioner<K, V>;
}

export interface Materialized<K, V> {
  /** Store name; it decides the changelog topic name, and a named store is queryable. */
  readonly name?: string;
  /**
   * Default true for a named store: interactive queries may read it by name. False keeps the
   * store private to its operator. Unnamed stores are never queryable, since their generated
   * names change with the topology.
   */
  readonly queryable?: boolean;
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  /**
   * Default true: writes stay in a cache until commit, and a table's updates go downstream
   * merged, one per key per commit (or when the cache fills), old value = last one sent.
   * False writes and forwards every update at once. Time-windowed aggregations (and windowed
   * cogroups) merge per window the same way; sliding and session aggregations cache writes but
   * still forward every update.
   */
  readonly caching?: boolean;
  /** Default true. */
  readonly logging?: boolean;
  readonly changelogConfig?: Readonly<Record<string, string>>;
  /** For window and session stores: how long to keep windows (at least size plus grace). */
  readonly retention?: DurationLike;
  /** Innermost bytes store; in memory by default. */
  readonly storeSupplier?: KeyValueBytesStoreSupplier;
}

export interface Joined<K, V, VO> extends Named {
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  readonly otherValue?: Serde<VO>;
}

export interface StreamJoined<K, V, VO> extends Named {
  readonly key?: Serde<K>;
  readonly value?: Serde<V>;
  readonly otherValue?: Serde<VO>;
  /** Prefix for the join stores (`<storeName>-this-join-store`, `-other-join-store`). */
  readonly storeName?: string;
  readonly logging?: boolean;
}

export interface Branched<K, V> {
  readonly name?: string;
  /** Transforms the branch; the result is what the branch map holds. */
  readonly chain?: (stream: import('./kstream.ts').KStream<K, V>) => import('./kstream.ts').KStream<K, V> | void;
}

export type ProcessorOptions = Named & {
  /** Stores (added with StreamsBuilder.addStateStore) the processor may use. */
  readonly stores?: readonly string[];
};
