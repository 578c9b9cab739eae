// One consumer's membership in a group under the classic protocol: JoinGroup (every member
// sends its subscription; the coordinator picks a leader and a protocol), SyncGroup (the leader
// sends everyone's assignment, the others receive theirs), Heartbeat in the background, and
// LeaveGroup on close. Offsets are committed and fetched through the group coordinator.
//
// The protocols offered are the member's partition assignors (group-protocol.ts), built-in or
// the application's own: each adds its user data to the subscription, the leader runs the one
// the group chose, and every member hears its assignment and user data through onAssignment.
// The consumer is one user; the streams runtime, with its task-aware assignor, is the other.
import { ApiKey } from '../../core/protocol/index.ts';
import type { Connection } from './connection.ts';
import { sleep, type Cluster } from './cluster.ts';
import { KafkaClientError, KafkaConnectionError, KafkaProtocolError, isRetriableError } from './errors.ts';
import {
  CONSUMER_PROTOCOL_TYPE,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type MemberSubscription,
  type PartitionAssignor,
} from './group-protocol.ts';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface MembershipOptions {
  groupId?: string | undefined;
  groupInstanceId?: string | undefined;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  /** Offered in this order of preference; the group picks one every member offers. */
  assignors: readonly PartitionAssignor[];
}

/** Error codes that mean this member is no longer in the group: its partitions are lost. */
const LOST_CODES = new Set([22 /* ILLEGAL_GENERATION */, 25 /* UNKNOWN_MEMBER_ID */, 82 /* FENCED_INSTANCE_ID */]);

/** Error codes after which the member must join again. */
const REJOIN_CODES = new Set([22 /* ILLEGAL_GENERATION */, 25 /* UNKNOWN_MEMBER_ID */, 27 /* REBALANCE_IN_PROGRESS */, 82 /* FENCED_INSTANCE_ID */]);
const COORDINATOR_CODES = new Set([14 /* COORDINATOR_LOAD_IN_PROGRESS */, 15 /* COORDINATOR_NOT_AVAILABLE */, 16 /* NOT_COORDINATOR */]);
const JOIN_ATTEMPTS_MAX = 50;

export class GroupMembership {
  readonly groupId: string;
  memberId = '';
  generationId = -1;
  /** True once a heartbeat, commit or failed request shows the group is rebalancing. */
  rejoinNeeded = true;
  /**
   * True once the member learns it was dropped from the group (session expired, fenced, or it
   * left because poll was not called within max.poll.interval.ms): its partitions may already
   * belong to others, so they are reported lost and nothing is committed for them.
   */
  membershipLost = false;
  /** The protocol (assignor) the group chose at the last join. */
  protocol = '';
  /** Asked at each heartbeat; true makes the member leave (max.poll.interval.ms passed). */
  pollOverdue: () => boolean = () => false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatInFlight = false;

  constructor(private readonly cluster: Cluster, private readonly options: MembershipOptions) {
    if (options.groupId === undefined) throw new KafkaClientError('a group membership needs a groupId', false);
    if (options.assignors.length === 0) throw new KafkaClientError('a group membership needs at least one assignor', false);
    const names = options.assignors.map((assignor) => assignor.name);
    if (new Set(names).size !== names.length || names.includes('')) throw new KafkaClientError(`assignor names must be distinct and not empty: ${names.join(', ')}`, false);
    this.groupId = options.groupId;
  }

  requestRejoin(): void {
    this.rejoinNeeded = true;
  }

  private async coordinator(): Promise<Connection> {
    return this.cluster.coordinatorConnection(this.groupId);
  }

  /** Handles an error code that calls for rediscovering the coordinator or rejoining. */
  private noteError(code: number): void {
    if (COORDINATOR_CODES.has(code)) this.cluster.invalidateCoordinator(this.groupId);
    if (code === 25) this.memberId = '';
    if (REJOIN_CODES.has(code)) this.rejoinNeeded = true;
    if (LOST_CODES.has(code)) {
      this.membershipLost = true;
      this.generationId = -1;
    }
  }

  /** Joins (or rejoins) the group with `topics` and returns this member's partitions. */
  async join(topics: readonly string[], owned: readonly TopicPartition[] = []): Promise<TopicPartition[]> {
    this.stopHeartbeats();
    for (let attempt = 0; ; attempt++) {
      try {
        const assigned = await this.joinAndSync(topics, owned);
        this.rejoinNeeded = false;
        this.membershipLost = false;
        this.startHeartbeats();
        return assigned;
      } catch (error) {
        const code = error instanceof KafkaProtocolError ? error.code : -1;
        if (error instanceof KafkaProtocolError) this.noteError(code);
        if (error instanceof KafkaConnectionError) this.cluster.invalidateCoordinator(this.groupId);
        const again = REJOIN_CODES.has(code) || code === 79 || isRetriableError(error);
        if (!again || attempt >= JOIN_ATTEMPTS_MAX) throw error;
        if (code !== 79 && code !== 27) await sleep(this.options.retryBackoffMs);
      }
    }
  }

  private async joinAndSync(topics: readonly string[], owned: readonly TopicPartition[]): Promise<TopicPartition[]> {
    const connection = await this.coordinator();
    const ownedByTopic = groupByTopic(owned);
    const { body: joined } = await connection.send(ApiKey.JoinGroup, {
      groupId: this.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId ?? null,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocols: this.options.assignors.map((assignor) => ({
        name: assignor.name,
        metadata: encodeSubscription(topics, assignor.subscriptionUserData?.(topics) ?? null, ownedByTopic),
      })),
      reason: null,
    }, { timeoutMs: this.options.rebalanceTimeoutMs + this.options.requestTimeoutMs });
    // MEMBER_ID_REQUIRED (79) hands out the member id to join with; the caller retries at once.
    if (joined.errorCode === 79) this.memberId = joined.memberId;
    if (joined.errorCode !== 0) throw new KafkaProtocolError(joined.errorCode, `join group ${this.groupId}`);
    this.memberId = joined.memberId;
    this.generationId = joined.generationId;
    const protocol = joined.protocolName ?? '';
    this.protocol = protocol;
    const assignor = this.options.assignors.find((candidate) => candidate.name === protocol);
    if (assignor === undefined) throw new KafkaClientError(`the group chose assignor '${protocol}', which this member did not offer`, false);
    const assignments = joined.leader === joined.memberId ? await this.assign(assignor, joined.members) : [];
    const { body: synced } = await connection.send(ApiKey.SyncGroup, {
      groupId: this.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId ?? null,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: protocol,
      assignments,
    }, { timeoutMs: this.options.rebalanceTimeoutMs + this.options.requestTimeoutMs });
    if (synced.errorCode !== 0) throw new KafkaProtocolError(synced.errorCode, `sync group ${this.groupId}`);
    const assignment = decodeAssignment(synced.assignment);
    assignor.onAssignment?.({ partitions: assignment.partitions, userData: assignment.userData }, this.generationId);
    return assignment.partitions.flatMap((entry) => entry.partitions.map((partition) => ({ topic: entry.topic, partition })));
  }

  /** The leader's job: decode every member's subscription and run the chosen assignor. */
  private async assign(assignor: PartitionAssignor, members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subscriptions = new Map<string, MemberSubscription>();
    for (const member of members) {
      const { topics, userData, ownedPartitions } = decodeSubscription(member.metadata);
      subscriptions.set(member.memberId, { topics, userData, ownedPartitions });
    }
    const partitionCounts = new Map<string, number>();
    const topics = [...new Set([...subscriptions.values()].flatMap((subscription) => subscription.topics))];
    const metadata = topics.length === 0 ? new Map() : await this.cluster.refreshMetadata(topics);
    for (const topic of topics) partitionCounts.set(topic, metadata.get(topic)?.info?.partitions.length ?? 0);
    const plan = await assignor.assign({ partitionCounts }, subscriptions);
    return members.map((member) => {
      const assignment = plan.get(member.memberId);
      return { memberId: member.memberId, assignment: encodeAssignment(assignment?.partitions ?? [], assignment?.userData ?? null) };
    });
  }

  private startHeartbeats(): void {
    this.stopHeartbeats();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  stopHeartbeats(): void {
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async heartbeat(): Promise<void> {
    // Heartbeats go on after the coordinator has announced a rebalance, until the next poll
    // rejoins: they keep the session alive while the application finishes its records.
    if (this.heartbeatInFlight || this.memberId === '') return;
    if (this.pollOverdue()) {
      // Kafka's rule: a member that stops polling leaves, so its partitions go to someone who works.
      this.membershipLost = true;
      await this.leave('poll was not called within max.poll.interval.ms').catch(() => undefined);
      return;
    }
    this.heartbeatInFlight = true;
    try {
      const connection = await this.coordinator();
      const { body } = await connection.send(ApiKey.Heartbeat, {
        groupId: this.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: this.options.groupInstanceId ?? null,
      });
      this.noteError(body.errorCode);
    } catch (error) {
      // A broken connection is retried at the next interval; the session timeout bounds how long.
      if (error instanceof KafkaConnectionError) this.cluster.invalidateCoordinator(this.groupId);
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** Committed offsets of the group for these partitions (-1 where nothing was committed). */
  async fetchCommitted(partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
    const topics = new Map<string, number[]>();
    for (const entry of partitions) topics.set(entry.topic, [...(topics.get(entry.topic) ?? []), entry.partition]);
    return this.cluster.withRetries(async () => {
      const connection = await this.coordinator();
      const { body } = await connection.send(ApiKey.OffsetFetch, {
        groupId: this.groupId, requireStable: true,
        topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
      });
      if (body.errorCode !== 0) {
        this.noteError(body.errorCode);
        throw new KafkaProtocolError(body.errorCode, `fetch offsets of group ${this.groupId}`);
      }
      const result = new Map<string, bigint>();
      for (const topic of body.topics) {
        for (const partition of topic.partitions) {
          if (partition.errorCode !== 0) throw new KafkaProtocolError(partition.errorCode, `fetch offset of ${topic.name}-${partition.partitionIndex}`);
          result.set(`${topic.name}\u0000${partition.partitionIndex}`, partition.committedOffset);
        }
      }
      return result;
    });
  }

  /** Commits offsets; as a member of the current generation, or standalone (generation -1). */
  async commit(offsets: readonly (TopicPartition & { offset: bigint })[], asMember: boolean): Promise<void> {
    if (offsets.length === 0) return;
    const topics = new Map<string, { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string }[]>();
    for (const entry of offsets) {
      const list = topics.get(entry.topic) ?? [];
      list.push({ partitionIndex: entry.partition, committedOffset: entry.offset, committedLeaderEpoch: -1, committedMetadata: '' });
      topics.set(entry.topic, list);
    }
    const connection = await this.coordinator();
    const { body } = await connection.send(ApiKey.OffsetCommit, {
      groupId: this.groupId,
      generationIdOrMemberEpoch: asMember ? this.generationId : -1,
      memberId: asMember ? this.memberId : '',
      groupInstanceId: asMember ? (this.options.groupInstanceId ?? null) : null,
      retentionTimeMs: -1n,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    });
    for (const topic of body.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode === 0) continue;
        this.noteError(partition.errorCode);
        throw new KafkaProtocolError(partition.errorCode, `commit ${topic.name}-${partition.partitionIndex} for group ${this.groupId}`);
      }
    }
  }

  async leave(reason = 'the consumer is closing'): Promise<void> {
    this.stopHeartbeats();
    if (this.memberId === '') return;
    const connection = await this.coordinator();
    const memberId = this.memberId;
    this.memberId = '';
    this.generationId = -1;
    this.rejoinNeeded = true;
    await connection.send(ApiKey.LeaveGroup, {
      groupId: this.groupId, memberId,
      members: [{ memberId, groupInstanceId: this.options.groupInstanceId ?? null, reason }],
    });
  }
}

function groupByTopic(partitions: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const topics = new Map<string, number[]>();
  for (const entry of partitions) topics.set(entry.topic, [...(topics.get(entry.topic) ?? []), entry.partition]);
  return [...topics].map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
}
