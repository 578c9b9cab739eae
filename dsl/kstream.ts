// KStream: a record stream. Every operator follows one recipe: name it (explicit or generated),
// wrap its logic as a processor, add a node to the logical graph, return a new stream on it.
// Lambdas take the value first and the key second, so one-argument predicates such as
// ts-pattern's isMatching(...) apply to the value.
import type { Serde } from '../core/serdes/serde.ts';
import type { ProcessorSupplier, StreamPartitioner, TopicNameExtractor } from '../core/topology/processor.ts';
import type { UntypedProcessor } from '../core/topology/topology.ts';
import type { JoinWindows } from '../core/topology/windows.ts';
import type { GraphNode } from './graph.ts';
import { fallbackSerde, type InternalBuilder } from './internal.ts';
import type { Branched, Grouped, Joined, Materialized, Named, ProcessorOptions, Produced, Repartitioned, StreamJoined } from './options.ts';
import * as stateless from './processors/stateless.ts';
import { KGroupedStream } from './grouped.ts';
import { KTable, GlobalKTable } from './ktable.ts';
import { keyValueStoreDescriptor, settingsFrom } from './stores.ts';
import { tableSourceProcessor, storeGetter } from './processors/table.ts';
import { joinStreams, lookupJoin } from './joins.ts';


export class KStream<K, V> {
  /** Internal: streams are made by StreamsBuilder and by operators. */
  constructor(
    readonly builder: InternalBuilder,
    readonly node: GraphNode,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** True after a key change: a stateful operator downstream must repartition first. */
    readonly repartitionRequired: boolean,
  ) {}

  private next<KR, VR>(prefix: string, named: Named | undefined, supplier: () => UntypedProcessor, serdes: { key: Serde<KR> | undefined; value: Serde<VR> | undefined }, keyChanging: boolean): KStream<KR, VR> {
    const name = named?.name ?? this.builder.newName(prefix);
    const node = this.builder.addProcessor(name, [this.node], supplier, [], keyChanging);
    return new KStream<KR, VR>(this.builder, node, serdes.key, serdes.value, this.repartitionRequired || keyChanging);
  }

  private same(prefix: string, named: Named | undefined, supplier: () => UntypedProcessor): KStream<K, V> {
    return this.next<K, V>(prefix, named, supplier, { key: this.keySerde, value: this.valueSerde }, false);
  }

  filter<N extends V>(predicate: (value: V, key: K) => value is N, named?: Named): KStream<K, N>;
  filter<N>(predicate: (value: unknown) => value is N, named?: Named): KStream<K, V & N>;
  filter(predicate: (value: V, key: K) => boolean, named?: Named): KStream<K, V>;
  filter(predicate: (value: V, key: K) => boolean, named?: Named): KStream<K, V> {
    return this.same('KSTREAM-FILTER-', named, stateless.filterProcessor(predicate, true));
  }

  filterNot(predicate: (value: V, key: K) => boolean, named?: Named): KStream<K, V> {
    return this.same('KSTREAM-FILTER-', named, stateless.filterProcessor(predicate, false));
  }

  map<KR, VR>(mapper: (value: V, key: K) => readonly [KR, VR], named?: Named): KStream<KR, VR> {
    return this.next<KR, VR>('KSTREAM-MAP-', named, stateless.mapProcessor(mapper), { key: undefined, value: undefined }, true);
  }

  mapValues<VR>(mapper: (value: V, key: K) => VR, named?: Named): KStream<K, VR> {
    return this.next<K, VR>('KSTREAM-MAPVALUES-', named, stateless.mapValuesProcessor(mapper), { key: this.keySerde, value: undefined }, false);
  }

  flatMap<KR, VR>(mapper: (value: V, key: K) => Iterable<readonly [KR, VR]>, named?: Named): KStream<KR, VR> {
    return this.next<KR, VR>('KSTREAM-FLATMAP-', named, stateless.flatMapProcessor(mapper), { key: undefined, value: undefined }, true);
  }

  flatMapValues<VR>(mapper: (value: V, key: K) => Iterable<VR>, named?: Named): KStream<K, VR> {
    return this.next<K, VR>('KSTREAM-FLATMAPVALUES-', named, stateless.flatMapValuesProcessor(mapper), { key: this.keySerde, value: undefined }, false);
  }

  selectKey<KR>(selector: (value: V, key: K) => KR, named?: Named): KStream<KR, V> {
    return this.next<KR, V>('KSTREAM-KEY-SELECT-', named, stateless.selectKeyProcessor(selector), { key: undefined, value: this.valueSerde }, true);
  }

  peek(action: (value: V, key: K) => void, named?: Named): KStream<K, V> {
    return this.same('KSTREAM-PEEK-', named, stateless.peekProcessor(action, true));
  }

  foreach(action: (value: V, key: K) => void, named?: Named): void {
    this.same('KSTREAM-FOREACH-', named, stateless.peekProcessor(action, false));
  }

  /** Splits the stream; each record goes to the first branch whose predicate holds. */
  split(named?: Named): BranchedKStream<K, V> {
    const name = named?.name ?? this.builder.newName('KSTREAM-BRANCH-');
    return new BranchedKStream(this, name);
  }

  merge(other: KStream<K, V>, named?: Named): KStream<K, V> {
    const name = named?.name ?? this.builder.newName('KSTREAM-MERGE-');
    const node = this.builder.addProcessor(name, [this.node, other.node], stateless.passThroughProcessor());
    return new KStream<K, V>(this.builder, node, this.keySerde ?? other.keySerde, this.valueSerde ?? other.valueSerde, this.repartitionRequired || other.repartitionRequired);
  }

  /** Writes through an internal topic `<name>-repartition`, so downstream tasks own the new keys. */
  repartition(options: Repartitioned<K, V> = {}): KStream<K, V> {
    const prefix = options.name ?? this.builder.newName('KSTREAM-REPARTITION-');
    const keySerde = options.key ?? this.keySerde ?? fallbackSerde<K>();
    const valueSerde = options.value ?? this.valueSerde ?? fallbackSerde<V>();
    const node = this.builder.addRepartition(this.node, prefix, {
      keySerde: keySerde as Serde<unknown>,
      valueSerde: valueSerde as Serde<unknown>,
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      ...(options.partitioner === undefined ? {} : { partitioner: options.partitioner as StreamPartitioner<unknown, unknown> }),
      userRequested: true,
    });
    return new KStream<K, V>(this.builder, node, keySerde, valueSerde, false);
  }

  /** Writes to a topic, or to the topic an extractor picks per record. */
  to(topic: string | TopicNameExtractor<K, V>, produced: Produced<K, V> = {}): void {
    const name = produced.name ?? this.builder.newName('KSTREAM-SINK-');
    this.builder.addNode({
      kind: 'sink',
      name,
      topic: topic as string | TopicNameExtractor<unknown, unknown>,
      keySerde: (produced.key ?? this.keySerde ?? fallbackSerde<K>()) as Serde<unknown>,
      valueSerde: (produced.value ?? this.valueSerde ?? fallbackSerde<V>()) as Serde<unknown>,
      partitioner: (produced.partitioner ?? null) as never,
      parents: [this.node],
    });
  }

  /** The stream as a changelog: each record upserts its key, a null value deletes it. */
  toTable(options: Named & Materialized<K, V> = {}): KTable<K, V> {
    const storeName = this.builder.statefulName(options.name, 'toTable', () => this.builder.newStoreName('KSTREAM-TOTABLE-'));
    const name = this.builder.newName('KSTREAM-TOTABLE-');
    const keySerde = options.key ?? this.keySerde ?? fallbackSerde<K>();
    const valueSerde = options.value ?? this.valueSerde ?? fallbackSerde<V>();
    const parent = this.repartitionRequired ? this.repartitionNode(storeName, keySerde, valueSerde) : this.node;
    this.builder.addStore(keyValueStoreDescriptor(storeName, keySerde, valueSerde, settingsFrom(options), true));
    const node = this.builder.addProcessor(name, [parent], tableSourceProcessor<K, V>(storeName), [storeName]);
    return new KTable<K, V>(this.builder, node, keySerde, valueSerde, storeName, storeGetter<K, V>(storeName));
  }

  groupByKey(grouped: Grouped<K, V> = {}): KGroupedStream<K, V> {
    return new KGroupedStream<K, V>(this, grouped.key ?? this.keySerde, grouped.value ?? this.valueSerde, grouped.name, this.repartitionRequired);
  }

  groupBy<KR>(selector: (value: V, key: K) => KR, grouped: Grouped<KR, V> = {}): KGroupedStream<KR, V> {
    const selected = this.selectKey(selector);
    return new KGroupedStream<KR, V>(selected, grouped.key, grouped.value ?? this.valueSerde, grouped.name, true);
  }

  /** Internal: adds a repartition node fed by this stream. */
  repartitionNode(prefix: string, keySerde: Serde<K>, valueSerde: Serde<V>): GraphNode {
    return this.builder.addRepartition(this.node, prefix, { keySerde: keySerde as Serde<unknown>, valueSerde: valueSerde as Serde<unknown>, userRequested: false });
  }

  join<VO, VR>(other: KStream<K, VO>, joiner: (value: V, other: VO, key: K) => VR, windows: JoinWindows, options?: StreamJoined<K, V, VO>): KStream<K, VR>;
  join<VT, VR>(table: KTable<K, VT>, joiner: (value: V, row: VT, key: K) => VR, options?: Joined<K, V, VT>): KStream<K, VR>;
  join<GK, GV, VR>(table: GlobalKTable<GK, GV>, keySelector: (value: V, key: K) => GK, joiner: (value: V, row: GV, key: K) => VR, options?: Named): KStream<K, VR>;
  join(other: unknown, second: unknown, third?: unknown, fourth?: unknown): unknown {
    return this.anyJoin('inner', other, second, third, fourth);
  }

  leftJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V, other: VO | null, key: K) => VR, windows: JoinWindows, options?: StreamJoined<K, V, VO>): KStream<K, VR>;
  leftJoin<VT, VR>(table: KTable<K, VT>, joiner: (value: V, row: VT | null, key: K) => VR, options?: Joined<K, V, VT>): KStream<K, VR>;
  leftJoin<GK, GV, VR>(table: GlobalKTable<GK, GV>, keySelector: (value: V, key: K) => GK, joiner: (value: V, row: GV | null, key: K) => VR, options?: Named): KStream<K, VR>;
  leftJoin(other: unknown, second: unknown, third?: unknown, fourth?: unknown): unknown {
    return this.anyJoin('left', other, second, third, fourth);
  }

  outerJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V | null, other: VO | null, key: K) => VR, windows: JoinWindows, options?: StreamJoined<K, V, VO>): KStream<K, VR> {
    return joinStreams(this, other, joiner, windows, options ?? {}, 'outer');
  }

  private anyJoin(mode: 'inner' | 'left', other: unknown, second: unknown, third: unknown, fourth: unknown): unknown {
    type Joiner = (value: V, other: unknown, key: K) => unknown;
    if (other instanceof KStream) return joinStreams(this, other, second as Joiner, third as JoinWindows, (fourth ?? {}) as StreamJoined<K, V, unknown>, mode);
    if (other instanceof KTable) return lookupJoin(this, other, (_value, key) => key, second as Joiner, (third ?? {}) as Joined<K, V, unknown>, mode, false);
    if (other instanceof GlobalKTable) return lookupJoin(this, other, second as (value: V, key: K) => unknown, third as Joiner, (fourth ?? {}) as Named, mode, true);
    throw new TypeError('join needs a KStream, a KTable or a GlobalKTable');
  }

  /** Runs a processor written against the Processor API; it may change keys. */
  process<KR, VR>(supplier: ProcessorSupplier<K, V, KR, VR>, options: ProcessorOptions = {}): KStream<KR, VR> {
    const name = options.name ?? this.builder.newName('KSTREAM-PROCESSOR-');
    const node = this.builder.addProcessor(name, [this.node], supplier as () => UntypedProcessor, options.stores ?? [], true);
    return new KStream<KR, VR>(this.builder, node, undefined, undefined, true);
  }

  /** Like process, for processors that keep the key. */
  processValues<VR>(supplier: ProcessorSupplier<K, V, K, VR>, options: ProcessorOptions = {}): KStream<K, VR> {
    const name = options.name ?? this.builder.newName('KSTREAM-PROCESSVALUES-');
    const node = this.builder.addProcessor(name, [this.node], supplier as () => UntypedProcessor, options.stores ?? []);
    return new KStream<K, VR>(this.builder, node, this.keySerde, undefined, this.repartitionRequired);
  }
}

/** The branches of split(): add branches, then finish with defaultBranch() or noDefaultBranch(). */
export class BranchedKStream<K, V> {
  private readonly branches: { predicate: (value: V, key: K) => boolean; child: string }[] = [];
  private defaultChild: string | null = null;
  private readonly result: Record<string, KStream<K, V>> = {};
  private readonly node: GraphNode;

  constructor(private readonly stream: KStream<K, V>, private readonly prefix: string) {
    this.node = stream.builder.addProcessor(prefix, [stream.node], () => stateless.branchProcessor(this.branches, this.defaultChild)());
  }

  branch(predicate: (value: V, key: K) => boolean, branched: Branched<K, V> = {}): this {
    const child = this.addChild(branched, String(this.branches.length + 1));
    this.branches.push({ predicate, child });
    return this;
  }

  defaultBranch(branched: Branched<K, V> = {}): Record<string, KStream<K, V>> {
    this.defaultChild = this.addChild(branched, '0');
    return this.result;
  }

  noDefaultBranch(): Record<string, KStream<K, V>> {
    return this.result;
  }

  private addChild(branched: Branched<K, V>, suffix: string): string {
    const name = `${this.prefix}${branched.name ?? suffix}`;
    const node = this.stream.builder.addProcessor(name, [this.node], stateless.passThroughProcessor());
    const branch = new KStream<K, V>(this.stream.builder, node, this.stream.keySerde, this.stream.valueSerde, this.stream.repartitionRequired);
    const chained = branched.chain === undefined ? branch : branched.chain(branch);
    if (chained !== undefined) this.result[name] = chained;
    return name;
  }
}
