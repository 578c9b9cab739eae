// The builder's internal state: the name counter, the logical graph, store descriptors and the
// naming rules. Operators call into it following one recipe: name, processor, node, new stream.
import { Serdes, type Serde } from '../core/serdes/serde.ts';
import type { StreamPartitioner } from '../core/topology/processor.ts';
import type { GlobalStore, StoreDescriptor, UntypedProcessor } from '../core/topology/topology.ts';
import type { Topology } from '../core/topology/topology.ts';
import { writeTopology } from './build.ts';
import type { GraphNode, ProcessorGraphNode, RepartitionGraphNode } from './graph.ts';

export interface BuilderOptions {
  /** Require explicit names for stateful operators, so stores and internal topics stay stable. */
  readonly strictNames?: boolean;
  /** Merge repartition topics fed by the same key-changing operation. Default true. */
  readonly optimize?: boolean;
}

function pad(index: number): string {
  return String(index).padStart(10, '0');
}

export class InternalBuilder {
  private index = 0;
  readonly nodes: GraphNode[] = [];
  readonly stores = new Map<string, StoreDescriptor>();
  readonly globalStores: Omit<GlobalStore, 'id'>[] = [];
  readonly copartitioned: string[][] = [];
  /** Stateful operators whose names were generated; their state moves if the topology changes. */
  readonly warnings: string[] = [];

  constructor(readonly options: BuilderOptions) {}

  /** A generated processor name, Kafka Streams style: `KSTREAM-MAP-0000000001`. */
  newName(prefix: string): string {
    return `${prefix}${pad(this.index++)}`;
  }

  /** A generated store name: `KSTREAM-AGGREGATE-STATE-STORE-0000000003`. */
  newStoreName(prefix: string): string {
    return `${prefix}STATE-STORE-${pad(this.index++)}`;
  }

  /** The user's name, or a generated one with a warning (or an error in strict mode). */
  statefulName(userName: string | undefined, operator: string, generate: () => string): string {
    if (userName !== undefined) return userName;
    if (this.options.strictNames === true) throw new Error(`strict naming: ${operator} needs an explicit name (Materialized, Grouped or Named)`);
    const name = generate();
    this.warnings.push(`${operator} uses the generated name ${name}; name it so its state survives topology changes`);
    return name;
  }

  addNode<N extends GraphNode>(node: N): N {
    if (this.nodes.some((existing) => existing.name === node.name)) throw new Error(`a node named ${node.name} already exists`);
    this.nodes.push(node);
    return node;
  }

  addProcessor(name: string, parents: readonly GraphNode[], supplier: () => UntypedProcessor, stores: readonly string[] = [], keyChanging = false): ProcessorGraphNode {
    return this.addNode({ kind: 'processor', name, supplier, stores: [...stores], parents: [...parents], keyChanging });
  }

  addStore(descriptor: StoreDescriptor): void {
    if (this.stores.has(descriptor.name)) throw new Error(`a store named ${descriptor.name} already exists`);
    this.stores.set(descriptor.name, descriptor);
  }

  /** Adds filter -> sink -> topic -> source, named in Kafka Streams' order: sink, filter, source. */
  addRepartition(parent: GraphNode, topicPrefix: string, options: { keySerde: Serde<unknown>; valueSerde: Serde<unknown>; partitions?: number; partitioner?: StreamPartitioner<unknown, unknown>; userRequested: boolean; topicSuffix?: string }): RepartitionGraphNode {
    const sinkName = this.newName('KSTREAM-SINK-');
    const filterName = this.newName('KSTREAM-FILTER-');
    const sourceName = this.newName('KSTREAM-SOURCE-');
    return this.addNode({
      kind: 'repartition',
      name: sourceName,
      topic: `${topicPrefix}${options.topicSuffix ?? '-repartition'}`,
      sinkName,
      filterName,
      keySerde: options.keySerde,
      valueSerde: options.valueSerde,
      partitions: options.partitions ?? null,
      partitioner: options.partitioner ?? null,
      userRequested: options.userRequested,
      parents: [parent],
    });
  }

  build(): Topology {
    return writeTopology({
      nodes: this.nodes,
      stores: this.stores,
      globalStores: this.globalStores,
      copartitionedNodes: this.copartitioned,
      optimize: this.options.optimize !== false,
    });
  }
}

/** Serde used when neither the operator's options nor the stream know one. */
export function fallbackSerde<T>(): Serde<T> {
  return Serdes.json<T>();
}
