// describe(): the topology as Kafka Streams prints it, and as plain JSON-ready data. Node order
// follows Kafka Streams: larger sub-trees first, then by name, so the text is stable.
import type { GlobalStore, Subtopology, Topology, TopologyNode } from './topology.ts';

export interface NodeDescription {
  readonly kind: 'source' | 'processor' | 'sink';
  readonly name: string;
  readonly topics?: readonly string[];
  readonly topicPattern?: string;
  readonly topic?: string;
  readonly stores?: readonly string[];
  readonly successors: readonly string[];
  readonly predecessors: readonly string[];
}

export interface TopologyDescription {
  readonly subtopologies: readonly { readonly id: number; readonly nodes: readonly NodeDescription[] }[];
  readonly globalStores: readonly { readonly id: number; readonly source: NodeDescription; readonly processor: NodeDescription }[];
  readonly stores: readonly { readonly name: string; readonly kind: string; readonly changelogTopic: string | null }[];
  readonly internalTopics: readonly { readonly name: string; readonly kind: string }[];
}

function successorsOf(node: TopologyNode): readonly string[] {
  return node.kind === 'sink' ? [] : node.successors;
}

function predecessorsOf(node: TopologyNode): readonly string[] {
  return node.kind === 'source' ? [] : node.predecessors;
}

/** Sub-tree sizes counted the way Kafka Streams counts them: each node plus its successors' sizes. */
function subtreeSizes(nodes: readonly TopologyNode[]): Map<string, number> {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const sizes = new Map<string, number>();
  const sizeOf = (name: string): number => {
    const known = sizes.get(name);
    if (known !== undefined) return known;
    const node = byName.get(name);
    const size = node === undefined ? 0 : 1 + successorsOf(node).reduce((sum, next) => sum + sizeOf(next), 0);
    sizes.set(name, size);
    return size;
  };
  for (const node of nodes) sizeOf(node.name);
  return sizes;
}

function sortNames(names: readonly string[], sizes: Map<string, number>): string[] {
  return [...names].sort((a, b) => (sizes.get(b) ?? 0) - (sizes.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
}

function describeNode(node: TopologyNode, sizes: Map<string, number>): NodeDescription {
  const successors = sortNames(successorsOf(node), sizes);
  const predecessors = sortNames(predecessorsOf(node), sizes);
  if (node.kind === 'source') {
    return node.pattern === null
      ? { kind: 'source', name: node.name, topics: [...node.topics], successors, predecessors }
      : { kind: 'source', name: node.name, topicPattern: node.pattern.source, successors, predecessors };
  }
  if (node.kind === 'processor') return { kind: 'processor', name: node.name, stores: [...node.stores], successors, predecessors };
  const topic = typeof node.topic === 'string' ? node.topic : 'topic extractor';
  return { kind: 'sink', name: node.name, topic, successors, predecessors };
}

function describeSubtopology(subtopology: Subtopology): { id: number; nodes: NodeDescription[] } {
  const sizes = subtreeSizes(subtopology.nodes);
  const nodes = sortNames(subtopology.nodes.map((node) => node.name), sizes).map((name) => {
    const node = subtopology.nodes.find((candidate) => candidate.name === name);
    if (node === undefined) throw new Error(`describe: node ${name} vanished`);
    return describeNode(node, sizes);
  });
  return { id: subtopology.id, nodes };
}

function describeGlobalStore(store: GlobalStore): TopologyDescription['globalStores'][number] {
  const sizes = subtreeSizes([store.source, store.processor]);
  return { id: store.id, source: describeNode(store.source, sizes), processor: describeNode(store.processor, sizes) };
}

export function describeTopologyData(topology: Topology): TopologyDescription {
  return {
    subtopologies: topology.subtopologies.map(describeSubtopology),
    globalStores: topology.globalStores.map(describeGlobalStore),
    stores: topology.stores.map((store) => ({ name: store.name, kind: store.kind, changelogTopic: store.changelogTopic })),
    internalTopics: topology.internalTopics.map((topic) => ({ name: topic.name, kind: topic.kind })),
  };
}

function names(list: readonly string[]): string {
  return list.length === 0 ? 'none' : list.join(', ');
}

function nodeText(node: NodeDescription): string {
  if (node.kind === 'source') {
    const topics = node.topicPattern === undefined ? `topics: [${(node.topics ?? []).join(', ')}]` : `topicPattern: ${node.topicPattern}`;
    return `Source: ${node.name} (${topics})\n      --> ${names(node.successors)}`;
  }
  if (node.kind === 'processor') {
    return `Processor: ${node.name} (stores: [${(node.stores ?? []).join(', ')}])\n      --> ${names(node.successors)}\n      <-- ${names(node.predecessors)}`;
  }
  return `Sink: ${node.name} (topic: ${node.topic ?? ''})\n      <-- ${names(node.predecessors)}`;
}

/** Kafka Streams' TopologyDescription.toString() layout. */
export function describeTopologyText(description: TopologyDescription): string {
  const parts: { id: number; text: string }[] = [];
  for (const subtopology of description.subtopologies) {
    const nodes = subtopology.nodes.map((node) => `    ${nodeText(node)}\n`).join('');
    parts.push({ id: subtopology.id, text: `  Sub-topology: ${subtopology.id}\n${nodes}\n` });
  }
  for (const store of description.globalStores) {
    const text = `  Sub-topology: ${store.id} for global store (will not generate tasks)\n    ${nodeText(store.source)}\n    ${nodeText(store.processor)}\n\n`;
    parts.push({ id: store.id, text });
  }
  parts.sort((a, b) => a.id - b.id);
  return `Topologies:\n ${parts.map((part) => part.text).join('')}`;
}
