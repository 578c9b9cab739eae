// Writes the logical graph into a plain-data Topology: repartitions expand into filter, sink
// and source; nodes connected by edges or by a shared store form one sub-topology; sub-topology
// ids follow the order in which their first node was added, like Kafka Streams.
import type { ProcessorContext } from '../core/topology/processor.ts';
import type { GlobalStore, UntypedProcessor, InternalTopic, ProcessorNode, SinkNode, SourceNode, StoreDescriptor, Subtopology, Topology, TopologyNode } from '../core/topology/topology.ts';
import { mergeRepartitions, mergeSources, type GraphNode } from './graph.ts';

export interface GraphSnapshot {
  readonly nodes: GraphNode[];
  readonly stores: ReadonlyMap<string, StoreDescriptor>;
  readonly globalStores: readonly Omit<GlobalStore, 'id'>[];
  /** Pairs (or more) of graph node names whose input topics must be co-partitioned. */
  readonly copartitionedNodes: readonly (readonly string[])[];
  readonly optimize: boolean;
}

interface MutableNode {
  readonly node: TopologyNode;
  readonly predecessors: string[];
  readonly successors: string[];
}

/** Repartition topics drop records without a key, which could not be partitioned. */
function keepNonNullKeys(): UntypedProcessor {
  let context: ProcessorContext<unknown, unknown> | null = null;
  return {
    init: (processorContext) => {
      context = processorContext;
    },
    process: (record) => {
      if (record.key !== null && record.key !== undefined) context?.forward(record);
      else if (context !== null) context.metrics.droppedRecords++;
    },
  };
}

function physicalNodes(nodes: readonly GraphNode[]): MutableNode[] {
  const result: MutableNode[] = [];
  const push = (node: TopologyNode, predecessors: string[]): void => {
    result.push({ node, predecessors, successors: [] });
  };
  for (const node of nodes) {
    const parents = node.parents.map((parent) => parent.name);
    if (node.kind === 'source') {
      push({ kind: 'source', name: node.name, topics: node.topics, pattern: node.pattern, keySerde: node.keySerde, valueSerde: node.valueSerde, timestampExtractor: node.timestampExtractor, offsetReset: node.offsetReset, successors: [] }, []);
    } else if (node.kind === 'processor') {
      push({ kind: 'processor', name: node.name, supplier: node.supplier, stores: node.stores, predecessors: [], successors: [] }, parents);
    } else if (node.kind === 'sink') {
      push({ kind: 'sink', name: node.name, topic: node.topic, keySerde: node.keySerde, valueSerde: node.valueSerde, partitioner: node.partitioner, predecessors: [] }, parents);
    } else {
      push({ kind: 'processor', name: node.filterName, supplier: keepNonNullKeys, stores: [], predecessors: [], successors: [] }, parents);
      push({ kind: 'sink', name: node.sinkName, topic: node.topic, keySerde: node.keySerde, valueSerde: node.valueSerde, partitioner: node.partitioner, predecessors: [] }, [node.filterName]);
      push({ kind: 'source', name: node.name, topics: [node.topic], pattern: null, keySerde: node.keySerde, valueSerde: node.valueSerde, timestampExtractor: null, offsetReset: null, successors: [] }, []);
    }
  }
  const byName = new Map(result.map((entry) => [entry.node.name, entry]));
  for (const entry of result) {
    for (const predecessor of entry.predecessors) {
      const parent = byName.get(predecessor);
      if (parent === undefined) throw new Error(`node ${entry.node.name} has unknown parent ${predecessor}`);
      parent.successors.push(entry.node.name);
    }
  }
  return result;
}

function finish(entry: MutableNode): TopologyNode {
  const node = entry.node;
  if (node.kind === 'source') return { ...node, successors: entry.successors } satisfies SourceNode;
  if (node.kind === 'processor') return { ...node, predecessors: entry.predecessors, successors: entry.successors } satisfies ProcessorNode;
  return { ...node, predecessors: entry.predecessors } satisfies SinkNode;
}

/** Union-find over node names: edges and shared stores join groups. */
function groupNodes(entries: readonly MutableNode[]): Map<string, number> {
  const parent = new Map<string, string>(entries.map((entry) => [entry.node.name, entry.node.name]));
  const find = (name: string): string => {
    let root = name;
    while (parent.get(root) !== root) root = parent.get(root) ?? root;
    parent.set(name, root);
    return root;
  };
  const union = (a: string, b: string): void => {
    parent.set(find(a), find(b));
  };
  const storeOwner = new Map<string, string>();
  for (const entry of entries) {
    for (const predecessor of entry.predecessors) union(entry.node.name, predecessor);
    if (entry.node.kind !== 'processor') continue;
    for (const store of entry.node.stores) {
      const owner = storeOwner.get(store);
      if (owner === undefined) storeOwner.set(store, entry.node.name);
      else union(entry.node.name, owner);
    }
  }
  const ids = new Map<string, number>();
  const groupOf = new Map<string, number>();
  for (const entry of entries) {
    const root = find(entry.node.name);
    if (!ids.has(root)) ids.set(root, ids.size);
    groupOf.set(entry.node.name, ids.get(root) ?? 0);
  }
  return groupOf;
}

function rootTopics(nodes: readonly GraphNode[], name: string): string[] {
  const node = nodes.find((candidate) => candidate.name === name);
  if (node === undefined) return [];
  if (node.kind === 'source') return node.topics;
  if (node.kind === 'repartition') return [node.topic];
  return node.parents.flatMap((parent) => rootTopics(nodes, parent.name));
}

export function writeTopology(snapshot: GraphSnapshot): Topology {
  let nodes = mergeSources([...snapshot.nodes]);
  if (snapshot.optimize) nodes = mergeRepartitions(nodes);
  const entries = physicalNodes(nodes);
  const groupOf = groupNodes(entries);
  const subtopologies: Subtopology[] = [];
  for (const entry of entries) {
    const id = groupOf.get(entry.node.name) ?? 0;
    let subtopology = subtopologies[id];
    if (subtopology === undefined) subtopologies[id] = subtopology = { id, nodes: [] };
    (subtopology.nodes as TopologyNode[]).push(finish(entry));
  }
  const internalTopics: InternalTopic[] = [];
  for (const node of nodes) {
    if (node.kind === 'repartition') internalTopics.push({ name: node.topic, kind: 'repartition', partitions: node.partitions, config: { 'cleanup.policy': 'delete' } });
  }
  for (const store of snapshot.stores.values()) {
    if (store.logging && store.changelogTopic !== null) {
      internalTopics.push({ name: store.changelogTopic, kind: 'changelog', partitions: null, config: { 'cleanup.policy': store.kind === 'key-value' ? 'compact' : 'compact,delete', ...store.changelogConfig } });
    }
  }
  const globalStores = snapshot.globalStores.map((store, index) => ({ ...store, id: subtopologies.length + index }));
  const copartitionGroups = snapshot.copartitionedNodes.map((group) => [...new Set(group.flatMap((name) => rootTopics(nodes, name)))].sort());
  return { subtopologies, globalStores, stores: [...snapshot.stores.values()], internalTopics, copartitionGroups };
}
