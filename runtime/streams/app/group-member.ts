// One StreamsApp instance's membership in its consumer group (group id = application.id), under
// Kafka's classic protocol with the "consumer" protocol type, so Kafka tools can describe the
// group. The client's consumer offers only partition assignors, so the streams runtime runs its
// own membership: the subscription carries user data (the instance's query endpoint, the tasks
// it ran and the task state it has on disk), the leader runs the task-aware assignor, and each
// assignment carries the member's tasks and every endpoint's tasks for interactive queries.
// Offsets are committed as a member of the current generation, so a zombie cannot commit.
import { ApiKey } from '../../../core/protocol/index.ts';
import { sleep, type Cluster } from '../../client/cluster.ts';
import { isRetriableError, KafkaClientError, KafkaConnectionError, KafkaProtocolError } from '../../client/errors.ts';
import { CONSUMER_PROTOCOL_TYPE, decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription, type TopicPartitions } from '../../client/group-protocol.ts';
import type { TopicPartition } from '../../client/index.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

/** The protocol name streams members offer; plain consumers cannot join by accident. */
export const STREAMS_PROTOCOL = 'runnel-streams';

export interface GroupMemberOptions {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly retryBackoffMs: number;
}

export interface JoinedMember {
  readonly memberId: string;
  readonly userData: Buffer | null;
}

export interface MemberAssignment {
  readonly partitions: readonly TopicPartitions[];
  readonly userData: Buffer;
}

/** The leader's job: from every member's subscription user data, each member's assignment. */
export type GroupAssignor = (members: readonly JoinedMember[]) => Promise<Map<string, MemberAssignment>>;

const LOST_CODES = new Set([22 /* ILLEGAL_GENERATION */, 25 /* UNKNOWN_MEMBER_ID */, 82 /* FENCED_INSTANCE_ID */]);
const REJOIN_CODES = new Set([22, 25, 27 /* REBALANCE_IN_PROGRESS */, 82]);
const COORDINATOR_CODES = new Set([14 /* COORDINATOR_LOAD_IN_PROGRESS */, 15 /* COORDINATOR_NOT_AVAILABLE */, 16 /* NOT_COORDINATOR */]);
const MEMBER_ID_REQUIRED = 79;

export class StreamsGroupMember {
  memberId = '';
  generationId = -1;
  /** Set by a heartbeat or commit that shows the group is rebalancing; the poll loop rejoins. */
  rejoinNeeded = true;
  /** Set when the member was dropped: its tasks may already run elsewhere, so nothing is committed. */
  membershipLost = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatInFlight = false;

  constructor(private readonly cluster: Cluster, private readonly options: GroupMemberOptions, private readonly assignor: GroupAssignor) {}

  /** Joins with the given subscription and returns this member's assignment. */
  async join(topics: readonly string[], userData: Buffer): Promise<{ partitions: TopicPartition[]; userData: Buffer | null }> {
    this.stopHeartbeats();
    for (let attempt = 0; ; attempt++) {
      try {
        const assigned = await this.joinAndSync(topics, userData);
        this.rejoinNeeded = false;
        this.membershipLost = false;
        this.startHeartbeats();
        return assigned;
      } catch (error) {
        const code = error instanceof KafkaProtocolError ? error.code : -1;
        if (error instanceof KafkaProtocolError) this.noteError(code);
        if (error instanceof KafkaConnectionError) this.cluster.invalidateCoordinator(this.options.groupId);
        const again = REJOIN_CODES.has(code) || code === MEMBER_ID_REQUIRED || isRetriableError(error);
        if (!again || attempt >= STREAMS_APP_LIMITS.joinAttemptsMax) throw error;
        if (code !== MEMBER_ID_REQUIRED && code !== 27) await sleep(this.options.retryBackoffMs);
      }
    }
  }

  private async joinAndSync(topics: readonly string[], userData: Buffer): Promise<{ partitions: TopicPartition[]; userData: Buffer | null }> {
    const connection = await this.cluster.coordinatorConnection(this.options.groupId);
    const timeoutMs = this.options.rebalanceTimeoutMs + this.options.requestTimeoutMs;
    const { body: joined } = await connection.send(ApiKey.JoinGroup, {
      groupId: this.options.groupId,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
      memberId: this.memberId,
      groupInstanceId: null,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocols: [{ name: STREAMS_PROTOCOL, metadata: encodeSubscription(topics, userData) }],
      reason: null,
    }, { timeoutMs });
    if (joined.errorCode === MEMBER_ID_REQUIRED) this.memberId = joined.memberId;
    if (joined.errorCode !== 0) throw new KafkaProtocolError(joined.errorCode, `join group ${this.options.groupId}`);
    this.memberId = joined.memberId;
    this.generationId = joined.generationId;
    const assignments = joined.leader === joined.memberId ? await this.assign(joined.members) : [];
    const { body: synced } = await connection.send(ApiKey.SyncGroup, {
      groupId: this.options.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      protocolType: CONSUMER_PROTOCOL_TYPE,
      protocolName: STREAMS_PROTOCOL,
      assignments,
    }, { timeoutMs });
    if (synced.errorCode !== 0) throw new KafkaProtocolError(synced.errorCode, `sync group ${this.options.groupId}`);
    const assignment = decodeAssignment(synced.assignment);
    if (assignment.userData !== null && assignment.userData.length > STREAMS_APP_LIMITS.userDataBytesMax) throw new KafkaClientError('assignment user data is too large', false);
    return {
      partitions: assignment.partitions.flatMap((entry) => entry.partitions.map((partition) => ({ topic: entry.topic, partition }))),
      userData: assignment.userData,
    };
  }

  private async assign(members: readonly { memberId: string; metadata: Buffer }[]): Promise<{ memberId: string; assignment: Buffer }[]> {
    const joinedMembers = members.map((member) => ({ memberId: member.memberId, userData: decodeSubscription(member.metadata).userData }));
    const plan = await this.assignor(joinedMembers);
    return members.map((member) => {
      const assignment = plan.get(member.memberId);
      return { memberId: member.memberId, assignment: assignment === undefined ? encodeAssignment([]) : encodeAssignment(assignment.partitions, assignment.userData) };
    });
  }

  private noteError(code: number): void {
    if (COORDINATOR_CODES.has(code)) this.cluster.invalidateCoordinator(this.options.groupId);
    if (code === 25) this.memberId = '';
    if (REJOIN_CODES.has(code)) this.rejoinNeeded = true;
    if (LOST_CODES.has(code)) {
      this.membershipLost = true;
      this.generationId = -1;
    }
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
    if (this.heartbeatInFlight || this.memberId === '') return;
    this.heartbeatInFlight = true;
    try {
      const connection = await this.cluster.coordinatorConnection(this.options.groupId);
      const { body } = await connection.send(ApiKey.Heartbeat, { groupId: this.options.groupId, generationId: this.generationId, memberId: this.memberId, groupInstanceId: null });
      this.noteError(body.errorCode);
    } catch (error) {
      // The next interval tries again; the session timeout bounds how long that may go on.
      if (error instanceof KafkaConnectionError) this.cluster.invalidateCoordinator(this.options.groupId);
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** Commits offsets as a member of the current generation; a rebalance makes it fail and rejoin. */
  async commit(offsets: readonly (TopicPartition & { offset: bigint })[]): Promise<void> {
    if (offsets.length === 0) return;
    const topics = new Map<string, { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string }[]>();
    for (const entry of offsets) {
      const list = topics.get(entry.topic) ?? [];
      list.push({ partitionIndex: entry.partition, committedOffset: entry.offset, committedLeaderEpoch: -1, committedMetadata: '' });
      topics.set(entry.topic, list);
    }
    const connection = await this.cluster.coordinatorConnection(this.options.groupId);
    const { body } = await connection.send(ApiKey.OffsetCommit, {
      groupId: this.options.groupId,
      generationIdOrMemberEpoch: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    });
    for (const topic of body.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode === 0) continue;
        this.noteError(partition.errorCode);
        throw new KafkaProtocolError(partition.errorCode, `commit ${topic.name}-${partition.partitionIndex} for group ${this.options.groupId}`);
      }
    }
  }

  async leave(): Promise<void> {
    this.stopHeartbeats();
    if (this.memberId === '') return;
    const memberId = this.memberId;
    this.memberId = '';
    this.generationId = -1;
    const connection = await this.cluster.coordinatorConnection(this.options.groupId);
    await connection.send(ApiKey.LeaveGroup, {
      groupId: this.options.groupId,
      memberId,
      members: [{ memberId, groupInstanceId: null, reason: 'the streams application is closing' }],
    });
  }
}
