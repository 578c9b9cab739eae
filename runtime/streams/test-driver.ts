// TopologyTestDriver: runs a Topology without a broker. It drives the same StreamTask code the
// broker-backed runtime uses, one task per sub-topology and partition. Topics have one
// partition unless the options say otherwise; keyed records go to the partition the Java
// client's murmur2 picks, records without a key go round-robin. Piped records go to the task
// of their sub-topology and partition, records written to repartition topics are fed back in,
// exactly as a consumer would read them, and every pipe ends with a commit.
import { Duration, DateTime } from 'luxon';
import { encodeUtf8, type Serde } from '../../core/serdes/serde.ts';
import { partitionForKey } from '../../core/partitioner.ts';
import { LIMITS } from '../../core/limits.ts';
import { resolvePartitionCounts } from '../../core/topology/partition-counts.ts';
import type { ChangelogRecord, ChangelogWriter, StateStore, TaskMetrics } from '../../core/topology/processor.ts';
import type { Headers, TopicRecord, ValueAndTimestamp } from '../../core/topology/record.ts';
import { findQueryableStore, resolveTopicName, type Topology } from '../../core/topology/topology.ts';
import type { KeyValueStore, ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore, SessionStore, WindowStore } from '../../state/stores/types.ts';
import { compositeKeyValueView, compositeSessionView, compositeWindowView, keyValueView, windowView } from '../../state/stores/views.ts';
import { GlobalStoreTask } from './global.ts';
import { StreamTask, type DeserializationErrorHandler, type OutgoingRecord } from './task.ts';

export interface TestDriverOptions {
  readonly applicationId?: string;
  readonly initialWallClockTimeMs?: number;
  readonly deserializationErrorHandler?: DeserializationErrorHandler;
  readonly log?: (message: string) => void;
  /**
   * Changelog topics to restore stores from, as another driver's changelogRecords() returned
   * them: a restart of the application with its local state lost.
   */
  readonly changelogs?: ReadonlyMap<string, readonly TopicRecord[]>;
  /**
   * Partition counts of user topics (input, output, pattern matches), by name. Internal topics
   * follow the topology: repartition topics take their fixed count or their writer's task
   * count, changelogs one partition per task.
   */
  readonly partitions?: Readonly<Record<string, number>>;
  /** Partition count of user topics not named in partitions. Default 1. */
  readonly defaultPartitions?: number;
}

export interface TestRecord<K, V> {
  readonly key: K | null;
  readonly value: V | null;
  readonly timestamp: number;
  readonly headers: Headers;
  /** Output records carry the partition they were written to; input records may choose one. */
  readonly partition?: number;
}

type TimestampLike = number | DateTime;

/** A sink's key or value as the topic holds it: text (see OutgoingRecord) is stored as its UTF-8 bytes. */
function bytesOf(field: Uint8Array | string | null): Uint8Array | null {
  return typeof field === 'string' ? encodeUtf8(field) : field;
}

function timestampMs(timestamp: TimestampLike): number {
  return typeof timestamp === 'number' ? timestamp : timestamp.toMillis();
}

export class TopologyTestDriver {
  readonly applicationId: string;
  private wallClockMs: number;
  private readonly tasks: StreamTask[] = [];
  private readonly globalTasks: GlobalStoreTask[] = [];
  /** Every record produced to each topic, in order of production; output topics read from here. */
  private readonly topics = new Map<string, TopicRecord[]>();
  private readonly readPositions = new Map<string, number>();
  /** Next offset per topic partition, counting piped and produced records alike. */
  private readonly nextOffsets = new Map<string, bigint>();
  /** Partition counts by full topic name (internal topics prefixed). */
  private readonly partitionCounts = new Map<string, number>();
  private readonly userPartitions: (topic: string) => number;
  /** Next partition for records without a key, per topic. */
  private readonly roundRobin = new Map<string, number>();
  private readonly pending: { topic: string; record: TopicRecord }[] = [];

  constructor(private readonly topology: Topology, options: TestDriverOptions = {}) {
    this.applicationId = options.applicationId ?? 'test-application';
    this.wallClockMs = options.initialWallClockTimeMs ?? 0;
    const defaultPartitions = options.defaultPartitions ?? 1;
    this.userPartitions = (topic) => options.partitions?.[topic] ?? defaultPartitions;
    const counts = resolvePartitionCounts(topology, (topic) => (typeof topic === 'string' ? this.userPartitions(topic) : defaultPartitions));
    for (const [topic, count] of counts.topics) this.partitionCounts.set(resolveTopicName(topology, this.applicationId, topic), count);
    const changelogWriter: ChangelogWriter = {
      send: (topic, partition, key, value, timestamp) => this.append(topic, { key, value, timestamp, headers: [], partition }),
    };
    for (const global of topology.globalStores) this.globalTasks.push(new GlobalStoreTask(topology, global, this.applicationId, () => this.wallClockMs));
    const globalStores = new Map<string, StateStore>(this.globalTasks.map((task) => [task.storeName, task.store]));
    for (const subtopology of topology.subtopologies) {
      for (let partition = 0; partition < (counts.tasks.get(subtopology.id) ?? 1); partition++) {
        const task = new StreamTask({
          applicationId: this.applicationId,
          topology,
          subtopologyId: subtopology.id,
          partition,
          collector: { send: (record) => this.produce(record) },
          changelogWriter,
          clock: () => this.wallClockMs,
          deserializationErrorHandler: options.deserializationErrorHandler ?? 'log-and-continue',
          globalStores,
          log: options.log ?? (() => undefined),
          partitionCount: (topic) => this.partitionCount(topic),
        });
        const changelog = (topic: string) => (options.changelogs?.get(topic) ?? []).filter((record) => record.partition === partition);
        task.init((_storeName, topic) => this.restoreFrom(changelog(topic), topic));
        this.tasks.push(task);
      }
    }
  }

  /** Partitions of a topic by its full name: internal ones as the topology decides, user ones as the options say. */
  partitionCount(topic: string): number {
    return this.partitionCounts.get(topic) ?? this.userPartitions(topic);
  }

  /** Ids of the tasks the driver runs, `<subtopology>_<partition>`. */
  taskIds(): string[] {
    return this.tasks.map((task) => task.id);
  }

  createInputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>, options: { startTimestamp?: TimestampLike; autoAdvanceMs?: number } = {}): TestInputTopic<K, V> {
    return new TestInputTopic(this, topic, keySerde, valueSerde, options.startTimestamp === undefined ? this.wallClockMs : timestampMs(options.startTimestamp), options.autoAdvanceMs ?? 0);
  }

  createOutputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>): TestOutputTopic<K, V> {
    return new TestOutputTopic(this, topic, keySerde, valueSerde);
  }

  /** Internal: pipes one raw record and processes everything it causes. */
  pipeRaw(topic: string, key: Uint8Array | null, value: Uint8Array | null, timestamp: number, headers: Headers, partition?: number): void {
    const consumed = this.tasks.some((task) => task.consumesTopic(topic)) || this.globalTasks.some((task) => task.consumesTopic(topic));
    if (!consumed) throw new Error(`no source in the topology reads topic ${topic}`);
    this.pending.push({ topic, record: this.record(topic, key, value, timestamp, headers, partition ?? null) });
    this.drain();
  }

  /** Moves wall-clock time forward and fires due wall-clock punctuations. */
  advanceWallClockTime(advance: number | Duration): void {
    this.wallClockMs += Duration.isDuration(advance) ? advance.toMillis() : advance;
    for (const task of this.tasks) task.punctuateWallClock(this.wallClockMs);
    this.drain();
  }

  /** Internal: takes the next unread record of a topic. */
  readRaw(topic: string): TopicRecord | undefined {
    const records = this.topics.get(topic) ?? [];
    const position = this.readPositions.get(topic) ?? 0;
    const record = records[position];
    if (record !== undefined) this.readPositions.set(topic, position + 1);
    return record;
  }

  unreadCount(topic: string): number {
    return (this.topics.get(topic)?.length ?? 0) - (this.readPositions.get(topic) ?? 0);
  }

  /** Every changelog topic's records so far, to start another driver from this state. */
  changelogRecords(): Map<string, TopicRecord[]> {
    const changelogs = new Map<string, TopicRecord[]>();
    for (const [topic, records] of this.topics) if (topic.endsWith('-changelog')) changelogs.set(topic, [...records]);
    return changelogs;
  }

  producedTopicNames(): string[] {
    return [...this.topics.keys()];
  }

  /** Name of an internal topic as created on a cluster (`<application.id>-<name>`). */
  internalTopicName(name: string): string {
    return resolveTopicName(this.topology, this.applicationId, name);
  }

  metrics(): TaskMetrics {
    const total: TaskMetrics = { droppedLateRecords: 0, skippedRecords: 0, droppedRecords: 0 };
    for (const task of [...this.tasks, ...this.globalTasks]) {
      total.droppedLateRecords += task.metrics.droppedLateRecords;
      total.skippedRecords += task.metrics.skippedRecords;
      total.droppedRecords += task.metrics.droppedRecords;
    }
    return total;
  }

  /**
   * Raw access to one instance of any store, internal ones included, for tests that need to
   * look inside or pre-populate it (as Kafka's TopologyTestDriver allows). With several
   * partitions it is the instance of the given partition. Queries go through the typed getters.
   */
  getStateStore(name: string, partition = 0): StateStore {
    const global = this.globalTasks.find((task) => task.storeName === name);
    if (global !== undefined) return global.store;
    for (const task of this.tasks) {
      if (task.partition !== partition) continue;
      const store = task.getStore(name);
      if (store !== undefined) return store;
    }
    throw new Error(`no store named ${name} in partition ${partition}`);
  }

  /** Every instance of a store: one per task that has it, or the single global one. */
  private instances<S>(name: string): S[] {
    const global = this.globalTasks.find((task) => task.storeName === name);
    if (global !== undefined) return [global.store as S];
    return this.tasks.flatMap((task) => {
      const store = task.getStore(name);
      return store === undefined ? [] : [store as S];
    });
  }

  /** A queryable key-value store's contents without timestamps, across all partitions, read-only. */
  getKeyValueStore<K, V>(name: string): ReadOnlyKeyValueStore<K, V> {
    const descriptor = findQueryableStore(this.topology, name, 'key-value');
    const stores = descriptor.timestamped
      ? this.instances<KeyValueStore<K, ValueAndTimestamp<V>>>(name).map((store) => keyValueView(store))
      : this.instances<KeyValueStore<K, V>>(name);
    return compositeKeyValueView(name, stores);
  }

  getTimestampedKeyValueStore<K, V>(name: string): ReadOnlyKeyValueStore<K, ValueAndTimestamp<V>> {
    const descriptor = findQueryableStore(this.topology, name, 'key-value');
    if (!descriptor.timestamped) throw new Error(`store ${name} keeps no timestamps; use getKeyValueStore`);
    return compositeKeyValueView(name, this.instances<KeyValueStore<K, ValueAndTimestamp<V>>>(name));
  }

  getWindowStore<K, V>(name: string): ReadOnlyWindowStore<K, V> {
    const descriptor = findQueryableStore(this.topology, name, 'window');
    const stores = descriptor.timestamped
      ? this.instances<WindowStore<K, ValueAndTimestamp<V>>>(name).map((store) => windowView(store))
      : this.instances<WindowStore<K, V>>(name);
    return compositeWindowView(name, stores);
  }

  getSessionStore<K, V>(name: string): ReadOnlySessionStore<K, V> {
    findQueryableStore(this.topology, name, 'session');
    return compositeSessionView(name, this.instances<SessionStore<K, V>>(name));
  }

  close(): void {
    for (const task of this.tasks) {
      task.commit();
      task.close();
    }
    for (const task of this.globalTasks) task.close();
  }

  /** Copies restored records into this driver's topics too, so its changelogs stay complete. */
  private restoreFrom(records: readonly TopicRecord[], topic: string): ChangelogRecord[] {
    const restored: ChangelogRecord[] = [];
    for (const record of records) {
      if (record.key === null) throw new Error(`changelog ${topic} holds a record without a key`);
      this.append(topic, { key: record.key, value: record.value, timestamp: record.timestamp, headers: record.headers, partition: record.partition });
      restored.push({ key: record.key, value: record.value });
    }
    return restored;
  }

  /** The partition a record goes to: the chosen one, else murmur2 of the key, else round-robin. */
  private choosePartition(topic: string, key: Uint8Array | null, chosen: number | null): number {
    const count = this.partitionCount(topic);
    if (chosen !== null) {
      if (!Number.isInteger(chosen) || chosen < 0 || chosen >= count) throw new Error(`partition ${chosen} of topic ${topic} does not exist; it has ${count}`);
      return chosen;
    }
    if (key !== null) return partitionForKey(key, count);
    const next = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, (next + 1) % count);
    return next;
  }

  private record(topic: string, key: Uint8Array | null, value: Uint8Array | null, timestamp: number, headers: Headers, chosenPartition: number | null): TopicRecord {
    const partition = this.choosePartition(topic, key, chosenPartition);
    const position = `${topic}\u0000${partition}`;
    const offset = this.nextOffsets.get(position) ?? 0n;
    this.nextOffsets.set(position, offset + 1n);
    return { key, value, timestamp, headers, partition, offset };
  }

  private append(topic: string, record: Omit<OutgoingRecord, 'topic'>): TopicRecord {
    const stored = this.record(topic, bytesOf(record.key), bytesOf(record.value), record.timestamp, record.headers, record.partition);
    let records = this.topics.get(topic);
    if (records === undefined) this.topics.set(topic, (records = []));
    records.push(stored);
    return stored;
  }

  private produce(outgoing: OutgoingRecord): void {
    const stored = this.append(outgoing.topic, outgoing);
    const consumed = this.tasks.some((task) => task.consumesTopic(outgoing.topic)) || this.globalTasks.some((task) => task.consumesTopic(outgoing.topic));
    if (consumed) this.pending.push({ topic: outgoing.topic, record: stored });
  }

  /** Processes queued records breadth-first, as consumers would see them, then commits. */
  private drain(): void {
    let processed = 0;
    // A commit flushes caches, which may send table updates on to sinks and repartition
    // topics; those records are processed and committed too before the pipe returns.
    do {
      for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) {
        if (++processed > LIMITS.driverCascadeRecordsMax) throw new Error('test driver: records keep cycling through topics');
        for (const global of this.globalTasks) if (global.consumesTopic(next.topic)) global.process(next.topic, next.record);
        for (const task of this.tasks) if (task.partition === next.record.partition && task.consumesTopic(next.topic)) task.process(next.topic, next.record);
      }
      for (const task of this.tasks) task.commit();
      for (const global of this.globalTasks) global.flush();
    } while (this.pending.length > 0);
  }
}

export class TestInputTopic<K, V> {
  private nextTimestampMs: number;

  constructor(
    private readonly driver: TopologyTestDriver,
    readonly topic: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    startTimestampMs: number,
    private readonly autoAdvanceMs: number,
  ) {
    this.nextTimestampMs = startTimestampMs;
  }

  /** Pipes one record; without a partition, a keyed record goes where murmur2 of its key bytes says. */
  pipeInput(key: K | null, value: V | null, timestamp?: TimestampLike, headers: Headers = [], partition?: number): void {
    const time = timestamp === undefined ? this.nextTimestampMs : timestampMs(timestamp);
    if (timestamp === undefined) this.nextTimestampMs += this.autoAdvanceMs;
    const keyBytes = key === null ? null : this.keySerde.serialize(key, this.topic);
    const valueBytes = value === null ? null : this.valueSerde.serialize(value, this.topic);
    this.driver.pipeRaw(this.topic, keyBytes, valueBytes, time, headers, partition);
  }

  pipeValue(value: V | null, timestamp?: TimestampLike): void {
    this.pipeInput(null, value, timestamp);
  }

  pipeKeyValueList(entries: readonly (readonly [K | null, V | null])[]): void {
    for (const [key, value] of entries) this.pipeInput(key, value);
  }

  pipeRecordList(records: readonly TestRecord<K, V>[]): void {
    for (const record of records) this.pipeInput(record.key, record.value, record.timestamp, record.headers, record.partition);
  }

  advanceTime(advance: number | Duration): void {
    this.nextTimestampMs += Duration.isDuration(advance) ? advance.toMillis() : advance;
  }
}

export class TestOutputTopic<K, V> {
  constructor(
    private readonly driver: TopologyTestDriver,
    readonly topic: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {}

  readRecord(): TestRecord<K, V> {
    const raw = this.driver.readRaw(this.topic);
    if (raw === undefined) throw new Error(`topic ${this.topic} has no more records`);
    return {
      key: raw.key === null ? null : this.keySerde.deserialize(raw.key, this.topic),
      value: raw.value === null ? null : this.valueSerde.deserialize(raw.value, this.topic),
      timestamp: raw.timestamp,
      headers: raw.headers,
      partition: raw.partition,
    };
  }

  readKeyValue(): { key: K | null; value: V | null } {
    const record = this.readRecord();
    return { key: record.key, value: record.value };
  }

  readValue(): V | null {
    return this.readRecord().value;
  }

  readRecordsToList(): TestRecord<K, V>[] {
    const records: TestRecord<K, V>[] = [];
    while (!this.isEmpty()) records.push(this.readRecord());
    return records;
  }

  readKeyValuesToList(): { key: K | null; value: V | null }[] {
    return this.readRecordsToList().map((record) => ({ key: record.key, value: record.value }));
  }

  readValuesToList(): (V | null)[] {
    return this.readRecordsToList().map((record) => record.value);
  }

  /** The latest value per key; a null value removes the key, as a table would. */
  readKeyValuesToMap(): Map<K | null, V> {
    const result = new Map<K | null, V>();
    for (const record of this.readRecordsToList()) {
      if (record.value === null) result.delete(record.key);
      else result.set(record.key, record.value);
    }
    return result;
  }

  isEmpty(): boolean {
    return this.driver.unreadCount(this.topic) === 0;
  }

  getQueueSize(): number {
    return this.driver.unreadCount(this.topic);
  }
}
