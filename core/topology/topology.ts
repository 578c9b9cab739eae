// The plain-data Topology: what the DSL compiles to and all the runtime sees. Nodes carry the
// processor suppliers and serdes they need; everything else is names. Internal topic names are
// stored without the application id; the runtime prefixes them (`<application.id>-<name>`).
import type { Serde } from '../serdes/serde.ts';
import type {
  Processor,
  StateStore,
  StreamPartitioner,
  TimestampExtractor,
  TopicNameExtractor,
} from './processor.ts';

export type UntypedProcessor = Processor<unknown, unknown, unknown, unknown>;
export type OffsetReset = 'earliest' | 'latest';

export interface SourceNode {
  readonly kind: 'source';
  readonly name: string;
  /** Topics read by name; empty when a pattern is used. */
  readonly topics: readonly string[];
  readonly pattern: RegExp | null;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly timestampExtractor: TimestampExtractor | null;
  readonly offsetReset: OffsetReset | null;
  readonly successors: readonly string[];
}

export interface ProcessorNode {
  readonly kind: 'processor';
  readonly name: string;
  readonly supplier: () => UntypedProcessor;
  readonly stores: readonly string[];
  readonly predecessors: readonly string[];
  readonly successors: readonly string[];
}

export interface SinkNode {
  readonly kind: 'sink';
  readonly name: string;
  readonly topic: string | TopicNameExtractor<unknown, unknown>;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly partitioner: StreamPartitioner<unknown, unknown> | null;
  readonly predecessors: readonly string[];
}

export type TopologyNode = SourceNode | ProcessorNode | SinkNode;

export type StoreKind = 'key-value' | 'window' | 'session';

export interface StoreDescriptor {
  readonly name: string;
  readonly kind: StoreKind;
  /** Values carry the timestamp of the record that wrote them (tables do). */
  readonly timestamped: boolean;
  readonly logging: boolean;
  readonly caching: boolean;
  /**
   * Whether interactive queries (and the test driver's store getters) may read the store by
   * name. Only stores the user named are queryable, unless Materialized said otherwise;
   * generated and internal stores (join buffers, suppress buffers, subscriptions) never are.
   */
  readonly queryable: boolean;
  /** Changelog topic without the application id prefix, or null when logging is off. */
  readonly changelogTopic: string | null;
  readonly changelogConfig: Readonly<Record<string, string>>;
  readonly retentionMs: number | null;
  readonly windowSizeMs: number | null;
  readonly keySerdeName: string;
  readonly valueSerdeName: string;
  /** Builds a fresh, uninitialised store for one task. */
  readonly build: () => StateStore;
}

export interface InternalTopic {
  /** Without the application id prefix. */
  readonly name: string;
  readonly kind: 'repartition' | 'changelog';
  /** Partition count fixed by the user, or null to follow the source topics. */
  readonly partitions: number | null;
  readonly config: Readonly<Record<string, string>>;
}

export interface Subtopology {
  readonly id: number;
  readonly nodes: readonly TopologyNode[];
}

/** A global store: its own source and update processor, replicated to every instance. */
export interface GlobalStore {
  readonly id: number;
  readonly source: SourceNode;
  readonly processor: ProcessorNode;
  readonly storeName: string;
}

export interface Topology {
  readonly subtopologies: readonly Subtopology[];
  readonly globalStores: readonly GlobalStore[];
  readonly stores: readonly StoreDescriptor[];
  readonly internalTopics: readonly InternalTopic[];
  /** Groups of source topics that must have equal partition counts (joins, cogroups). */
  readonly copartitionGroups: readonly (readonly string[])[];
}

export function isInternalTopic(topology: Topology, name: string): boolean {
  return topology.internalTopics.some((topic) => topic.name === name);
}

/** The name of a topic on the cluster: internal topics get the application id prefix. */
export function resolveTopicName(topology: Topology, applicationId: string, name: string): string {
  return isInternalTopic(topology, name) ? `${applicationId}-${name}` : name;
}

export function findStore(topology: Topology, name: string): StoreDescriptor | undefined {
  return topology.stores.find((store) => store.name === name);
}

/** Source topics read by name in a sub-topology (patterns are resolved by the runtime). */
/** The descriptor of a store that interactive queries may read, or an error saying why not. */
export function findQueryableStore(topology: Topology, name: string, kind: StoreKind): StoreDescriptor {
  const descriptor = findStore(topology, name);
  if (descriptor === undefined) throw new Error(`no store named ${name}`);
  if (!descriptor.queryable) throw new Error(`store ${name} is not queryable: name it in Materialized (and leave queryable on)`);
  if (descriptor.kind !== kind) throw new Error(`store ${name} is a ${descriptor.kind} store, not a ${kind} store`);
  return descriptor;
}

export function subtopologySourceTopics(subtopology: Subtopology): string[] {
  return subtopology.nodes.flatMap((node) => (node.kind === 'source' ? [...node.topics] : []));
}

export function subtopologyStores(subtopology: Subtopology): string[] {
  const names = new Set<string>();
  for (const node of subtopology.nodes) if (node.kind === 'processor') for (const store of node.stores) names.add(store);
  return [...names];
}
