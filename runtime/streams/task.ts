// A stream task: one sub-topology for one partition. It owns its processor instances, its
// stores, its stream time and its punctuation schedules. The test driver and the broker-backed
// runtime both drive tasks through this class: process() per input record, then punctuate,
// commit and close.
import type { BatchText } from '../../core/serdes/batch-text.ts';
import { DeserializationError, type Serde } from '../../core/serdes/serde.ts';
import type { ChangelogRecord, ChangelogWriter, ProcessorContext, StateStore, TaskMetrics, TopicNameExtractor } from '../../core/topology/processor.ts';
import type { Headers, RecordContext, StreamRecord, TopicRecord } from '../../core/topology/record.ts';
import { findStore, resolveTopicName, type SinkNode, type SourceNode, type Topology, type TopologyNode, type UntypedProcessor } from '../../core/topology/topology.ts';
import { advanceSchedule, createSchedule, type PunctuationSchedule } from './punctuation.ts';

/** Where sinks send records; the runtime's producer or the driver's in-memory topics. */
export interface RecordCollector {
  send(record: OutgoingRecord): void;
}

/**
 * A sink's output record. A string key or value stands for its UTF-8 bytes: sinks whose serde
 * has serializeText hand over the text, and the producer encodes it straight into its batch.
 */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: Uint8Array | string | null;
  readonly value: Uint8Array | string | null;
  readonly timestamp: number;
  readonly headers: Headers;
  /** Partition chosen by a partitioner, or null for the default. */
  readonly partition: number | null;
}

/**
 * An OutgoingRecord made by a sink. A class, not an object literal: V8 tracks allocation sites
 * of literals only, and a literal site whose objects are often alive at a scavenge (sink records
 * wait in the collector until the poll's records are done) gets pretenured, so every output
 * record would be allocated in the old generation and keep its young key and value bytes alive
 * until the next full collection.
 */
class SinkRecord implements OutgoingRecord {
  constructor(
    readonly topic: string,
    readonly key: Uint8Array | string | null,
    readonly value: Uint8Array | string | null,
    readonly timestamp: number,
    readonly headers: Headers,
    readonly partition: number | null,
  ) {}
}

/**
 * An input record whose key and value lie in a larger byte array (a fetched batch), for
 * processPacked: serdes that can read them there (deserializeAt) do, so no view of either is
 * made. `key` and `value` still give views, made when asked for. A length -1 stands for null.
 */
export interface PackedTopicRecord extends TopicRecord {
  readonly bytes: Uint8Array;
  readonly keyStart: number;
  readonly keyLength: number;
  readonly valueStart: number;
  readonly valueLength: number;
  /** The bytes as text, for serdes that read ASCII fields as strings (deserializeAscii); absent where not made. */
  readonly text?: BatchText;
  /**
   * A copy that does not change, where the object is one the runtime moves on to the next record
   * of its partition (an error handler may keep the record it is given); absent where the record
   * is an object of its own.
   */
  detached?(): TopicRecord;
}

/** A sink's key or value in the form it is sent in: the serde's text when it has one, else its bytes. */
function serializeField(serde: Serde<unknown>, data: unknown, topic: string): Uint8Array | string {
  if (serde.serializeText !== undefined) return serde.serializeText(data, topic);
  return serde.serialize(data, topic);
}

/**
 * Deserializes bytes[start, start + length) in place when the serde can, through a view otherwise;
 * from `text` when the serde reads ASCII text and the field is ASCII.
 */
function deserializeField(serde: Serde<unknown>, bytes: Uint8Array, start: number, length: number, topic: string, text: BatchText | null): unknown {
  if (text !== null && serde.deserializeAscii !== undefined) {
    const ascii = text.ascii(start, start + length);
    if (ascii !== null) return serde.deserializeAscii(ascii, topic);
  }
  if (serde.deserializeAt !== undefined) return serde.deserializeAt(bytes, start, length, topic);
  return serde.deserialize(new Uint8Array(bytes.buffer, bytes.byteOffset + start, length), topic);
}

export type DeserializationErrorHandler =
  | 'log-and-continue'
  | 'fail'
  | ((error: DeserializationError, topic: string, record: TopicRecord) => 'continue' | 'fail');

export interface StreamTaskOptions {
  readonly applicationId: string;
  readonly topology: Topology;
  readonly subtopologyId: number;
  readonly partition: number;
  readonly collector: RecordCollector;
  readonly changelogWriter: ChangelogWriter | null;
  /** Wall-clock time in ms. */
  readonly clock: () => number;
  readonly deserializationErrorHandler: DeserializationErrorHandler;
  /** Stores shared by all tasks (global tables), by name. */
  readonly globalStores: ReadonlyMap<string, StateStore>;
  readonly log: (message: string) => void;
  /** Partition count of an output topic, for partitioners; 1 when unknown. */
  readonly partitionCount?: (topic: string) => number;
}

export class StreamsProcessingError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'StreamsProcessingError';
  }
}

interface RuntimeNode {
  readonly name: string;
  readonly children: RuntimeNode[];
  process: (record: StreamRecord<unknown, unknown>) => void;
}

/** A source with its runtime node, looked up by input topic. */
interface SourceEntry {
  readonly source: SourceNode;
  readonly node: RuntimeNode;
}

/** The last record processed of one input partition; the commit asks its offset and adds one. */
interface ConsumedOffset {
  readonly topic: string;
  readonly partition: number;
  lastRecord: TopicRecord;
}

export class StreamTask {
  readonly id: string;
  readonly metrics: TaskMetrics = { droppedLateRecords: 0, skippedRecords: 0, droppedRecords: 0 };
  /** Largest timestamp of any record the task processed; -1 before the first. */
  streamTimeMs = -1;
  commitRequested = false;
  private readonly nodes = new Map<string, RuntimeNode>();
  private readonly processors = new Map<string, UntypedProcessor>();
  private readonly sourcesByTopic = new Map<string, SourceEntry>();
  private readonly patternSources: SourceEntry[] = [];
  /** The entry of the topic processed last: input comes in runs of one partition. */
  private lastSource: { readonly topic: string; readonly entry: SourceEntry } | null = null;
  private readonly stores = new Map<string, StateStore>();
  private readonly schedules: PunctuationSchedule[] = [];
  /**
   * The input record being processed, its topic and its timestamp; the RecordContext is made
   * from them only when a processor asks (recordContext(), a topic extractor), not per record,
   * which spares an object and the record's bigint offset on the hot path. A punctuation sets
   * `punctuationContext` instead.
   */
  private currentTopic: string | null = null;
  private currentRecord: TopicRecord | null = null;
  private currentTimestampMs = -1;
  private context: RecordContext | null = { topic: null, partition: 0, offset: -1n, timestamp: -1, headers: [] };
  /** Last offset processed per input partition, for the offset commit. */
  private readonly consumedOffsets = new Map<string, ConsumedOffset>();
  private lastConsumed: ConsumedOffset | null = null;
  /** Smallest next firing time of the stream-time schedules, so most records skip the check. */
  private nextStreamTimePunctuationMs = Number.POSITIVE_INFINITY;
  /**
   * Whether input strings may be slices of their batch's text (PackedTopicRecord.text): only
   * without state stores, because a slice keeps its whole batch alive and a store's cache or
   * resident windows may keep a key or value long after the record (see BatchText).
   */
  private readsTextSlices = false;

  constructor(private readonly options: StreamTaskOptions) {
    this.id = `${options.subtopologyId}_${options.partition}`;
  }

  get partition(): number {
    return this.options.partition;
  }

  get subtopologyId(): number {
    return this.options.subtopologyId;
  }

  /** Input topics of this task as named on the cluster (internal topics prefixed). */
  sourceTopics(): string[] {
    return [...this.sourcesByTopic.keys()];
  }

  consumesTopic(topic: string): boolean {
    return this.sourcesByTopic.has(topic) || this.patternSources.some(({ source }) => source.pattern?.test(topic) === true);
  }

  storeNames(): string[] {
    return [...this.stores.keys()];
  }

  getStore(name: string): StateStore | undefined {
    return this.stores.get(name);
  }

  /**
   * Creates the nodes and stores, replays each logged store's changelog (read by the caller
   * from the full changelog topic name), then initialises the processors, which may read the
   * restored stores.
   */
  init(readChangelog: (storeName: string, changelogTopic: string) => readonly ChangelogRecord[] = () => []): void {
    const subtopology = this.options.topology.subtopologies.find((candidate) => candidate.id === this.options.subtopologyId);
    if (subtopology === undefined) throw new Error(`task ${this.id}: no sub-topology ${this.options.subtopologyId}`);
    for (const node of subtopology.nodes) this.createNode(node);
    for (const node of subtopology.nodes) this.wire(node);
    this.initStores(subtopology.nodes);
    this.readsTextSlices = this.stores.size === 0;
    for (const [storeName, topic] of this.changelogTopics()) this.stores.get(storeName)?.restore(readChangelog(storeName, topic));
    for (const node of subtopology.nodes) if (node.kind === 'processor') this.initProcessor(node.name);
  }

  /** Logged stores of this task and their full changelog topic names. */
  changelogTopics(): Map<string, string> {
    const topics = new Map<string, string>();
    for (const name of this.stores.keys()) {
      const descriptor = findStore(this.options.topology, name);
      if (descriptor?.logging === true && descriptor.changelogTopic !== null) topics.set(name, `${this.options.applicationId}-${descriptor.changelogTopic}`);
    }
    return topics;
  }

  /** Processes one input record through the sub-topology, then fires due stream-time punctuations. */
  process(topic: string, record: TopicRecord): void {
    this.noteConsumed(topic, record);
    const { source, node } = this.sourceFor(topic);
    let key: unknown = null;
    let value: unknown = null;
    try {
      if (record.key !== null) key = source.keySerde.deserialize(record.key, topic);
      if (record.value !== null) value = source.valueSerde.deserialize(record.value, topic);
    } catch (error) {
      this.deserializationFailed(error, topic, record);
      return;
    }
    this.processDeserialized(topic, record, source, node, key, value);
  }

  /** process() for a record whose key and value the source's serdes read where they lie. */
  processPacked(topic: string, record: PackedTopicRecord): void {
    this.noteConsumed(topic, record);
    const { source, node } = this.sourceFor(topic);
    let key: unknown = null;
    let value: unknown = null;
    try {
      const text = this.readsTextSlices ? record.text ?? null : null;
      if (record.keyLength >= 0) key = deserializeField(source.keySerde, record.bytes, record.keyStart, record.keyLength, topic, text);
      if (record.valueLength >= 0) value = deserializeField(source.valueSerde, record.bytes, record.valueStart, record.valueLength, topic, text);
    } catch (error) {
      this.deserializationFailed(error, topic, record.detached?.() ?? record);
      return;
    }
    this.processDeserialized(topic, record, source, node, key, value);
  }

  /** The rest of process(): the timestamp, then the record through the sub-topology. */
  private processDeserialized(topic: string, record: TopicRecord, source: SourceNode, node: RuntimeNode, key: unknown, value: unknown): void {
    const timestamp = source.timestampExtractor === null ? record.timestamp : source.timestampExtractor({ key, value, timestamp: record.timestamp, topic }, this.streamTimeMs);
    if (timestamp < 0) {
      this.metrics.skippedRecords++;
      this.options.log(`task ${this.id}: skipped a record from ${topic} at offset ${record.offset} with invalid timestamp ${timestamp}`);
      return;
    }
    this.currentTopic = topic;
    this.currentRecord = record;
    this.currentTimestampMs = timestamp;
    this.context = null;
    if (timestamp > this.streamTimeMs) this.streamTimeMs = timestamp;
    node.process({ key, value, timestamp, headers: record.headers });
    if (this.streamTimeMs >= this.nextStreamTimePunctuationMs) this.punctuate('stream-time', this.streamTimeMs);
  }

  private noteConsumed(topic: string, record: TopicRecord): void {
    let consumed = this.lastConsumed;
    if (consumed === null || consumed.topic !== topic || consumed.partition !== record.partition) {
      const id = `${topic}\u0000${record.partition}`;
      consumed = this.consumedOffsets.get(id) ?? null;
      if (consumed === null) this.consumedOffsets.set(id, (consumed = { topic, partition: record.partition, lastRecord: record }));
      this.lastConsumed = consumed;
    }
    consumed.lastRecord = record;
  }

  private sourceFor(topic: string): SourceEntry {
    const last = this.lastSource;
    if (last !== null && last.topic === topic) return last.entry;
    const entry = this.sourcesByTopic.get(topic) ?? this.patternSources.find(({ source }) => source.pattern?.test(topic) === true);
    if (entry === undefined) throw new Error(`task ${this.id} does not consume topic ${topic}`);
    this.lastSource = { topic, entry };
    return entry;
  }

  /** Fires wall-clock punctuations that are due at nowMs. */
  punctuateWallClock(nowMs: number): void {
    this.punctuate('wall-clock', nowMs);
  }

  /**
   * Flushes the stores (caches reach the changelog) and returns the offsets to commit: the next
   * offset of every input partition processed so far. The runtime flushes its producer and
   * commits these, in that order, after this returns.
   */
  commit(): { topic: string; partition: number; offset: bigint }[] {
    for (const store of this.stores.values()) store.flush();
    this.commitRequested = false;
    return [...this.consumedOffsets.values()].map(({ topic, partition, lastRecord }) => ({ topic, partition, offset: lastRecord.offset + 1n }));
  }

  close(): void {
    for (const processor of this.processors.values()) processor.close?.();
    for (const store of this.stores.values()) store.close();
  }

  /** The context of the record being processed (made now, once per record at most) or of the punctuation running. */
  private recordContext(): RecordContext {
    if (this.context !== null) return this.context;
    const record = this.currentRecord as TopicRecord;
    this.context = { topic: this.currentTopic, partition: record.partition, offset: record.offset, timestamp: this.currentTimestampMs, headers: record.headers };
    return this.context;
  }

  private punctuate(type: PunctuationSchedule['type'], timeMs: number): void {
    if (timeMs < 0) return;
    for (const schedule of [...this.schedules]) {
      if (schedule.cancelled || schedule.type !== type || schedule.nextMs > timeMs) continue;
      this.context = { topic: null, partition: this.options.partition, offset: -1n, timestamp: timeMs, headers: [] };
      this.currentTimestampMs = timeMs;
      schedule.callback(timeMs);
      advanceSchedule(schedule, timeMs);
    }
    for (let index = this.schedules.length - 1; index >= 0; index--) if (this.schedules[index]?.cancelled === true) this.schedules.splice(index, 1);
    let nextMs = Number.POSITIVE_INFINITY;
    for (const schedule of this.schedules) if (schedule.type === 'stream-time') nextMs = Math.min(nextMs, schedule.nextMs);
    this.nextStreamTimePunctuationMs = nextMs;
  }

  private deserializationFailed(error: unknown, topic: string, record: TopicRecord): void {
    if (!(error instanceof DeserializationError)) throw error;
    const handler = this.options.deserializationErrorHandler;
    const decision = typeof handler === 'function' ? handler(error, topic, record) : handler === 'fail' ? 'fail' : 'continue';
    if (decision === 'fail') throw new StreamsProcessingError(`task ${this.id}: deserialization failed at ${topic}@${record.offset}`, { cause: error });
    this.metrics.skippedRecords++;
    this.options.log(`task ${this.id}: skipped record ${topic}@${record.offset}: ${error.message}`);
  }

  private createNode(node: TopologyNode): void {
    const children: RuntimeNode[] = [];
    if (node.kind === 'source') {
      const runtimeNode: RuntimeNode = { name: node.name, children, process: (record) => forwardTo(children, record) };
      const entry = { source: node, node: runtimeNode };
      if (node.pattern !== null) this.patternSources.push(entry);
      for (const topic of node.topics) this.sourcesByTopic.set(this.resolve(topic), entry);
      this.nodes.set(node.name, runtimeNode);
    } else if (node.kind === 'processor') {
      const processor = node.supplier();
      this.processors.set(node.name, processor);
      this.nodes.set(node.name, { name: node.name, children, process: (record) => processor.process(record) });
    } else {
      // A fixed topic name is resolved once, not per record.
      const topic = typeof node.topic === 'string' ? this.resolve(node.topic) : null;
      this.nodes.set(node.name, { name: node.name, children, process: (record) => this.sink(node, topic, record) });
    }
  }

  private wire(node: TopologyNode): void {
    if (node.kind === 'sink') return;
    const runtimeNode = this.nodes.get(node.name);
    for (const successor of node.successors) {
      const child = this.nodes.get(successor);
      if (runtimeNode === undefined || child === undefined) throw new Error(`task ${this.id}: ${node.name} -> ${successor} crosses sub-topologies`);
      runtimeNode.children.push(child);
    }
  }

  private initStores(nodes: readonly TopologyNode[]): void {
    const names = new Set(nodes.flatMap((node) => (node.kind === 'processor' ? node.stores : [])));
    for (const name of names) {
      if (this.options.globalStores.has(name)) continue;
      const descriptor = findStore(this.options.topology, name);
      if (descriptor === undefined) throw new Error(`task ${this.id}: store ${name} is not in the topology`);
      const store = descriptor.build();
      const changelogTopic = descriptor.logging && descriptor.changelogTopic !== null ? `${this.options.applicationId}-${descriptor.changelogTopic}` : null;
      store.init({
        applicationId: this.options.applicationId,
        taskId: this.id,
        partition: this.options.partition,
        changelogTopic,
        changelogWriter: changelogTopic === null ? null : this.options.changelogWriter,
        recordTimestampMs: () => this.currentTimestampMs,
      });
      this.stores.set(name, store);
    }
  }

  private initProcessor(name: string): void {
    const node = this.nodes.get(name);
    const processor = this.processors.get(name);
    if (node === undefined || processor === undefined) throw new Error(`task ${this.id}: processor ${name} missing`);
    processor.init?.(this.contextFor(node));
    // Bound once, after init (which may still set process up): a closure reading
    // processor.process per record sees every processor's shape at one site, and that load
    // was several percent of a record's cost.
    node.process = processor.process.bind(processor);
  }

  private contextFor(node: RuntimeNode): ProcessorContext<unknown, unknown> {
    const task = this;
    return {
      applicationId: this.options.applicationId,
      taskId: this.id,
      partition: this.options.partition,
      metrics: this.metrics,
      recordContext: () => task.recordContext(),
      forward: (record, childName) => {
        if (childName === undefined) return forwardTo(node.children, record);
        const child = node.children.find((candidate) => candidate.name === childName);
        if (child === undefined) throw new Error(`${node.name} has no child named ${childName}`);
        child.process(record);
      },
      schedule: (intervalMs, type, callback) => {
        const schedule = createSchedule(type, intervalMs, node.name, callback, task.options.clock());
        task.schedules.push(schedule);
        if (type === 'stream-time') task.nextStreamTimePunctuationMs = Math.min(task.nextStreamTimePunctuationMs, schedule.nextMs);
        return schedule;
      },
      getStateStore: <S extends StateStore>(name: string): S => {
        const store = task.stores.get(name) ?? task.options.globalStores.get(name);
        if (store === undefined) throw new Error(`${node.name} asked for store ${name}, which is not connected to it`);
        return store as S;
      },
      currentStreamTimeMs: () => task.streamTimeMs,
      currentSystemTimeMs: () => task.options.clock(),
      commit: () => {
        task.commitRequested = true;
      },
    };
  }

  private sink(node: SinkNode, fixedTopic: string | null, record: StreamRecord<unknown, unknown>): void {
    const topic = fixedTopic ?? (node.topic as TopicNameExtractor<unknown, unknown>)(record.key, record.value, this.recordContext());
    const key = record.key === null || record.key === undefined ? null : serializeField(node.keySerde, record.key, topic);
    const value = record.value === null || record.value === undefined ? null : serializeField(node.valueSerde, record.value, topic);
    const partition = node.partitioner === null ? null : (node.partitioner(topic, record.key, record.value, this.options.partitionCount?.(topic) ?? 1) ?? null);
    this.options.collector.send(new SinkRecord(topic, key, value, record.timestamp, record.headers, partition));
  }

  private resolve(topic: string): string {
    return resolveTopicName(this.options.topology, this.options.applicationId, topic);
  }
}

function forwardTo(children: readonly RuntimeNode[], record: StreamRecord<unknown, unknown>): void {
  for (let index = 0; index < children.length; index++) (children[index] as RuntimeNode).process(record);
}
