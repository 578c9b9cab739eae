// The consumer: either a member of a group (subscribe) or a standalone reader of partitions it
// was given (assign). Group membership follows Kafka's classic protocol with eager rebalancing:
// on every rebalance a member gives up all its partitions (committing first when auto-commit is
// on), joins, the leader computes the assignment, and everyone receives theirs in SyncGroup.
// Heartbeats run in the background; a rebalance they detect is carried out by the next poll,
// so the application's own thread of control decides when partitions change hands.
//
// Positions advance only as records are handed to the application, so auto-commit and
// commit() never commit a record that was fetched but not consumed.
import { z } from 'zod';
import { ApiKey } from '../../core/protocol/index.ts';
import { Cluster, sleep } from './cluster.ts';
import { KafkaClientError, KafkaProtocolError, KafkaStateError, isRetriableError, throwIfError } from './errors.ts';
import { recordsFromFetch, type ConsumerRecord } from './fetch-records.ts';
import { GroupMembership, type TopicPartition } from './group-membership.ts';
import { clusterOptions, commonOptionsShape, integer, parseOptions, type KafkaStyleOptions } from './options.ts';

export type { ConsumerRecord } from './fetch-records.ts';
export type { TopicPartition } from './group-membership.ts';

const listener = z.custom<(partitions: TopicPartition[]) => Promise<void> | void>((value) => typeof value === 'function', 'must be a function');

export const consumerOptionsSchema = z.strictObject({
  ...commonOptionsShape,
  groupId: z.string().min(1).optional(),
  groupInstanceId: z.string().min(1).optional(),
  sessionTimeoutMs: integer(1).default(45_000),
  rebalanceTimeoutMs: integer(1).default(60_000),
  heartbeatIntervalMs: integer(1).default(3_000),
  autoCommit: z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]).default(true),
  autoCommitIntervalMs: integer(1).default(5_000),
  autoOffsetReset: z.enum(['earliest', 'latest', 'none']).default('latest'),
  partitionAssignors: z
    .union([z.string().transform((value) => value.split(',').map((entry) => entry.trim())), z.array(z.string())])
    .pipe(z.array(z.enum(['range', 'roundrobin'])).min(1))
    .default(['range', 'roundrobin']),
  fetchMinBytes: integer(1).default(1),
  fetchMaxBytes: integer(1).default(52_428_800),
  fetchMaxWaitMs: integer(0, 30_000).default(500),
  maxPartitionFetchBytes: integer(1).default(1_048_576),
  isolationLevel: z.enum(['read_uncommitted', 'read_committed']).default('read_uncommitted'),
  allowAutoTopicCreation: z.boolean().default(false),
  onPartitionsAssigned: listener.optional(),
  onPartitionsRevoked: listener.optional(),
}).refine((options) => options.heartbeatIntervalMs < options.sessionTimeoutMs, { message: 'heartbeatIntervalMs must be below sessionTimeoutMs', path: ['heartbeatIntervalMs'] });

export type ConsumerOptions = Partial<z.input<typeof consumerOptionsSchema>> & KafkaStyleOptions;
export type ResolvedConsumerOptions = z.output<typeof consumerOptionsSchema>;

export interface TopicPartitionOffset extends TopicPartition {
  offset: bigint;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** The offset of the next record to hand out; null until looked up. */
  position: bigint | null;
  paused: boolean;
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
  private readonly partitions = new Map<string, PartitionState>();
  private buffered: ConsumerRecord[] = [];
  private subscribed: string[] | null = null;
  private resetStrategy: 'earliest' | 'latest' | 'none';
  private lastAutoCommit = Date.now();
  private closed = false;

  constructor(options: ConsumerOptions) {
    this.options = parseOptions(consumerOptionsSchema, options, 'consumer');
    this.cluster = new Cluster(clusterOptions(this.options, this.options.allowAutoTopicCreation));
    this.resetStrategy = this.options.autoOffsetReset;
    this.membership = this.options.groupId === undefined ? null : new GroupMembership(this.cluster, this.options);
  }

  /** Joins the group for these topics (on the next poll); fromBeginning sets auto.offset.reset=earliest. */
  subscribe(subscription: { topics: readonly string[]; fromBeginning?: boolean }): void {
    if (this.membership === null) throw new KafkaStateError('subscribe needs a groupId; use assign() to read partitions without a group');
    if (this.partitions.size > 0 && this.subscribed === null) throw new KafkaStateError('the consumer already has a manual assignment');
    if (subscription.topics.length === 0) throw new KafkaStateError('subscribe needs at least one topic');
    this.subscribed = [...new Set(subscription.topics)].sort();
    if (subscription.fromBeginning === true) this.resetStrategy = 'earliest';
    this.membership.requestRejoin();
  }

  /** Reads exactly these partitions, without group membership; offset given or looked up. */
  assign(partitions: readonly (TopicPartition & { offset?: bigint })[]): void {
    if (this.subscribed !== null) throw new KafkaStateError('the consumer is subscribed to topics; it cannot also assign partitions');
    this.partitions.clear();
    this.buffered = [];
    for (const entry of partitions) {
      this.partitions.set(partitionKey(entry.topic, entry.partition), { topic: entry.topic, partition: entry.partition, position: entry.offset ?? null, paused: false });
    }
  }

  assignment(): TopicPartition[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** The offset of the next record each assigned partition will hand out (null: not known yet). */
  positions(): (TopicPartition & { offset: bigint | null })[] {
    return [...this.partitions.values()].map(({ topic, partition, position }) => ({ topic, partition, offset: position }));
  }

  seek(target: TopicPartitionOffset): void {
    const state = this.partitions.get(partitionKey(target.topic, target.partition));
    if (state === undefined) throw new KafkaStateError(`${target.topic}-${target.partition} is not assigned to this consumer`);
    if (target.offset < 0n) throw new KafkaStateError(`offset ${target.offset} is negative`);
    state.position = target.offset;
    this.dropBuffered((record) => record.topic === target.topic && record.partition === target.partition);
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const entry of partitions) {
      const state = this.partitions.get(partitionKey(entry.topic, entry.partition));
      if (state !== undefined) state.paused = true;
    }
    this.dropBuffered((record) => this.partitions.get(partitionKey(record.topic, record.partition))?.paused === true);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const entry of partitions) {
      const state = this.partitions.get(partitionKey(entry.topic, entry.partition));
      if (state !== undefined) state.paused = false;
    }
  }

  private dropBuffered(matches: (record: ConsumerRecord) => boolean): void {
    this.buffered = this.buffered.filter((record) => !matches(record));
  }

  /**
   * Waits up to timeoutMs for records and returns them (possibly none), at most maxRecords;
   * records beyond that stay buffered for the next poll, and positions move only past those returned.
   */
  async poll(options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<ConsumerRecord[]> {
    await this.fill(options.timeoutMs ?? 1_000);
    const records = this.buffered.splice(0, Math.max(0, options.maxRecords ?? this.buffered.length));
    for (const record of records) this.advance(record);
    return records;
  }

  /** Yields records one at a time until close() is called. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumerRecord> {
    while (!this.closed) {
      try {
        await this.fill(1_000);
      } catch (error) {
        if (this.closed) return;
        throw error;
      }
      const record = this.buffered.shift();
      if (record === undefined) continue;
      this.advance(record);
      yield record;
    }
  }

  private advance(record: ConsumerRecord): void {
    const state = this.partitions.get(partitionKey(record.topic, record.partition));
    if (state !== undefined) state.position = record.offset + 1n;
  }

  /** Makes sure the buffer holds records, fetching (and rebalancing) until the deadline. */
  private async fill(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new KafkaStateError('the consumer is closed');
      await this.rebalanceIfNeeded();
      await this.maybeAutoCommit();
      if (this.buffered.length > 0) return;
      if (!(await this.resolvePositionsOrBackOff())) {
        if (Date.now() >= deadline) return;
        continue;
      }
      const remaining = deadline - Date.now();
      await this.fetchOnce(Math.max(0, Math.min(this.options.fetchMaxWaitMs, remaining)));
      if (this.buffered.length > 0 || Date.now() >= deadline) return;
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

  private async rebalanceIfNeeded(): Promise<void> {
    const membership = this.membership;
    if (membership === null || this.subscribed === null || !membership.rejoinNeeded) return;
    const owned = this.assignment();
    if (owned.length > 0) {
      if (this.options.autoCommit) await this.commit().catch(() => undefined);
      await this.options.onPartitionsRevoked?.(owned);
    }
    this.partitions.clear();
    this.buffered = [];
    const assigned = await membership.join(this.subscribed);
    for (const entry of assigned) {
      this.partitions.set(partitionKey(entry.topic, entry.partition), { topic: entry.topic, partition: entry.partition, position: null, paused: false });
    }
    await this.resolvePositionsOrBackOff();
    await this.options.onPartitionsAssigned?.(assigned);
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
    if (this.membership !== null) {
      const committed = await this.membership.fetchCommitted(missing);
      for (const state of missing) {
        const offset = committed.get(partitionKey(state.topic, state.partition));
        if (offset !== undefined && offset >= 0n) state.position = offset;
      }
    }
    const stillMissing = missing.filter((state) => state.position === null);
    if (stillMissing.length === 0) return;
    if (this.resetStrategy === 'none') {
      const names = stillMissing.map((state) => `${state.topic}-${state.partition}`).join(', ');
      throw new KafkaClientError(`no committed offset for ${names} and auto.offset.reset is none`, false);
    }
    const offsets = await this.listOffsets(stillMissing, this.resetStrategy === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP);
    for (const state of stillMissing) state.position = offsets.get(partitionKey(state.topic, state.partition)) ?? null;
  }

  /** ListOffsets for the partitions at `timestamp` (-2 earliest, -1 latest, else a time). */
  async listOffsets(partitions: readonly TopicPartition[], timestamp: bigint): Promise<Map<string, bigint>> {
    const byLeader = await this.groupByLeader(partitions);
    const result = new Map<string, bigint>();
    await Promise.all([...byLeader].map(async ([leader, entries]) => {
      const connection = await this.cluster.connectionTo(leader);
      const { body } = await connection.send(ApiKey.ListOffsets, {
        replicaId: -1,
        isolationLevel: this.options.isolationLevel === 'read_committed' ? 1 : 0,
        topics: groupTopics(entries).map(([name, indexes]) => ({ name, partitions: indexes.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) })),
      });
      for (const topic of body.topics) {
        for (const partition of topic.partitions) {
          throwIfError(partition.errorCode, `list offsets of ${topic.name}-${partition.partitionIndex}`);
          result.set(partitionKey(topic.name, partition.partitionIndex), partition.offset);
        }
      }
    }));
    return result;
  }

  private async groupByLeader(partitions: readonly TopicPartition[]): Promise<Map<number, TopicPartition[]>> {
    const byLeader = new Map<number, TopicPartition[]>();
    for (const entry of partitions) {
      const info = await this.cluster.topic(entry.topic);
      const leader = info.partitions[entry.partition]?.leader;
      if (leader === undefined) throw new KafkaProtocolError(3, `${entry.topic}-${entry.partition}`);
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), entry]);
    }
    return byLeader;
  }

  /** One Fetch per leader, all at once; records go to the buffer. */
  private async fetchOnce(waitMs: number): Promise<void> {
    const ready = [...this.partitions.values()].filter((state) => state.position !== null && !state.paused);
    if (ready.length === 0) {
      await sleep(Math.min(waitMs, 100));
      return;
    }
    let byLeader: Map<number, TopicPartition[]>;
    try {
      byLeader = await this.groupByLeader(ready);
    } catch (error) {
      if (!isRetriableError(error)) throw error;
      await sleep(this.options.retryBackoffMs);
      return;
    }
    await Promise.all([...byLeader].map(([leader, entries]) => this.fetchFrom(leader, entries, waitMs).catch(async (error: unknown) => {
      if (!isRetriableError(error)) throw error;
      await this.cluster.refreshMetadata().catch(() => undefined);
      await sleep(this.options.retryBackoffMs);
    })));
  }

  private async fetchFrom(leader: number, entries: readonly TopicPartition[], waitMs: number): Promise<void> {
    const connection = await this.cluster.connectionTo(leader);
    const fetchOffsets = new Map<string, bigint>();
    for (const entry of entries) fetchOffsets.set(partitionKey(entry.topic, entry.partition), this.partitions.get(partitionKey(entry.topic, entry.partition))?.position ?? 0n);
    const { body } = await connection.send(ApiKey.Fetch, {
      replicaId: -1, maxWaitMs: waitMs, minBytes: this.options.fetchMinBytes, maxBytes: this.options.fetchMaxBytes,
      isolationLevel: this.options.isolationLevel === 'read_committed' ? 1 : 0, sessionId: 0, sessionEpoch: -1,
      topics: groupTopics(entries).map(([topic, indexes]) => ({
        topic,
        partitions: indexes.map((partition) => ({
          partition, currentLeaderEpoch: -1, fetchOffset: fetchOffsets.get(partitionKey(topic, partition)) ?? 0n,
          lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: this.options.maxPartitionFetchBytes,
        })),
      })),
      forgottenTopicsData: [], rackId: '',
    }, { timeoutMs: this.options.requestTimeoutMs + waitMs });
    throwIfError(body.errorCode, `fetch from broker ${leader}`);
    for (const topic of body.responses) {
      for (const partition of topic.partitions) {
        const key = partitionKey(topic.topic, partition.partitionIndex);
        const state = this.partitions.get(key);
        const fetchOffset = fetchOffsets.get(key);
        // A seek or a rebalance while the fetch was out makes its answer stale for this partition.
        if (state === undefined || fetchOffset === undefined || state.position !== fetchOffset) continue;
        this.handleFetchedPartition(state, fetchOffset, partition);
      }
    }
  }

  private handleFetchedPartition(
    state: PartitionState,
    fetchOffset: bigint,
    partition: { partitionIndex: number; errorCode: number; records: Buffer | null; abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null },
  ): void {
    if (partition.errorCode === 1) {
      // OFFSET_OUT_OF_RANGE: the position is gone (retention) or not there yet; reset it.
      if (this.resetStrategy === 'none') throw new KafkaProtocolError(1, `fetch ${state.topic}-${state.partition} at ${fetchOffset}`);
      state.position = null;
      return;
    }
    throwIfError(partition.errorCode, `fetch ${state.topic}-${state.partition}`);
    const { records, nextOffset } = recordsFromFetch(state.topic, state.partition, fetchOffset, partition.records, partition.abortedTransactions);
    if (records.length > 0) this.buffered.push(...records);
    else if (nextOffset > fetchOffset) state.position = nextOffset;
  }

  /** Commits the given offsets, or the current positions of every assigned partition. */
  async commit(offsets?: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.membership === null) throw new KafkaStateError('commit needs a groupId');
    const toCommit = offsets ?? [...this.partitions.values()]
      .filter((state) => state.position !== null)
      .map((state) => ({ topic: state.topic, partition: state.partition, offset: state.position as bigint }));
    if (toCommit.length === 0) return;
    await this.membership.commit(toCommit, this.subscribed !== null);
  }

  /** Commits (with auto-commit on), leaves the group and closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.membership !== null && this.options.autoCommit) await this.commit().catch(() => undefined);
      if (this.membership !== null) await this.membership.leave().catch(() => undefined);
    } finally {
      this.closed = true;
      await this.cluster.close();
    }
  }
}

/** Groups partitions by topic, in a stable order. */
function groupTopics(entries: readonly TopicPartition[]): [string, number[]][] {
  const topics = new Map<string, number[]>();
  for (const entry of entries) topics.set(entry.topic, [...(topics.get(entry.topic) ?? []), entry.partition]);
  return [...topics].sort((a, b) => a[0].localeCompare(b[0]));
}
