// The follower's side of replication: one fetch loop per leader broker, copying the batches of
// every partition this broker follows there. Before the first fetch in a leader epoch the
// follower asks the leader where its own last epoch ends (OffsetForLeaderEpoch) and truncates
// what the leader never had (KIP-101, KIP-279); then it fetches from its log end with its
// replica id, appends the leader's batches with their offsets and epochs, and takes the
// leader's high watermark, capped at its own log end.
import { ApiKey } from '../../core/protocol/index.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { iterateBatches } from '../../core/records/batch.ts';
import type { Broker } from '../broker/broker.ts';
import type { PartitionState } from '../broker/replica-manager.ts';
import { followerTruncationOffset, noteBatch } from '../broker/replication.ts';
import type { Logger } from '../logger.ts';
import { RequestChannel, type Endpoint } from './request-channel.ts';

/** Versions a follower sends: Fetch 12 names topics and carries replicaId; OffsetForLeaderEpoch 3 carries replicaId. */
const FETCH_VERSION = 12;
const OFFSET_FOR_LEADER_EPOCH_VERSION = 3;
const ERROR_BACKOFF_MS = 100;

interface FetchTarget {
  state: PartitionState;
  leaderId: number;
  leaderEpoch: number;
  /** False until the log was checked against the leader's epochs for this leader epoch. */
  truncated: boolean;
}

export interface ReplicaFetcherOptions {
  broker: Broker;
  endpointOf: (brokerId: number) => Endpoint | undefined;
  maxWaitMs: number;
  maxBytes: number;
  logger: Logger;
}

export class ReplicaFetcher {
  private readonly targets = new Map<string, FetchTarget>();
  private readonly loops = new Map<number, { channel: RequestChannel }>();
  private closed = false;

  constructor(private readonly options: ReplicaFetcherOptions) {}

  /** Follows a partition's leader from now on; a new leader or epoch re-checks the log first. */
  follow(state: PartitionState, leaderId: number, leaderEpoch: number): void {
    const key = `${state.topic}\u0000${state.partition}`;
    const existing = this.targets.get(key);
    if (existing !== undefined && existing.leaderId === leaderId && existing.leaderEpoch === leaderEpoch && existing.state === state) return;
    this.targets.set(key, { state, leaderId, leaderEpoch, truncated: false });
    if (!this.loops.has(leaderId)) this.startLoop(leaderId);
  }

  unfollow(topic: string, partition: number): void {
    this.targets.delete(`${topic}\u0000${partition}`);
  }

  close(): void {
    this.closed = true;
    for (const loop of this.loops.values()) loop.channel.close();
    this.loops.clear();
  }

  private targetsOf(leaderId: number): FetchTarget[] {
    return [...this.targets.values()].filter((target) => target.leaderId === leaderId);
  }

  private startLoop(leaderId: number): void {
    const endpoint = this.options.endpointOf(leaderId) ?? { host: '127.0.0.1', port: 0 };
    const loop = { channel: new RequestChannel(endpoint, `replica-fetcher-${this.options.broker.nodeId}`) };
    this.loops.set(leaderId, loop);
    void this.runLoop(leaderId, loop).finally(() => {
      loop.channel.close();
      if (this.loops.get(leaderId) === loop) this.loops.delete(leaderId);
      // A target added while the loop was ending gets a new loop.
      if (!this.closed && this.targetsOf(leaderId).length > 0 && !this.loops.has(leaderId)) this.startLoop(leaderId);
    });
  }

  private async runLoop(leaderId: number, loop: { channel: RequestChannel }): Promise<void> {
    while (!this.closed && this.loops.get(leaderId) === loop) {
      const targets = this.targetsOf(leaderId);
      if (targets.length === 0) return;
      const endpoint = this.options.endpointOf(leaderId);
      if (endpoint === undefined) { await sleep(ERROR_BACKOFF_MS); continue; }
      loop.channel.setEndpoint(endpoint);
      try {
        const unchecked = targets.filter((target) => !target.truncated);
        if (unchecked.length > 0) await this.truncate(loop.channel, unchecked);
        const ready = targets.filter((target) => target.truncated);
        // Nothing to fetch yet (the leader did not answer for its epoch): wait before asking again.
        if (ready.length === 0 || !(await this.fetchOnce(loop.channel, ready))) await sleep(ERROR_BACKOFF_MS);
      } catch (error) {
        this.options.logger.debug('replica fetch failed', { leader: leaderId, error: (error as Error).message });
        await sleep(ERROR_BACKOFF_MS);
      }
    }
  }

  /** Asks the leader where our last epoch ends and cuts our log there (KIP-279). */
  private async truncate(channel: RequestChannel, targets: FetchTarget[]): Promise<void> {
    const byTopic = groupByTopic(targets);
    const response = await channel.send(ApiKey.OffsetForLeaderEpoch, OFFSET_FOR_LEADER_EPOCH_VERSION, {
      replicaId: this.options.broker.nodeId,
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((target) => ({ partition: target.state.partition, currentLeaderEpoch: target.leaderEpoch, leaderEpoch: target.state.replication?.epochs.lastEpoch ?? 0 })),
      })),
    }, 10_000);
    for (const topic of response.topics) {
      for (const result of topic.partitions) {
        const target = byTopic.get(topic.topic)?.find((t) => t.state.partition === result.partition);
        if (target === undefined || this.targets.get(`${topic.topic}\u0000${result.partition}`) !== target) continue;
        if (result.errorCode !== ErrorCode.NONE) continue;
        this.truncateTo(target.state, result.leaderEpoch, result.endOffset);
        target.truncated = true;
      }
    }
  }

  private truncateTo(state: PartitionState, leaderEpoch: number, leaderEndOffset: bigint): void {
    const replication = state.replication;
    if (replication === undefined) return;
    const log = state.log;
    const offset = followerTruncationOffset(replication.epochs, log.logEndOffset, state.highWatermark, leaderEpoch, leaderEndOffset);
    // Epochs that start at or after the cut are not in the leader's history (an epoch this
    // replica led without writing a batch), even when no record goes.
    replication.epochs.truncateFrom(offset < log.logEndOffset ? offset : log.logEndOffset);
    if (offset >= log.logEndOffset) return;
    if (offset < state.highWatermark) this.options.logger.warn('truncating below the high watermark', { topic: state.topic, partition: state.partition, offset: String(offset), highWatermark: String(state.highWatermark) });
    this.options.logger.info('follower truncates', { topic: state.topic, partition: state.partition, from: String(log.logEndOffset), to: String(offset) });
    log.truncateTo(offset);
    replication.epochs.truncateFrom(log.logEndOffset);
    if (state.highWatermark > log.logEndOffset) state.highWatermark = log.logEndOffset;
    this.options.broker.reloadProducerState(state);
  }

  /** One fetch for every ready partition; false when nothing useful came back (back off). */
  private async fetchOnce(channel: RequestChannel, targets: FetchTarget[]): Promise<boolean> {
    const byTopic = groupByTopic(targets);
    const response = await channel.send(ApiKey.Fetch, FETCH_VERSION, {
      replicaId: this.options.broker.nodeId,
      maxWaitMs: this.options.maxWaitMs,
      minBytes: 1,
      maxBytes: this.options.maxBytes,
      isolationLevel: 0,
      topics: [...byTopic].map(([topic, list]) => ({
        topic,
        partitions: list.map((target) => ({
          partition: target.state.partition, currentLeaderEpoch: target.leaderEpoch, fetchOffset: target.state.log.logEndOffset,
          lastFetchedEpoch: target.state.replication?.epochs.lastEpoch ?? -1, logStartOffset: target.state.log.logStartOffset,
          partitionMaxBytes: this.options.maxBytes,
        })),
      })),
      forgottenTopicsData: [],
      rackId: '',
    }, this.options.maxWaitMs + 10_000);
    let progressed = false;
    for (const topic of response.responses) {
      for (const result of topic.partitions) {
        const target = byTopic.get(topic.topic)?.find((t) => t.state.partition === result.partitionIndex);
        if (target === undefined || this.targets.get(`${topic.topic}\u0000${result.partitionIndex}`) !== target) continue;
        if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) { target.truncated = false; continue; }
        if (result.errorCode !== ErrorCode.NONE) continue;
        progressed = true;
        this.appendFromLeader(target.state, result.records);
        const mark = result.highWatermark < target.state.log.logEndOffset ? result.highWatermark : target.state.log.logEndOffset;
        this.options.broker.replicas.advanceHighWatermark(target.state, mark);
      }
    }
    return progressed;
  }

  private appendFromLeader(state: PartitionState, records: Buffer | null): void {
    if (records === null || records.length === 0 || state.replication === undefined) return;
    const log = state.log;
    let end = 0;
    const headers = [];
    for (const { position, size, header } of iterateBatches(records)) {
      end = position + size;
      headers.push(header);
    }
    const first = headers[0];
    // A stale answer (the log moved since the request) is dropped; the next fetch asks again.
    if (first === undefined || first.baseOffset !== log.logEndOffset) return;
    const previousEnd = log.logEndOffset;
    log.appendWithOffsets(records.subarray(0, end));
    for (const header of headers) noteBatch(state.replication.epochs, header);
    state.producers.replay(log, previousEnd);
    state.producers.afterAppend(log);
  }
}

function groupByTopic(targets: FetchTarget[]): Map<string, FetchTarget[]> {
  const byTopic = new Map<string, FetchTarget[]>();
  for (const target of targets) {
    let list = byTopic.get(target.state.topic);
    if (list === undefined) byTopic.set(target.state.topic, list = []);
    list.push(target);
  }
  return byTopic;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
