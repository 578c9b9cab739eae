// The logical graph the DSL builds. Nodes point at their parents; repartitions are one logical
// node until the topology is written, so the optimizer can merge them. The graph never sees
// the runtime; build.ts turns it into a plain-data Topology.
import type { Serde } from '../core/serdes/serde.ts';
import type { StreamPartitioner, TimestampExtractor, TopicNameExtractor } from '../core/topology/processor.ts';
import type { OffsetReset, UntypedProcessor } from '../core/topology/topology.ts';

export interface SourceGraphNode {
  readonly kind: 'source';
  readonly name: string;
  topics: string[];
  readonly pattern: RegExp | null;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly timestampExtractor: TimestampExtractor | null;
  readonly offsetReset: OffsetReset | null;
  parents: GraphNode[];
}

export interface ProcessorGraphNode {
  readonly kind: 'processor';
  readonly name: string;
  readonly supplier: () => UntypedProcessor;
  stores: string[];
  parents: GraphNode[];
  /** Set for key-changing operators, so the optimizer knows where repartitions come from. */
  readonly keyChanging: boolean;
}

export interface SinkGraphNode {
  readonly kind: 'sink';
  readonly name: string;
  readonly topic: string | TopicNameExtractor<unknown, unknown>;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly partitioner: StreamPartitioner<unknown, unknown> | null;
  parents: GraphNode[];
}

/** Expands to filter (drop null keys) -> sink -> topic -> source. */
export interface RepartitionGraphNode {
  readonly kind: 'repartition';
  /** The source's name, which children see as their parent. */
  readonly name: string;
  readonly topic: string;
  readonly sinkName: string;
  readonly filterName: string;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly partitions: number | null;
  readonly partitioner: StreamPartitioner<unknown, unknown> | null;
  /** Repartitions the user asked for explicitly are never merged. */
  readonly userRequested: boolean;
  parents: GraphNode[];
}

export type GraphNode = SourceGraphNode | ProcessorGraphNode | SinkGraphNode | RepartitionGraphNode;

export function childrenOf(nodes: readonly GraphNode[], parent: GraphNode): GraphNode[] {
  return nodes.filter((node) => node.parents.includes(parent));
}

/**
 * Merges repartitions of the same parent into the first one: a key-changing operation feeding
 * several stateful operations then writes one repartition topic instead of one per operation.
 */
export function mergeRepartitions(nodes: GraphNode[]): GraphNode[] {
  const removed = new Set<GraphNode>();
  for (const node of nodes) {
    if (node.kind !== 'repartition' || node.userRequested || removed.has(node)) continue;
    for (const other of nodes) {
      if (other === node || other.kind !== 'repartition' || other.userRequested || removed.has(other)) continue;
      if (other.parents.length !== 1 || other.parents[0] !== node.parents[0]) continue;
      for (const child of nodes) child.parents = child.parents.map((parent) => (parent === other ? node : parent));
      removed.add(other);
    }
  }
  return nodes.filter((node) => !removed.has(node));
}

/** Merges sources that read exactly the same topics, as one consumer subscription must. */
export function mergeSources(nodes: GraphNode[]): GraphNode[] {
  const removed = new Set<GraphNode>();
  const sources = nodes.filter((node): node is SourceGraphNode => node.kind === 'source' && node.pattern === null);
  for (const [index, node] of sources.entries()) {
    if (removed.has(node)) continue;
    for (const other of sources.slice(index + 1)) {
      if (removed.has(other) || other.topics.join('\u0000') !== node.topics.join('\u0000')) continue;
      if (other.keySerde !== node.keySerde || other.valueSerde !== node.valueSerde) {
        throw new Error(`topics [${node.topics.join(', ')}] are read by two sources with different serdes`);
      }
      for (const child of nodes) child.parents = child.parents.map((parent) => (parent === other ? node : parent));
      removed.add(other);
    }
  }
  return nodes.filter((node) => !removed.has(node));
}
