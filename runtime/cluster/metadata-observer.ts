// A broker-only node's copy of the metadata log (KRaft's observer): it is no voter, so it
// takes no part in elections and adds nothing to the high watermark; it fetches partition 0 of
// `__cluster_metadata` from the quorum leader like a voter would, and the leader answers an
// observer only with committed batches. This is how a broker added to a running cluster learns
// the metadata: it replays the log from offset 0 after every start, keeps it in memory only,
// and hands the committed batches to the same state machine a voter's QuorumNode feeds.
//
// Finding the leader: the first fetch names no leader epoch, and a voter answers it with
// FENCED_LEADER_EPOCH and the leader it knows; NOT_LEADER_OR_FOLLOWER names the leader too. A
// voter that fails or names no leader sends the observer to the next voter.
import { ApiKey } from '../../core/protocol/index.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { consumerRecords, decodeBatch, iterateBatches } from '../../core/records/batch.ts';
import { ATTRIBUTE_CONTROL } from '../../core/records/header.ts';
import type { Logger } from '../logger.ts';
import { METADATA_PARTITION, METADATA_TOPIC_ID, QUORUM_VERSIONS } from './messages.ts';
import type { CommittedBatch } from './quorum-core.ts';
import { VoterChannels, type Endpoint, type RequestChannel } from './request-channel.ts';

/** How long to wait before asking again after a failed fetch or an answer with no leader. */
const RETRY_BACKOFF_MS = 100;

export interface MetadataObserverOptions {
  nodeId: number;
  clusterId: string;
  voters: ReadonlyMap<number, Endpoint>;
  /** How long the leader may hold a fetch with nothing new. */
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  /** A request without an answer after fetchMaxWaitMs plus this is given up. */
  requestTimeoutMs: number;
  /** Committed application batches in offset order, from offset 0 (control batches left out). */
  onCommit: (batches: CommittedBatch[]) => void;
  logger: Logger;
}

export class MetadataObserver {
  /** The quorum leader as last heard, -1 when unknown. */
  leaderId = -1;
  /** The leader's epoch as last heard, -1 before the first answer. */
  epoch = -1;
  /** The next offset to fetch: everything below it was applied. */
  private nextOffset = 0n;
  /** The leader epoch of the last batch applied (lastFetchedEpoch of the next fetch). */
  private lastBatchEpoch = -1;
  private readonly channels: VoterChannels;
  private rotation = 0;
  private closed = false;
  private running: Promise<void> | null = null;

  constructor(private readonly options: MetadataObserverOptions) {
    if (options.voters.has(options.nodeId)) throw new Error(`assertion: node ${options.nodeId} is a voter, not an observer`);
    this.channels = new VoterChannels(options.voters, `observer-${options.nodeId}`);
  }

  start(): void {
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const target = this.leaderId >= 0 && this.options.voters.has(this.leaderId) ? this.leaderId : this.nextVoter();
      let wait = 0;
      try {
        wait = await this.fetchFrom(target);
      } catch (error) {
        if (!this.closed) this.options.logger.debug('metadata fetch failed', { voter: target, error: (error as Error).message });
        if (this.leaderId === target) this.leaderId = -1;
        wait = RETRY_BACKOFF_MS;
      }
      if (wait > 0 && !this.closed) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private nextVoter(): number {
    const ids = [...this.options.voters.keys()];
    return ids[this.rotation++ % ids.length] as number;
  }

  /** One fetch; returns how long to wait before the next. */
  private async fetchFrom(voterId: number): Promise<number> {
    const options = this.options;
    const body = await this.channel(voterId).send(ApiKey.Fetch, QUORUM_VERSIONS[ApiKey.Fetch], {
      clusterId: options.clusterId,
      replicaState: { replicaId: options.nodeId, replicaEpoch: -1n },
      maxWaitMs: options.fetchMaxWaitMs, minBytes: 1, maxBytes: options.fetchMaxBytes,
      topics: [{ topicId: METADATA_TOPIC_ID, partitions: [{
        partition: METADATA_PARTITION, currentLeaderEpoch: this.epoch, fetchOffset: this.nextOffset, lastFetchedEpoch: this.lastBatchEpoch,
        logStartOffset: -1n, partitionMaxBytes: options.fetchMaxBytes,
      }] }],
      forgottenTopicsData: [],
    }, options.fetchMaxWaitMs + options.requestTimeoutMs);
    const partition = body.responses[0]?.partitions[0];
    if (partition === undefined) return RETRY_BACKOFF_MS;
    const leader = partition.currentLeader;
    if (partition.errorCode !== ErrorCode.NONE) {
      // A newer epoch names its leader; anything else sends the observer to another voter.
      if (leader.leaderEpoch >= this.epoch && leader.leaderId >= 0 && (leader.leaderEpoch > this.epoch || leader.leaderId !== this.leaderId)) {
        this.epoch = leader.leaderEpoch;
        this.leaderId = leader.leaderId;
        return 0;
      }
      this.leaderId = -1;
      return RETRY_BACKOFF_MS;
    }
    this.epoch = leader.leaderEpoch;
    this.leaderId = voterId;
    // An observer reads committed batches only, which never diverge.
    if (partition.divergingEpoch.epoch >= 0) throw new Error(`assertion: the metadata leader reports divergence at epoch ${partition.divergingEpoch.epoch} to an observer`);
    if (partition.records !== null && partition.records.length > 0) this.apply(partition.records);
    return 0;
  }

  /** Applies the whole batches of a fetch answer; a batch cut at maxBytes comes again next time. */
  private apply(records: Buffer): void {
    const committed: CommittedBatch[] = [];
    for (const location of iterateBatches(records)) {
      const { header } = location;
      if (header.baseOffset !== this.nextOffset) throw new Error(`assertion: metadata batch at ${header.baseOffset}, expected ${this.nextOffset}`);
      const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
      if ((header.attributes & ATTRIBUTE_CONTROL) === 0) {
        const batch = decodeBatch(records, location.position);
        committed.push({ baseOffset: header.baseOffset, lastOffset, epoch: header.partitionLeaderEpoch, records: [...consumerRecords(batch)] });
      }
      this.nextOffset = lastOffset + 1n;
      this.lastBatchEpoch = header.partitionLeaderEpoch;
    }
    if (committed.length > 0) this.options.onCommit(committed);
  }

  private channel(voterId: number): RequestChannel {
    return this.channels.get(voterId);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.channels.closeAll();
    await this.running;
  }
}
