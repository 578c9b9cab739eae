// The consumer: either a member of a group (subscribe, to topics or a pattern) or a standalone
// reader of partitions it was given (assign). Group membership follows Kafka's classic protocol.
// With the eager assignors (range, roundrobin, sticky) a member gives up all its partitions
// before every rebalance (committing first when auto-commit is on). With cooperative-sticky
// (KIP-429) it keeps working on the partitions it keeps: it gives up only those the new plan
// moves away, then rejoins so they can go to their new owner in a second round.
//
// Heartbeats run in the background; a rebalance they detect is carried out by the next poll, so
// the application's own thread of control decides when partitions change hands. Fetching runs
// ahead of the application (see fetcher.ts); positions advance only as records are handed out,
// so commits never cover a record that was fetched but not consumed.
import { z } from 'zod';
import { ApiKey } from '../../core/protocol/index.ts';
import { Cluster, sleep } from './cluster.ts';
import { KafkaClientError, KafkaProtocolError, KafkaStateError, isRetriableError, throwIfError } from './errors.ts';
import type { ConsumerRecord, RecordMaker } from './fetch-records.ts';
import { Fetcher, type PackedRun, type PartitionState, type RecordRun } from './fetcher.ts';
import { GroupMembership, type TopicPartition } from './group-membership.ts';
import { BUILT_IN_ASSIGNORS, type PartitionAssignor } from './group-protocol.ts';
import { TypedConsumer, type Serde } from './serdes.ts';
import type { ConsumerGroupMetadata } from './transaction-manager.ts';
import { clusterOptions, commonOptionsShape, integer, parseOptions, type KafkaStyleOptions } from './options.ts';

export type { ConsumerRecord } from './fetch-records.ts';
export type { RecordMaker, RecordPlace, ScannedRecords } from './fetch-records.ts';
export type { PackedRun, RecordRun } from './fetcher.ts';
export type { TopicPartition } from './group-membership.ts';

const listener = z.custom<(partitions: TopicPartition[]) => Promise<void> | void>((value) => typeof value === 'function', 'must be a function');
const assignorObject = z.custom<PartitionAssignor>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string' && typeof (value as { assign?: unknown }).assign === 'function',
  'must be an assignor name or an assignor object with a name and an assign function',
);
const booleanSchema = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);

export const consumerOptionsSchema = z.strictObject({
  ...commonOptionsShape,
  groupId: z.string().min(1).optional(),
  groupInstanceId: z.string().min(1).optional(),
  sessionTimeoutMs: integer(1).default(45_000),
  /** The longest a member may go between polls before it leaves the group (max.poll.interval.ms). */
  maxPollIntervalMs: integer(1).default(300_000),
  /** How long the coordinator waits for members to rejoin; defaults to maxPollIntervalMs, as in Kafka. */
  rebalanceTimeoutMs: integer(1).optional(),
  heartbeatIntervalMs: integer(1).default(3_000),
  autoCommit: booleanSchema.default(true),
  autoCommitIntervalMs: integer(1).default(5_000),
  autoOffsetReset: z.enum(['earliest', 'latest', 'none']).default('latest'),
  /** Built-in assignors by name, or the application's own (PartitionAssignor), in order of preference. */
  partitionAssignors: z
    .union([z.string().transform((value) => value.split(',').map((entry) => entry.trim())), z.array(z.union([z.string(), assignorObject]))])
    .pipe(z.array(z.union([z.enum(['range', 'roundrobin', 'sticky', 'cooperative-sticky']), assignorObject])).min(1))
    .default(['range', 'roundrobin']),
  /** The most records one poll() returns (max.poll.records). */
  maxPollRecords: integer(1).default(500),
  fetchMinBytes: integer(1).default(1),
  fetchMaxBytes: integer(1).default(52_428_800),
  fetchMaxWaitMs: integer(0, 30_000).default(500),
  maxPartitionFetchBytes: integer(1).default(1_048_576),
  isolationLevel: z.enum(['read_uncommitted', 'read_committed']).default('read_uncommitted'),
  allowAutoTopicCreation: z.boolean().default(false),
  onPartitionsAssigned: listener.optional(),
  onPartitionsRevoked: listener.optional(),
  /** Partitions taken away without a chance to commit (the member was dropped); defaults to onPartitionsRevoked. */
  onPartitionsLost: listener.optional(),
}).refine((options) => options.heartbeatIntervalMs < options.sessionTimeoutMs, { message: 'heartbeatIntervalMs must be below sessionTimeoutMs', path: ['heartbeatIntervalMs'] });

export type ConsumerOptions = Partial<z.input<typeof consumerOptionsSchema>> & KafkaStyleOptions;
export type ResolvedConsumerOptions = z.output<typeof consumerOptionsSchema>;

export interface TopicPartitionOffset extends TopicPartition {
  offset: bigint;
}

export interface Subscription {
  /** Topic names, and patterns matched against every topic in the cluster (internal ones excepted). */
  topics?: readonly (string | RegExp)[];
  pattern?: RegExp;
  fromBeginning?: boolean;
}

const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class Consumer implements AsyncIterable<ConsumerRecord> {
  readonly options: ResolvedConsumerOptions;
  private readonly cluster: Cluster;
  private readonly membership: GroupMembership | null;
  private readonly assignors: readonly PartitionAssignor[];
  private readonly partitions = new Map<string, PartitionState & { resetTo?: 'earliest' | 'latest' }>();
  private readonly fetcher: Fetcher;
  /** Topic names and patterns subscribed to; null without a subscription. */
  private subscription: { names: string[]; patterns: RegExp[] } | null = null;
  /** The topics the subscription resolves to, sorted. */
  private subscribedTopics: string[] = [];
  private patternCheckedAt = 0;
  private resetStrategy: 'earliest' | 'latest' | 'none';
  private lastAutoCommit = Date.now();
  private lastPollAt = Date.now();
  private polling = false;
  private commitChain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: ConsumerOptions) {
    this.options = parseOptions(consumerOptionsSchema, options, 'consumer');
    this.cluster = new Cluster(clusterOptions(this.options, this.options.allowAutoTopicCreation));
    this.resetStrategy = this.options.autoOffsetReset;
    const rebalanceTimeoutMs = this.options.rebalanceTimeoutMs ?? this.options.maxPollIntervalMs;
    this.assignors = this.options.partitionAssignors.map((entry) => (typeof entry === 'string' ? BUILT_IN_ASSIGNORS[entry] : entry));
    this.membership = this.options.groupId === undefined ? null : new GroupMembership(this.cluster, { ...this.options, rebalanceTimeoutMs, assignors: this.assignors });
    // Time spent inside poll does not count: the interval bounds the application's work between polls.
    if (this.membership !== null) this.membership.pollOverdue = () => !this.polling && Date.now() - this.lastPollAt > this.options.maxPollIntervalMs;
    this.fetcher = new Fetcher(this.cluster, this.options, () => this.partitions.values(), (state) => this.partitions.get(partitionKey(state.topic, state.partition)) === state, (state) => {
      // OFFSET_OUT_OF_RANGE: the position is gone (retention) or not there yet; look it up again.
      state.position = null;
      state.fetchPosition = null;
    });
  }

  /** Joins the group for these topics or this pattern (on the next poll). */
  subscribe(subscription: Subscription | { topics: readonly string[]; fromBeginning?: boolean }): void {
    if (this.membership === null) throw new KafkaStateError('subscribe needs a groupId; use assign() to read partitions without a group');
    if (this.partitions.size > 0 && this.subscription === null) throw new KafkaStateError('the consumer already has a manual assignment');
    const entries = [...(subscription.topics ?? []), ...('pattern' in subscription && subscription.pattern !== undefined ? [subscription.pattern] : [])];
    if (entries.length === 0) throw new KafkaStateError('subscribe needs at least one topic or a pattern');
    this.subscription = {
      names: [...new Set(entries.filter((entry): entry is string => typeof entry === 'string'))],
      patterns: entries.filter((entry): entry is RegExp => entry instanceof RegExp),
    };
    this.patternCheckedAt = 0;
    if (subscription.fromBeginning === true) this.resetStrategy = 'earliest';
    this.membership.requestRejoin();
  }

  /** A view of this consumer whose records carry typed keys and values (the key defaults to bytes). */
  typed<V, K = Uint8Array>(serdes: { key?: Serde<K>; value: Serde<V> }): TypedConsumer<K, V> {
    return new TypedConsumer(this, serdes);
  }

  /** Reads exactly these partitions, without group membership; offset given or looked up. */
  assign(partitions: readonly (TopicPartition & { offset?: bigint })[]): void {
    if (this.subscription !== null) throw new KafkaStateError('the consumer is subscribed to topics; it cannot also assign partitions');
    this.fetcher.dropAll();
    this.partitions.clear();
    for (const entry of partitions) this.addPartition(entry.topic, entry.partition, entry.offset ?? null);
  }

  private addPartition(topic: string, partition: number, offset: bigint | null): void {
    this.partitions.set(partitionKey(topic, partition), { topic, partition, position: offset, fetchPosition: offset, paused: false, fetching: false, bufferedResponses: 0 });
  }

  assignment(): TopicPartition[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** The offset of the next record each assigned partition will hand out (null: not known yet). */
  positions(): (TopicPartition & { offset: bigint | null })[] {
    return [...this.partitions.values()].map(({ topic, partition, position }) => ({ topic, partition, offset: position }));
  }

  private stateOf(target: TopicPartition): PartitionState & { resetTo?: 'earliest' | 'latest' } {
    const state = this.partitions.get(partitionKey(target.topic, target.partition));
    if (state === undefined) throw new KafkaStateError(`${target.topic}-${target.partition} is not assigned to this consumer`);
    return state;
  }

  seek(target: TopicPartitionOffset): void {
    const state = this.stateOf(target);
    if (target.offset < 0n) throw new KafkaStateError(`offset ${target.offset} is negative`);
    this.fetcher.drop((candidate) => candidate === state);
    state.position = target.offset;
    state.fetchPosition = target.offset;
  }

  /** The next poll starts these partitions (all assigned ones by default) at their first offset. */
  seekToBeginning(partitions: readonly TopicPartition[] = this.assignment()): void {
    this.seekToEdge(partitions, 'earliest');
  }

  /** The next poll starts these partitions (all assigned ones by default) at their end. */
  seekToEnd(partitions: readonly TopicPartition[] = this.assignment()): void {
    this.seekToEdge(partitions, 'latest');
  }

  private seekToEdge(partitions: readonly TopicPartition[], edge: 'earliest' | 'latest'): void {
    const states = partitions.map((entry) => this.stateOf(entry));
    this.fetcher.drop((candidate) => states.includes(candidate));
    for (const state of states) {
      state.position = null;
      state.fetchPosition = null;
      state.resetTo = edge;
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const entry of partitions) {
      const state = this.partitions.get(partitionKey(entry.topic, entry.partition));
      if (state !== undefined) state.paused = true;
    }
    this.fetcher.drop((state) => state.paused);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const entry of partitions) {
      const state = this.partitions.get(partitionKey(entry.topic, entry.partition));
      if (state !== undefined) state.paused = false;
    }
  }

  /**
   * Waits up to timeoutMs for records and returns them (possibly none), at most maxRecords
   * (max.poll.records by default); the rest stay buffered, and positions move only past those returned.
   */
  async poll(options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<ConsumerRecord[]> {
    await this.fillPolling(options.timeoutMs ?? 1_000);
    const records = this.fetcher.take(Math.max(0, options.maxRecords ?? this.options.maxPollRecords));
    // Fetching the next records starts now, while the application works on these.
    this.fetcher.start();
    return records;
  }

  /**
   * poll() for callers that make their own record objects (the streams runtime): records come
   * in runs of one partition, each made by `maker` as it is handed out, with no ConsumerRecord
   * in between.
   */
  async pollRuns<R>(maker: RecordMaker<R>, options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<RecordRun<R>[]> {
    await this.fillPolling(options.timeoutMs ?? 1_000);
    const runs = this.fetcher.takeRuns(Math.max(0, options.maxRecords ?? this.options.maxPollRecords), maker);
    this.fetcher.start();
    return runs;
  }

  /**
   * pollRuns() without record objects: each run names records of a fetched response, which the
   * caller reads with ScannedRecords.locate (the streams runtime, through one object per
   * partition). The position moves past them as pollRuns moves it.
   */
  async pollPacked(options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<PackedRun[]> {
    await this.fillPolling(options.timeoutMs ?? 1_000);
    const runs = this.fetcher.takePacked(Math.max(0, options.maxRecords ?? this.options.maxPollRecords));
    this.fetcher.start();
    return runs;
  }

  /**
   * Yields records one at a time until close() is called. The position moves past a record
   * when it is yielded, so a commit after a break covers exactly the records seen.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord> {
    while (!this.closed) {
      try {
        await this.fillPolling(1_000);
      } catch (error) {
        if (this.closed) return;
        throw error;
      }
      const [record] = this.fetcher.take(1);
      this.fetcher.start();
      if (record !== undefined) yield record;
    }
  }

  private async fillPolling(timeoutMs: number): Promise<void> {
    this.polling = true;
    try {
      await this.fill(timeoutMs);
    } finally {
      this.polling = false;
      this.lastPollAt = Date.now();
    }
  }

  /** Makes sure records are buffered, fetching (and rebalancing) until the deadline. */
  private async fill(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new KafkaStateError('the consumer is closed');
      this.fetcher.raiseFailure();
      await this.checkPattern();
      await this.rebalanceIfNeeded();
      await this.maybeAutoCommit();
      if (this.fetcher.hasRecords) return;
      if (!(await this.resolvePositionsOrBackOff())) {
        if (Date.now() >= deadline) return;
        continue;
      }
      this.fetcher.start();
      const remaining = deadline - Date.now();
      if (remaining <= 0) return;
      // A quiet assignment (or none) wakes up now and then to heartbeat-driven rebalances.
      await this.fetcher.waitForFetch(Math.min(remaining, this.partitions.size === 0 ? 100 : this.options.fetchMaxWaitMs + 100));
      if (this.fetcher.hasRecords || Date.now() >= deadline) return;
    }
  }

  /** False after a retriable failure (a leader moving, say), once the backoff has passed. */
  private async resolvePositionsOrBackOff(): Promise<boolean> {
    try {
      await this.resolvePositions();
      return true;
    } catch (error) {
      if (!isRetriableError(error)) throw error;
      await this.cluster.refreshMetadata().catch(() => undefined);
      await sleep(this.options.retryBackoffMs);
      return false;
    }
  }

  /** Re-resolves a pattern subscription every metadata.max.age.ms; a change triggers a rejoin. */
  private async checkPattern(): Promise<void> {
    const subscription = this.subscription;
    if (subscription === null || this.membership === null) return;
    if (subscription.patterns.length === 0) {
      this.subscribedTopics = [...subscription.names].sort();
      return;
    }
    if (Date.now() - this.patternCheckedAt < this.options.metadataMaxAgeMs && this.patternCheckedAt > 0) return;
    this.patternCheckedAt = Date.now();
    const metadata = await this.cluster.refreshMetadata(null, false);
    const matched = [...metadata.values()]
      .filter((entry) => entry.info !== null && !entry.info.internal)
      .map((entry) => (entry.info as { name: string }).name)
      .filter((name) => subscription.patterns.some((pattern) => new RegExp(pattern.source, pattern.flags.replace('g', '')).test(name)));
    const topics = [...new Set([...subscription.names, ...matched])].sort();
    if (topics.join('\u0000') !== this.subscribedTopics.join('\u0000')) {
      this.subscribedTopics = topics;
      this.membership.requestRejoin();
    }
  }

  private cooperative(): boolean {
    return this.assignors.every((assignor) => assignor.rebalanceProtocol === 'cooperative');
  }

  private async rebalanceIfNeeded(): Promise<void> {
    const membership = this.membership;
    if (membership === null || this.subscription === null || !membership.rejoinNeeded) return;
    const owned = this.assignment();
    if (membership.membershipLost) {
      membership.membershipLost = false;
      this.dropPartitions(owned);
      if (owned.length > 0) await (this.options.onPartitionsLost ?? this.options.onPartitionsRevoked)?.(owned);
    } else if (!this.cooperative()) {
      await this.revoke(owned);
    }
    const kept = this.assignment();
    const assigned = await membership.join(this.subscribedTopics, kept);
    const assignedKeys = new Set(assigned.map((entry) => partitionKey(entry.topic, entry.partition)));
    const revoked = kept.filter((entry) => !assignedKeys.has(partitionKey(entry.topic, entry.partition)));
    const added = assigned.filter((entry) => !this.partitions.has(partitionKey(entry.topic, entry.partition)));
    if (revoked.length > 0) {
      // Cooperative: give these up now, then rejoin so the next round hands them on.
      await this.revoke(revoked);
      membership.requestRejoin();
    }
    for (const entry of added) this.addPartition(entry.topic, entry.partition, null);
    await this.resolvePositionsOrBackOff();
    if (added.length > 0 || !this.cooperative()) await this.options.onPartitionsAssigned?.(added);
  }

  /** Commits (with auto-commit on) and gives up partitions, telling the listener first. */
  private async revoke(partitions: readonly TopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    if (this.options.autoCommit) await this.commit(this.currentOffsets(partitions)).catch(() => undefined);
    await this.options.onPartitionsRevoked?.([...partitions]);
    this.dropPartitions(partitions);
  }

  private dropPartitions(partitions: readonly TopicPartition[]): void {
    const keys = new Set(partitions.map((entry) => partitionKey(entry.topic, entry.partition)));
    this.fetcher.drop((state) => keys.has(partitionKey(state.topic, state.partition)));
    for (const key of keys) this.partitions.delete(key);
  }

  private async maybeAutoCommit(): Promise<void> {
    if (!this.options.autoCommit || this.membership === null) return;
    if (Date.now() - this.lastAutoCommit < this.options.autoCommitIntervalMs) return;
    this.lastAutoCommit = Date.now();
    // A failed auto-commit is retried at the next interval; a rebalance it reveals is handled by poll.
    await this.commit().catch(() => undefined);
  }

  /** Looks up positions: committed offsets of the group first, then auto.offset.reset. */
  private async resolvePositions(): Promise<void> {
    const missing = [...this.partitions.values()].filter((state) => state.position === null);
    if (missing.length === 0) return;
    const lookups = missing.filter((state) => state.resetTo === undefined);
    if (this.membership !== null && lookups.length > 0) {
      const committed = await this.membership.fetchCommitted(lookups);
      for (const state of missing) {
        const offset = committed.get(partitionKey(state.topic, state.partition));
        if (offset !== undefined && offset >= 0n) this.setPosition(state, offset);
      }
    }
    const stillMissing = missing.filter((state) => state.position === null);
    if (stillMissing.length === 0) return;
    const noStrategy = stillMissing.filter((state) => state.resetTo === undefined && this.resetStrategy === 'none');
    if (noStrategy.length > 0) {
      const names = noStrategy.map((state) => `${state.topic}-${state.partition}`).join(', ');
      throw new KafkaClientError(`no committed offset for ${names} and auto.offset.reset is none`, false);
    }
    const earliest = stillMissing.filter((state) => (state.resetTo ?? this.resetStrategy) === 'earliest');
    const latest = stillMissing.filter((state) => (state.resetTo ?? this.resetStrategy) === 'latest');
    for (const [states, timestamp] of [[earliest, EARLIEST_TIMESTAMP], [latest, LATEST_TIMESTAMP]] as const) {
      if (states.length === 0) continue;
      const offsets = await this.listOffsets(states, timestamp);
      for (const state of states) {
        const offset = offsets.get(partitionKey(state.topic, state.partition));
        if (offset !== undefined) this.setPosition(state, offset);
      }
    }
  }

  private setPosition(state: PartitionState & { resetTo?: 'earliest' | 'latest' }, offset: bigint): void {
    state.position = offset;
    state.fetchPosition = offset;
    delete state.resetTo;
  }

  /** ListOffsets for the partitions at `timestamp` (-2 earliest, -1 latest, else a time). */
  async listOffsets(partitions: readonly TopicPartition[], timestamp: bigint): Promise<Map<string, bigint>> {
    const found = await this.offsetsForTimes(partitions.map((entry) => ({ ...entry, timestamp })));
    const result = new Map<string, bigint>();
    for (const entry of found) result.set(partitionKey(entry.topic, entry.partition), entry.offset ?? -1n);
    return result;
  }

  /**
   * For each partition, the earliest offset whose timestamp is at or after the given one, with
   * that record's timestamp; offset null when no record is that late (Kafka's offsetsForTimes).
   */
  async offsetsForTimes(partitions: readonly (TopicPartition & { timestamp: bigint | number | Date })[]): Promise<(TopicPartition & { offset: bigint | null; timestamp: bigint | null })[]> {
    const wanted = partitions.map((entry) => ({ ...entry, timestamp: entry.timestamp instanceof Date ? BigInt(entry.timestamp.getTime()) : BigInt(entry.timestamp) }));
    const byLeader = await this.groupByLeader(wanted);
    const result: (TopicPartition & { offset: bigint | null; timestamp: bigint | null })[] = [];
    await Promise.all([...byLeader].map(async ([leader, entries]) => {
      const connection = await this.cluster.connectionTo(leader);
      const topics = new Map<string, { partitionIndex: number; currentLeaderEpoch: number; timestamp: bigint }[]>();
      for (const entry of entries) topics.set(entry.topic, [...(topics.get(entry.topic) ?? []), { partitionIndex: entry.partition, currentLeaderEpoch: -1, timestamp: entry.timestamp }]);
      const { body } = await connection.send(ApiKey.ListOffsets, {
        replicaId: -1,
        isolationLevel: this.options.isolationLevel === 'read_committed' ? 1 : 0,
        topics: [...topics].map(([name, list]) => ({ name, partitions: list })),
      });
      for (const topic of body.topics) {
        for (const partition of topic.partitions) {
          throwIfError(partition.errorCode, `list offsets of ${topic.name}-${partition.partitionIndex}`);
          const none = partition.offset < 0n;
          result.push({ topic: topic.name, partition: partition.partitionIndex, offset: none ? null : partition.offset, timestamp: none ? null : partition.timestamp });
        }
      }
    }));
    return result;
  }

  private async groupByLeader<T extends TopicPartition>(partitions: readonly T[]): Promise<Map<number, T[]>> {
    const byLeader = new Map<number, T[]>();
    for (const entry of partitions) {
      const info = await this.cluster.topic(entry.topic);
      const leader = info.partitions[entry.partition]?.leader;
      if (leader === undefined) throw new KafkaProtocolError(3, `${entry.topic}-${entry.partition}`);
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), entry]);
    }
    return byLeader;
  }

  private currentOffsets(partitions: readonly TopicPartition[] = this.assignment()): TopicPartitionOffset[] {
    const offsets: TopicPartitionOffset[] = [];
    for (const entry of partitions) {
      const state = this.partitions.get(partitionKey(entry.topic, entry.partition));
      if (state !== undefined && state.position !== null) offsets.push({ topic: state.topic, partition: state.partition, offset: state.position });
    }
    return offsets;
  }

  /**
   * The group, generation and member id as of now, for a transactional producer's
   * sendOffsetsToTransaction: the group coordinator refuses offsets sent for a generation this
   * member no longer belongs to, which fences a zombie that lost its partitions.
   */
  groupMetadata(): ConsumerGroupMetadata {
    const membership = this.membership;
    if (membership === null) throw new KafkaStateError('groupMetadata needs a groupId');
    return { groupId: membership.groupId, generationId: membership.generationId, memberId: membership.memberId, groupInstanceId: this.options.groupInstanceId ?? null };
  }

  /** Commits the given offsets, or the current positions of every assigned partition, and waits. */
  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    const membership = this.membership;
    if (membership === null) throw new KafkaStateError('commit needs a groupId');
    const toCommit = offsets ?? this.currentOffsets();
    if (toCommit.length === 0) return;
    // Commits go out in call order, so a slow earlier commit never lands after a later one.
    const committing = this.commitChain.then(() => membership.commit(toCommit, this.subscription !== null));
    this.commitChain = committing.catch(() => undefined);
    await committing;
  }

  /**
   * Starts a commit and returns at once (Kafka's commitAsync). Commits keep their order; the
   * outcome goes to `onComplete`, and a failure is never thrown into the poll loop.
   */
  commitAsync(offsets?: readonly TopicPartitionOffset[], onComplete?: (error: Error | null, offsets: readonly TopicPartitionOffset[]) => void): void {
    const toCommit = offsets ?? (this.membership === null ? [] : this.currentOffsets());
    this.commit(toCommit).then(
      () => onComplete?.(null, toCommit),
      (error: unknown) => onComplete?.(error instanceof Error ? error : new Error(String(error)), toCommit),
    );
  }

  /** Commits (with auto-commit on), leaves the group and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.membership !== null && this.options.autoCommit && !this.membership.membershipLost) await this.commit().catch(() => undefined);
      await this.commitChain;
      if (this.membership !== null) await this.membership.leave().catch(() => undefined);
    } finally {
      this.closed = true;
      await this.cluster.close();
    }
  }
}
