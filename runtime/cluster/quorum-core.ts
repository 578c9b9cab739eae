// The Raft logic of one metadata-quorum voter, in KRaft's shape (KIP-595): Vote elects a leader
// for an epoch, BeginQuorumEpoch announces it, followers pull the log with Fetch and the leader
// answers a fetch whose last epoch disagrees with its log with a diverging epoch, upon which the
// follower truncates. The high watermark is the offset a majority has flushed, counted only once
// the leader's own epoch has an entry there (Raft's commitment rule, §5.4.2).
//
// Everything here is synchronous and deterministic: time, randomness and the network come in
// through QuorumEnvironment, so the simulation tests replay any run from its seed. One core
// owns all quorum state; the driver (quorum-node.ts, or the simulation) calls it from one place.
//
// Beyond plain Raft, two rules keep a leader without a quorum from acting next to a new one.
// Leader stickiness: a voter that followed a leader (sent it a fetch, heard from it) or granted
// a vote within fetchTimeoutMs votes for no one else, itself included. Check quorum: a leader
// resigns when a majority has not fetched within three quarters of fetchTimeoutMs. A fetch
// arrives after it was sent, so the leader's view of a voter ends before that voter's promise
// does as long as a message takes less than a quarter of fetchTimeoutMs to arrive and clocks
// run at the same rate; a new leader is then elected only after the old one stopped acting.
import { ErrorCode } from '../../core/protocol/index.ts';
import type { BodyInput, ResponseBodyByKey } from '../../core/protocol/index.ts';
import { ApiKey } from '../../core/protocol/index.ts';
import { consumerRecords, decodeBatch, encodeBatch, iterateBatches } from '../../core/records/batch.ts';
import type { ConsumerRecord, RecordInput } from '../../core/records/batch.ts';
import { ATTRIBUTE_CONTROL, BATCH_OFFSETS, rewriteBatchCrc } from '../../core/records/header.ts';
import type { InboundRequest, InboundResponse, OutboundRequest, OutboundResponse } from './messages.ts';
import { METADATA_PARTITION, METADATA_TOPIC, METADATA_TOPIC_ID } from './messages.ts';
import type { QuorumConfig } from './quorum-config.ts';
import { INITIAL_ELECTION_STATE, type ElectionState, type QuorumStateStore } from './quorum-state.ts';
import type { RaftLog } from './raft-log.ts';

/** What the core needs from the world; the simulation fakes all of it. */
export interface QuorumEnvironment {
  /** A monotonic clock for timeouts. */
  nowMs(): number;
  /** Milliseconds since the Unix epoch, an integer, for record timestamps. */
  wallClockMs(): number;
  /** Uniform in [0, 1). */
  random(): number;
  /** Sends a request; its answer comes back through handleResponse with the same requestId, or never. */
  send(to: number, requestId: number, request: OutboundRequest): void;
}

/** A committed batch of application records (control batches are not passed on). */
export interface CommittedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  epoch: number;
  records: ConsumerRecord[];
}

export type RoleName = 'unattached' | 'follower' | 'candidate' | 'leader' | 'resigned';

/** Thrown into pending appends when this node stops leading; the records may still commit. */
export class NotLeaderError extends Error {
  constructor(readonly leaderId: number, readonly epoch: number) {
    super(`not the leader (epoch ${epoch}, leader ${leaderId})`);
  }
}

interface ReplicaProgress {
  /** The offset this voter has flushed up to (its last fetch offset), -1 before it fetched. */
  endOffset: bigint;
  /** When its last fetch in this epoch arrived (or when it granted the vote), for check quorum. */
  lastFetchMs: number;
}

interface ParkedFetch {
  replicaId: number;
  fetchOffset: bigint;
  highWatermark: bigint;
  deadlineMs: number;
  reply: (response: OutboundResponse) => void;
}

interface PendingAppend {
  records: RecordInput[];
  lastOffset: bigint;
  resolve: (range: { baseOffset: bigint; lastOffset: bigint }) => void;
  reject: (error: Error) => void;
  baseOffset: bigint;
}

type Role =
  | { name: 'unattached'; electionDeadlineMs: number }
  | { name: 'resigned'; electionDeadlineMs: number }
  | { name: 'candidate'; votes: Set<number>; startedMs: number; electionDeadlineMs: number }
  | { name: 'follower'; fetchId: number | null; fetchSentMs: number; nextFetchMs: number }
  | {
      name: 'leader';
      epochStartOffset: bigint;
      replicas: Map<number, ReplicaProgress>;
      parked: ParkedFetch[];
      nextBeginEpochMs: number;
    };

/** The control record type KRaft uses for the batch a new leader writes (LeaderChangeMessage). */
const CONTROL_TYPE_LEADER_CHANGE = 2;

export class QuorumCore {
  private election: ElectionState;
  private role: Role;
  private highWatermarkValue = 0n;
  /** Committed offsets below this were handed to the listener. */
  private appliedOffset = 0n;
  /** When this node last heard from its leader; fetchTimeoutMs later it stops following. */
  private lastLeaderContactMs: number;
  /**
   * When this node last promised itself to a leader or candidate (sent a fetch, received
   * BeginQuorumEpoch, granted a vote, started); it votes for no one else until fetchTimeoutMs later.
   */
  private promiseMs: number;
  private nextRequestId = 1;
  private queued: PendingAppend[] = [];
  private waiting: PendingAppend[] = [];
  private readonly majority: number;

  constructor(
    readonly config: QuorumConfig,
    private readonly log: RaftLog,
    private readonly store: QuorumStateStore,
    private readonly env: QuorumEnvironment,
    private readonly onCommit: (batches: CommittedBatch[]) => void = () => {},
  ) {
    this.majority = Math.floor(config.voters.length / 2) + 1;
    this.election = store.read() ?? { ...INITIAL_ELECTION_STATE };
    const now = env.nowMs();
    // A restarted node behaves as if it had just heard from a leader, so it cannot help elect
    // a second leader while the one it may have followed still holds its quorum.
    this.lastLeaderContactMs = now;
    this.promiseMs = now;
    const deadline = now + config.fetchTimeoutMs + this.randomElectionTimeoutMs();
    if (this.election.leaderId === config.nodeId) this.role = { name: 'resigned', electionDeadlineMs: deadline };
    else if (this.election.leaderId >= 0) this.role = this.followerRole(now);
    else this.role = { name: 'unattached', electionDeadlineMs: deadline };
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  get nodeId(): number {
    return this.config.nodeId;
  }

  get roleName(): RoleName {
    return this.role.name;
  }

  get epoch(): number {
    return this.election.epoch;
  }

  get leaderId(): number {
    return this.election.leaderId;
  }

  get votedFor(): number {
    return this.election.votedFor;
  }

  get highWatermark(): bigint {
    return this.highWatermarkValue;
  }

  get logEndOffset(): bigint {
    return this.log.endOffset;
  }

  /**
   * True while this node leads with a quorum behind it: the only state in which it may act. The
   * lease is checked here too, not only when poll() runs, so a late timer cannot stretch it.
   */
  get isActiveLeader(): boolean {
    return this.role.name === 'leader' && this.env.nowMs() < this.quorumDeadlineMs(this.role);
  }

  /** The earliest time poll() has something to do. */
  nextDeadlineMs(): number {
    const role = this.role;
    switch (role.name) {
      case 'unattached':
      case 'resigned':
      case 'candidate':
        return role.electionDeadlineMs;
      case 'follower': {
        const fetchDue = role.fetchId === null ? role.nextFetchMs : role.fetchSentMs + this.config.requestTimeoutMs;
        return Math.min(fetchDue, this.lastLeaderContactMs + this.config.fetchTimeoutMs);
      }
      case 'leader': {
        let deadline = Math.min(role.nextBeginEpochMs, this.quorumDeadlineMs(role));
        for (const parked of role.parked) deadline = Math.min(deadline, parked.deadlineMs);
        if (this.queued.length > 0) deadline = this.env.nowMs();
        return deadline;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  /** Runs whatever is due: elections, fetches, resignations, queued appends. Idempotent. */
  poll(): void {
    const now = this.env.nowMs();
    const role = this.role;
    switch (role.name) {
      case 'unattached':
      case 'resigned':
      case 'candidate':
        if (now < role.electionDeadlineMs) return;
        if (now - this.promiseMs < this.config.fetchTimeoutMs) role.electionDeadlineMs = this.promiseMs + this.config.fetchTimeoutMs;
        else this.startElection();
        return;
      case 'follower':
        if (now - this.lastLeaderContactMs >= this.config.fetchTimeoutMs) {
          // Stop following; the election waits until the promise made by the last fetch expires.
          this.role = { name: 'unattached', electionDeadlineMs: now + Math.floor(this.env.random() * this.config.electionTimeoutMs) };
          this.poll();
          return;
        }
        if (role.fetchId === null ? now >= role.nextFetchMs : now - role.fetchSentMs >= this.config.requestTimeoutMs) this.sendFetch();
        return;
      case 'leader':
        this.pollLeader(role, now);
        return;
    }
  }

  private pollLeader(role: Extract<Role, { name: 'leader' }>, now: number): void {
    if (now >= this.quorumDeadlineMs(role)) {
      this.resign();
      return;
    }
    this.appendQueued();
    if (now >= role.nextBeginEpochMs) {
      // Voters that stopped fetching may sit in a newer epoch as failed candidates: their answer
      // carries it, and this leader steps down so that the quorum can move on (without pre-vote,
      // a rejoining voter costs one election).
      for (const [voter, progress] of role.replicas) {
        if (voter !== this.nodeId && now - progress.lastFetchMs >= this.config.fetchTimeoutMs / 2) this.sendBeginQuorumEpoch(voter);
      }
      role.nextBeginEpochMs = now + this.config.requestTimeoutMs;
    }
    this.completeParkedFetches(role, now);
  }

  /** The time at which fewer than a majority of voters will have fetched within fetchTimeoutMs. */
  private quorumDeadlineMs(role: Extract<Role, { name: 'leader' }>): number {
    const times = [...role.replicas.entries()].map(([voter, progress]) => (voter === this.nodeId ? Infinity : progress.lastFetchMs));
    times.sort((a, b) => b - a);
    return (times[this.majority - 1] as number) + this.leaderLeaseMs();
  }

  /** How long a fetch keeps a voter counted for check quorum: see the note at the top. */
  private leaderLeaseMs(): number {
    return this.config.fetchTimeoutMs - Math.ceil(this.config.fetchTimeoutMs / 4);
  }

  private randomElectionTimeoutMs(): number {
    return this.config.electionTimeoutMs + Math.floor(this.env.random() * this.config.electionTimeoutMs);
  }

  // -------------------------------------------------------------------------------------------
  // Transitions. Every one persists the election state before anything else happens.

  private persist(state: ElectionState): void {
    const changed = state.epoch !== this.election.epoch || state.votedFor !== this.election.votedFor || state.leaderId !== this.election.leaderId;
    if (state.epoch < this.election.epoch) throw new Error(`quorum ${this.nodeId}: epoch going back from ${this.election.epoch} to ${state.epoch}`);
    if (state.epoch === this.election.epoch && this.election.votedFor >= 0 && state.votedFor !== this.election.votedFor) {
      throw new Error(`quorum ${this.nodeId}: second vote in epoch ${state.epoch}`);
    }
    if (!changed) return;
    this.store.write(state);
    this.election = { ...state };
  }

  private leaveRole(): void {
    const role = this.role;
    if (role.name !== 'leader') return;
    const error = new NotLeaderError(this.election.leaderId, this.election.epoch);
    for (const pending of [...this.waiting, ...this.queued]) pending.reject(error);
    this.waiting = [];
    this.queued = [];
    for (const parked of role.parked) parked.reply(this.fetchError(ErrorCode.NOT_LEADER_OR_FOLLOWER, parked.highWatermark));
    role.parked = [];
  }

  private startElection(): void {
    this.leaveRole();
    const now = this.env.nowMs();
    this.persist({ epoch: this.election.epoch + 1, votedFor: this.nodeId, leaderId: -1 });
    this.role = { name: 'candidate', votes: new Set([this.nodeId]), startedMs: now, electionDeadlineMs: now + this.randomElectionTimeoutMs() };
    if (this.majority === 1) {
      this.becomeLeader();
      return;
    }
    for (const voter of this.config.voters) {
      if (voter !== this.nodeId) this.sendVote(voter);
    }
  }

  private becomeLeader(): void {
    const role = this.role;
    if (role.name !== 'candidate') throw new Error(`quorum ${this.nodeId}: leader from ${role.name}`);
    const now = this.env.nowMs();
    this.persist({ epoch: this.election.epoch, votedFor: this.nodeId, leaderId: this.nodeId });
    const replicas = new Map<number, ReplicaProgress>();
    // Voters that granted count as heard from at the moment the election started: none of them
    // votes for anyone else until fetchTimeoutMs after granting, which is no earlier than that.
    for (const voter of this.config.voters) {
      replicas.set(voter, { endOffset: voter === this.nodeId ? this.log.endOffset : -1n, lastFetchMs: role.votes.has(voter) ? role.startedMs : -Infinity });
    }
    const epochStartOffset = this.log.endOffset;
    this.role = { name: 'leader', epochStartOffset, replicas, parked: [], nextBeginEpochMs: now + this.config.requestTimeoutMs };
    this.log.appendAsLeader(this.leaderChangeBatch(this.env.wallClockMs()), this.election.epoch);
    this.log.flush();
    this.updateLeaderEndOffset();
    for (const voter of this.config.voters) {
      if (voter !== this.nodeId) this.sendBeginQuorumEpoch(voter);
    }
  }

  private resign(): void {
    this.leaveRole();
    // Without a quorum behind it this node acts no more, so it may vote for others at once.
    this.promiseMs = -Infinity;
    this.role = { name: 'resigned', electionDeadlineMs: this.env.nowMs() + this.randomElectionTimeoutMs() };
  }

  /** Stops acting before the node goes away: pending appends fail, held fetches are answered. */
  shutdown(): void {
    this.resign();
  }

  /** Steps down on purpose (controlled shutdown): tells the followers so they elect at once. */
  resignAndNotify(): void {
    if (this.role.name !== 'leader') return;
    this.resign();
    for (const voter of this.config.voters) {
      if (voter === this.nodeId) continue;
      this.env.send(voter, this.nextRequestId++, {
        apiKey: ApiKey.EndQuorumEpoch,
        body: { clusterId: this.config.clusterId, topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, leaderId: this.nodeId, leaderEpoch: this.election.epoch, preferredSuccessors: [] }] }] },
      });
    }
  }

  private becomeFollower(epoch: number, leaderId: number): void {
    this.leaveRole();
    const votedFor = epoch === this.election.epoch ? this.election.votedFor : -1;
    this.persist({ epoch, votedFor, leaderId });
    this.lastLeaderContactMs = this.env.nowMs();
    this.role = this.followerRole(this.env.nowMs());
    this.sendFetch();
  }

  private followerRole(now: number): Role {
    return { name: 'follower', fetchId: null, fetchSentMs: now, nextFetchMs: now };
  }

  private becomeUnattached(epoch: number): void {
    this.leaveRole();
    this.persist({ epoch, votedFor: -1, leaderId: -1 });
    this.role = { name: 'unattached', electionDeadlineMs: this.env.nowMs() + this.randomElectionTimeoutMs() };
  }

  /** Moves to a newer epoch learnt from a peer, following its leader when one is named. */
  private observeEpoch(epoch: number, leaderId: number): void {
    if (epoch < this.election.epoch) return;
    if (epoch > this.election.epoch) {
      if (leaderId >= 0 && leaderId !== this.nodeId) this.becomeFollower(epoch, leaderId);
      else this.becomeUnattached(epoch);
      return;
    }
    if (leaderId >= 0 && leaderId !== this.nodeId && this.role.name !== 'follower') {
      if (this.role.name === 'leader') throw new Error(`quorum ${this.nodeId}: two leaders in epoch ${epoch}: ${this.nodeId} and ${leaderId}`);
      this.becomeFollower(epoch, leaderId);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests from peers

  /** Answers a request now or later (a fetch may wait for data); `reply` is called once. */
  handleRequest(request: InboundRequest, reply: (response: OutboundResponse) => void): void {
    switch (request.apiKey) {
      case ApiKey.Vote:
        reply(this.handleVote(request.body));
        return;
      case ApiKey.BeginQuorumEpoch:
        reply(this.handleBeginQuorumEpoch(request.body));
        return;
      case ApiKey.EndQuorumEpoch:
        reply(this.handleEndQuorumEpoch(request.body));
        return;
      case ApiKey.Fetch:
        this.handleFetch(request.body, reply);
        return;
    }
  }

  private handleVote(body: Extract<InboundRequest, { apiKey: typeof ApiKey.Vote }>['body']): OutboundResponse {
    const partition = body.topics[0]?.partitions[0];
    if (partition === undefined || body.topics[0]?.topicName !== METADATA_TOPIC) {
      return { apiKey: ApiKey.Vote, body: { errorCode: ErrorCode.INVALID_REQUEST, topics: [] } };
    }
    const granted = this.decideVote(partition.candidateEpoch, partition.candidateId, partition.lastOffsetEpoch, partition.lastOffset);
    return {
      apiKey: ApiKey.Vote,
      body: {
        errorCode: ErrorCode.NONE,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: ErrorCode.NONE, leaderId: this.election.leaderId, leaderEpoch: this.election.epoch, voteGranted: granted }] }],
      },
    };
  }

  private decideVote(candidateEpoch: number, candidateId: number, lastEpoch: number, lastOffset: bigint): boolean {
    if (candidateEpoch < this.election.epoch || !this.config.voters.includes(candidateId)) return false;
    const now = this.env.nowMs();
    // Stickiness: while a leader may still be acting, a vote for someone else could elect a
    // second one. Only the vote already cast in this epoch may be repeated.
    const repeat = candidateEpoch === this.election.epoch && this.election.votedFor === candidateId;
    if (!repeat && (this.role.name === 'leader' || now - this.promiseMs < this.config.fetchTimeoutMs)) return false;
    if (candidateEpoch > this.election.epoch) this.becomeUnattached(candidateEpoch);
    if (this.election.votedFor >= 0 && this.election.votedFor !== candidateId) return false;
    if (this.election.leaderId >= 0) return false;
    const ourLastEpoch = this.log.lastEpoch;
    const upToDate = lastEpoch > ourLastEpoch || (lastEpoch === ourLastEpoch && lastOffset >= this.log.endOffset);
    if (!upToDate) return false;
    this.persist({ epoch: candidateEpoch, votedFor: candidateId, leaderId: -1 });
    this.promiseMs = now;
    this.role = { name: 'unattached', electionDeadlineMs: now + this.config.fetchTimeoutMs + this.randomElectionTimeoutMs() };
    return true;
  }

  private handleBeginQuorumEpoch(body: Extract<InboundRequest, { apiKey: typeof ApiKey.BeginQuorumEpoch }>['body']): OutboundResponse {
    const partition = body.topics[0]?.partitions[0];
    if (partition !== undefined && partition.leaderEpoch >= this.election.epoch && partition.leaderId !== this.nodeId) {
      this.observeEpoch(partition.leaderEpoch, partition.leaderId);
      if (this.election.leaderId === partition.leaderId) {
        this.lastLeaderContactMs = this.env.nowMs();
        this.promiseMs = this.env.nowMs();
      }
    }
    return {
      apiKey: ApiKey.BeginQuorumEpoch,
      body: {
        errorCode: ErrorCode.NONE,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: partition === undefined ? ErrorCode.INVALID_REQUEST : ErrorCode.NONE, leaderId: this.election.leaderId, leaderEpoch: this.election.epoch }] }],
      },
    };
  }

  private handleEndQuorumEpoch(body: Extract<InboundRequest, { apiKey: typeof ApiKey.EndQuorumEpoch }>['body']): OutboundResponse {
    const partition = body.topics[0]?.partitions[0];
    const now = this.env.nowMs();
    if (partition !== undefined && partition.leaderEpoch === this.election.epoch && partition.leaderId === this.election.leaderId && this.role.name === 'follower') {
      // The leader stepped down on purpose: no leader is acting, so votes may go out at once.
      this.promiseMs = -Infinity;
      this.role = { name: 'unattached', electionDeadlineMs: now + Math.floor(this.env.random() * this.config.electionTimeoutMs) };
    }
    return {
      apiKey: ApiKey.EndQuorumEpoch,
      body: {
        errorCode: ErrorCode.NONE,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, errorCode: ErrorCode.NONE, leaderId: this.election.leaderId, leaderEpoch: this.election.epoch }] }],
      },
    };
  }

  private fetchError(errorCode: number, highWatermark: bigint): OutboundResponse {
    return this.fetchResponse({ errorCode, highWatermark, records: null });
  }

  private fetchResponse(partition: {
    errorCode: number;
    highWatermark: bigint;
    records: Buffer | null;
    divergingEpoch?: { epoch: number; endOffset: bigint };
  }): OutboundResponse {
    const body: BodyInput<ResponseBodyByKey[typeof ApiKey.Fetch]> = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      responses: [
        {
          topicId: METADATA_TOPIC_ID,
          partitions: [
            {
              partitionIndex: METADATA_PARTITION,
              errorCode: partition.errorCode,
              highWatermark: partition.highWatermark,
              logStartOffset: 0n,
              currentLeader: { leaderId: this.election.leaderId, leaderEpoch: this.election.epoch },
              ...(partition.divergingEpoch === undefined ? {} : { divergingEpoch: partition.divergingEpoch }),
              records: partition.records,
            },
          ],
        },
      ],
    };
    return { apiKey: ApiKey.Fetch, body };
  }

  private handleFetch(body: Extract<InboundRequest, { apiKey: typeof ApiKey.Fetch }>['body'], reply: (response: OutboundResponse) => void): void {
    const partition = body.topics[0]?.partitions[0];
    const role = this.role;
    if (partition === undefined || body.topics[0]?.topicId !== METADATA_TOPIC_ID) {
      reply(this.fetchError(ErrorCode.INVALID_REQUEST, this.highWatermarkValue));
      return;
    }
    if (partition.currentLeaderEpoch < this.election.epoch) {
      reply(this.fetchError(ErrorCode.FENCED_LEADER_EPOCH, this.highWatermarkValue));
      return;
    }
    if (partition.currentLeaderEpoch > this.election.epoch) {
      reply(this.fetchError(ErrorCode.UNKNOWN_LEADER_EPOCH, this.highWatermarkValue));
      return;
    }
    if (role.name !== 'leader') {
      reply(this.fetchError(ErrorCode.NOT_LEADER_OR_FOLLOWER, this.highWatermarkValue));
      return;
    }
    const replicaId = body.replicaState.replicaId;
    const isVoter = role.replicas.has(replicaId) && replicaId !== this.nodeId;
    const diverging = this.divergence(partition.fetchOffset, partition.lastFetchedEpoch);
    if (diverging !== null) {
      if (isVoter) (role.replicas.get(replicaId) as ReplicaProgress).lastFetchMs = this.env.nowMs();
      reply(this.fetchResponse({ errorCode: ErrorCode.NONE, highWatermark: this.highWatermarkValue, records: null, divergingEpoch: diverging }));
      return;
    }
    if (isVoter) this.updateReplica(role, replicaId, partition.fetchOffset);
    const parked: ParkedFetch = {
      replicaId: isVoter ? replicaId : -1,
      fetchOffset: partition.fetchOffset,
      highWatermark: this.highWatermarkValue,
      deadlineMs: this.env.nowMs() + Math.min(body.maxWaitMs, this.config.fetchMaxWaitMs),
      reply,
    };
    if (!this.tryAnswerFetch(parked, false)) role.parked.push(parked);
  }

  /** Where the follower's log stops agreeing with ours, or null when its position is on our log. */
  private divergence(fetchOffset: bigint, lastFetchedEpoch: number): { epoch: number; endOffset: bigint } | null {
    if (fetchOffset === 0n) return null;
    const end = this.log.endOffsetForEpoch(lastFetchedEpoch);
    if (end.epoch === lastFetchedEpoch && end.endOffset >= fetchOffset) return null;
    return end;
  }

  private updateReplica(role: Extract<Role, { name: 'leader' }>, replicaId: number, fetchOffset: bigint): void {
    const progress = role.replicas.get(replicaId) as ReplicaProgress;
    progress.lastFetchMs = this.env.nowMs();
    if (fetchOffset > this.log.endOffset) throw new Error(`quorum ${this.nodeId}: voter ${replicaId} fetches ${fetchOffset} beyond our end ${this.log.endOffset}`);
    progress.endOffset = fetchOffset;
    this.advanceHighWatermark(role);
  }

  /** Answers a fetch if it has data, a newer high watermark, or waited long enough. */
  private tryAnswerFetch(parked: ParkedFetch, force: boolean): boolean {
    // Voters replicate beyond the high watermark; observers (brokers) read only committed data.
    const maxOffset = parked.replicaId >= 0 ? this.log.endOffset : this.highWatermarkValue;
    const records = parked.fetchOffset < maxOffset ? this.log.read(parked.fetchOffset, this.config.fetchMaxBytes, maxOffset) : Buffer.alloc(0);
    const ready = records.length > 0 || this.highWatermarkValue > parked.highWatermark || force || parked.deadlineMs <= this.env.nowMs();
    if (!ready) return false;
    parked.reply(this.fetchResponse({ errorCode: ErrorCode.NONE, highWatermark: this.highWatermarkValue, records }));
    return true;
  }

  private completeParkedFetches(role: Extract<Role, { name: 'leader' }>, _now: number): void {
    if (role.parked.length === 0) return;
    role.parked = role.parked.filter((parked) => !this.tryAnswerFetch(parked, false));
  }

  // -------------------------------------------------------------------------------------------
  // The high watermark and appends on the leader

  private updateLeaderEndOffset(): void {
    const role = this.role;
    if (role.name !== 'leader') return;
    (role.replicas.get(this.nodeId) as ReplicaProgress).endOffset = this.log.endOffset;
    this.advanceHighWatermark(role);
    this.completeParkedFetches(role, this.env.nowMs());
  }

  private advanceHighWatermark(role: Extract<Role, { name: 'leader' }>): void {
    const offsets = [...role.replicas.values()].map((progress) => progress.endOffset).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    const majorityOffset = offsets[this.majority - 1] as bigint;
    // Only an offset past the start of our own epoch commits (Raft §5.4.2): older entries
    // commit indirectly with it.
    if (majorityOffset <= role.epochStartOffset || majorityOffset <= this.highWatermarkValue) return;
    this.setHighWatermark(majorityOffset);
  }

  private setHighWatermark(offset: bigint): void {
    if (offset > this.log.endOffset) throw new Error(`quorum ${this.nodeId}: high watermark ${offset} beyond log end ${this.log.endOffset}`);
    if (offset <= this.highWatermarkValue) return;
    this.highWatermarkValue = offset;
    this.applyCommitted();
    const stillWaiting: PendingAppend[] = [];
    for (const pending of this.waiting) {
      if (pending.lastOffset < offset) pending.resolve({ baseOffset: pending.baseOffset, lastOffset: pending.lastOffset });
      else stillWaiting.push(pending);
    }
    this.waiting = stillWaiting;
  }

  private applyCommitted(): void {
    const committed: CommittedBatch[] = [];
    while (this.appliedOffset < this.highWatermarkValue) {
      const bytes = this.log.read(this.appliedOffset, this.config.fetchMaxBytes, this.highWatermarkValue);
      if (bytes.length === 0) throw new Error(`quorum ${this.nodeId}: no batch at committed offset ${this.appliedOffset}`);
      for (const location of iterateBatches(bytes)) {
        const { header } = location;
        const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
        if ((header.attributes & ATTRIBUTE_CONTROL) === 0) {
          const batch = decodeBatch(bytes, location.position);
          committed.push({ baseOffset: header.baseOffset, lastOffset, epoch: header.partitionLeaderEpoch, records: [...consumerRecords(batch)] });
        }
        this.appliedOffset = lastOffset + 1n;
      }
    }
    if (committed.length > 0) this.onCommit(committed);
  }

  /**
   * Appends records on the leader; resolves with their offsets once a majority has them. Rejects
   * with NotLeaderError when this node is not (or stops being) the leader before that.
   */
  append(records: RecordInput[]): Promise<{ baseOffset: bigint; lastOffset: bigint }> {
    if (records.length === 0) throw new Error('append: no records');
    return new Promise((resolve, reject) => {
      if (this.role.name !== 'leader') {
        reject(new NotLeaderError(this.election.leaderId, this.election.epoch));
        return;
      }
      this.queued.push({ records, lastOffset: -1n, baseOffset: -1n, resolve, reject });
    });
  }

  /** Writes queued appends as one batch (up to appendBatchRecordsMax records) and one flush. */
  private appendQueued(): void {
    // Every poll of the leader comes here; an fsync with nothing appended would block the
    // event loop (and every partition this node replicates) for nothing, many times a second.
    if (this.queued.length === 0) return;
    while (this.queued.length > 0 && this.role.name === 'leader') {
      const taken: PendingAppend[] = [];
      const records: RecordInput[] = [];
      while (this.queued.length > 0) {
        const next = this.queued[0] as PendingAppend;
        if (records.length > 0 && records.length + next.records.length > this.config.appendBatchRecordsMax) break;
        taken.push(next);
        records.push(...next.records);
        this.queued.shift();
      }
      const batch = encodeBatch({ records, baseTimestamp: this.env.wallClockMs(), partitionLeaderEpoch: this.election.epoch });
      const range = this.log.appendAsLeader(batch, this.election.epoch);
      let offset = range.baseOffset;
      for (const pending of taken) {
        pending.baseOffset = offset;
        offset += BigInt(pending.records.length);
        pending.lastOffset = offset - 1n;
        this.waiting.push(pending);
      }
    }
    this.log.flush();
    this.updateLeaderEndOffset();
  }

  private leaderChangeBatch(nowMs: number): Buffer {
    const key = Buffer.alloc(4);
    key.writeInt16BE(0, 0);
    key.writeInt16BE(CONTROL_TYPE_LEADER_CHANGE, 2);
    const value = Buffer.alloc(8);
    value.writeInt32BE(this.nodeId, 0);
    value.writeInt32BE(this.election.epoch, 4);
    const batch = encodeBatch({ records: [{ key, value }], baseTimestamp: nowMs, partitionLeaderEpoch: this.election.epoch });
    batch.writeInt16BE(batch.readInt16BE(BATCH_OFFSETS.attributes) | ATTRIBUTE_CONTROL, BATCH_OFFSETS.attributes);
    rewriteBatchCrc(batch, 0, batch.length);
    return batch;
  }

  // -------------------------------------------------------------------------------------------
  // Requests to peers and their answers

  private sendVote(voter: number): void {
    this.env.send(voter, this.nextRequestId++, {
      apiKey: ApiKey.Vote,
      body: {
        clusterId: this.config.clusterId,
        topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, candidateEpoch: this.election.epoch, candidateId: this.nodeId, lastOffsetEpoch: this.log.lastEpoch, lastOffset: this.log.endOffset }] }],
      },
    });
  }

  private sendBeginQuorumEpoch(voter: number): void {
    this.env.send(voter, this.nextRequestId++, {
      apiKey: ApiKey.BeginQuorumEpoch,
      body: { clusterId: this.config.clusterId, topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, leaderId: this.nodeId, leaderEpoch: this.election.epoch }] }] },
    });
  }

  private sendFetch(): void {
    const role = this.role;
    if (role.name !== 'follower') return;
    const requestId = this.nextRequestId++;
    role.fetchId = requestId;
    role.fetchSentMs = this.env.nowMs();
    this.promiseMs = this.env.nowMs();
    this.env.send(this.election.leaderId, requestId, {
      apiKey: ApiKey.Fetch,
      body: {
        clusterId: this.config.clusterId,
        replicaState: { replicaId: this.nodeId, replicaEpoch: -1n },
        maxWaitMs: this.config.fetchMaxWaitMs,
        minBytes: 1,
        maxBytes: this.config.fetchMaxBytes,
        topics: [{ topicId: METADATA_TOPIC_ID, partitions: [{ partition: METADATA_PARTITION, currentLeaderEpoch: this.election.epoch, fetchOffset: this.log.endOffset, lastFetchedEpoch: this.log.lastEpoch, logStartOffset: 0n, partitionMaxBytes: this.config.fetchMaxBytes }] }],
        forgottenTopicsData: [],
      },
    });
  }

  /** An answer to a request this core sent; stale or unexpected answers are ignored. */
  handleResponse(from: number, requestId: number, response: InboundResponse): void {
    switch (response.apiKey) {
      case ApiKey.Vote:
        this.handleVoteResponse(from, response.body);
        return;
      case ApiKey.BeginQuorumEpoch:
      case ApiKey.EndQuorumEpoch: {
        const partition = response.body.topics[0]?.partitions[0];
        if (partition !== undefined && partition.leaderEpoch > this.election.epoch) this.observeEpoch(partition.leaderEpoch, partition.leaderId);
        return;
      }
      case ApiKey.Fetch:
        this.handleFetchResponse(from, requestId, response.body);
        return;
    }
  }

  private handleVoteResponse(from: number, body: Extract<InboundResponse, { apiKey: typeof ApiKey.Vote }>['body']): void {
    const partition = body.topics[0]?.partitions[0];
    if (partition === undefined) return;
    if (partition.leaderEpoch > this.election.epoch) {
      this.observeEpoch(partition.leaderEpoch, partition.leaderId);
      return;
    }
    const role = this.role;
    if (role.name !== 'candidate' || partition.leaderEpoch !== this.election.epoch || !partition.voteGranted) return;
    role.votes.add(from);
    if (role.votes.size >= this.majority) this.becomeLeader();
  }

  private handleFetchResponse(from: number, requestId: number, body: Extract<InboundResponse, { apiKey: typeof ApiKey.Fetch }>['body']): void {
    const role = this.role;
    const partition = body.responses[0]?.partitions[0];
    if (partition === undefined || role.name !== 'follower' || role.fetchId !== requestId || from !== this.election.leaderId) return;
    role.fetchId = null;
    const leader = partition.currentLeader;
    if (leader.leaderEpoch > this.election.epoch) {
      this.observeEpoch(leader.leaderEpoch, leader.leaderId);
      return;
    }
    if (partition.errorCode !== ErrorCode.NONE || leader.leaderEpoch !== this.election.epoch) {
      role.nextFetchMs = this.env.nowMs() + Math.min(this.config.requestTimeoutMs, this.config.fetchMaxWaitMs);
      return;
    }
    this.lastLeaderContactMs = this.env.nowMs();
    if (partition.divergingEpoch.epoch >= 0) this.truncateToDivergence(partition.divergingEpoch.epoch, partition.divergingEpoch.endOffset);
    else if (partition.records !== null && partition.records.length > 0) this.appendFromLeader(partition.records);
    const highWatermark = partition.highWatermark < this.log.endOffset ? partition.highWatermark : this.log.endOffset;
    this.setHighWatermark(highWatermark);
    role.nextFetchMs = this.env.nowMs();
    this.sendFetch();
  }

  private truncateToDivergence(epoch: number, endOffset: bigint): void {
    const local = this.log.endOffsetForEpoch(epoch);
    const offset = local.endOffset < endOffset ? local.endOffset : endOffset;
    if (offset < this.highWatermarkValue) throw new Error(`quorum ${this.nodeId}: truncation to ${offset} below high watermark ${this.highWatermarkValue}`);
    this.log.truncateTo(offset);
    if (this.log.endOffset < this.highWatermarkValue) throw new Error(`quorum ${this.nodeId}: truncation cut committed batch below ${this.highWatermarkValue}`);
  }

  private appendFromLeader(records: Buffer): void {
    // A fetch cut at maxBytes may end in a partial batch; only whole batches are appended.
    const iterator = iterateBatches(records);
    let end = 0;
    for (let step = iterator.next(); step.done !== true; step = iterator.next()) end = step.value.position + step.value.size;
    if (end === 0) return;
    const first = records.readBigInt64BE(0);
    if (first !== this.log.endOffset) return;
    this.log.appendAsFollower(records.subarray(0, end));
    this.log.flush();
  }
}
