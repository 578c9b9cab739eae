// The classic consumer-group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) and the
// committed offsets of every group. One coordinator object owns all group state; handlers call
// it and turn its answers into responses. Timers (session expiry, rebalance deadlines, the
// initial rebalance delay) are owned here too.
//
// A rebalance: the first JoinGroup moves a group to PreparingRebalance; it completes when every
// known member has rejoined or the rebalance timeout passes. Then the generation goes up, a
// protocol all members support is chosen, every member gets its JoinGroup answer (the leader
// with everybody's metadata) and the group waits in CompletingRebalance for the leader's
// SyncGroup, whose assignments are handed to all members; the group is then Stable.
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import { memberIdentity, type CommittedOffset, type MemberIdentity, type OffsetsTopicKey, type StoredGroupMember, type StoredGroupMetadata } from './group-codec.ts';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinRequest extends MemberIdentity {
  groupId: string;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  /** JoinGroup v4+ asks a new member to rejoin with the id the broker hands out. */
  requireKnownMemberId: boolean;
  reason: string | null;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

interface Member extends MemberIdentity {
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  pendingJoin: ((result: JoinResult) => void) | null;
  pendingSync: ((result: SyncResult) => void) | null;
  sessionTimer: NodeJS.Timeout | null;
}

interface Group {
  groupId: string;
  state: GroupState;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string | null;
  members: Map<string, Member>;
  /** Members told to rejoin with their new id (JoinGroup v4+), not yet members. */
  pendingMemberIds: Set<string>;
  rebalanceTimer: NodeJS.Timeout | null;
  /** The initial delay of an empty group's first rebalance ends at this time. */
  initialDelayEndsAt: number;
  offsets: Map<string, Map<number, CommittedOffset>>;
}

export interface GroupCoordinatorOptions {
  logger: Logger;
  initialRebalanceDelayMs: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  maxGroupSize: number;
  /**
   * Whether loading a group restores the members of its last stored generation (a cluster: a
   * coordinator taking a group over keeps it Stable, and its members carry on heartbeating).
   * A single node starts its groups without members, as it always did.
   */
  restoreMembers?: boolean;
  /**
   * Appends records to the group's __consumer_offsets partition and resolves once they are
   * committed there (on every in-sync replica in a cluster), with NONE or the error code the
   * client should get (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE).
   */
  persist: (groupId: string, records: { key: OffsetsTopicKey; value: CommittedOffset | StoredGroupMetadata | null }[]) => Promise<number>;
}

export interface OffsetCommitInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number; metadata: string | null }[];
}

/** An offset committed inside a transaction; it becomes visible when the transaction commits. */
export interface TransactionalOffset {
  key: { kind: 'offset'; group: string; topic: string; partition: number };
  value: CommittedOffset;
}

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  /** TxnOffsetCommit offsets by producer id, waiting for their transaction's marker. */
  private readonly pendingTransactionalOffsets = new Map<bigint, TransactionalOffset[]>();

  constructor(private readonly options: GroupCoordinatorOptions) {}

  // ---------------------------------------------------------------- loading

  /** Replays one __consumer_offsets record during start-up. */
  load(key: OffsetsTopicKey, value: CommittedOffset | StoredGroupMetadata | null): void {
    if (key.kind === 'offset') {
      const group = this.getOrCreate(key.group);
      let topic = group.offsets.get(key.topic);
      if (value === null) { topic?.delete(key.partition); return; }
      if (topic === undefined) group.offsets.set(key.topic, topic = new Map());
      topic.set(key.partition, value as CommittedOffset);
      return;
    }
    if (value === null) {
      const gone = this.groups.get(key.group);
      if (gone !== undefined) this.stopTimers(gone);
      this.groups.delete(key.group);
      return;
    }
    const group = this.getOrCreate(key.group);
    const stored = value as StoredGroupMetadata;
    group.generationId = stored.generationId;
    group.protocolType = stored.protocolType;
    group.protocolName = stored.protocolName;
    if (this.options.restoreMembers === true) this.restoreMembers(group, stored);
  }

  /** The members of the stored generation come back Stable, each with a fresh session. */
  private restoreMembers(group: Group, stored: StoredGroupMetadata): void {
    this.stopTimers(group);
    group.members.clear();
    const members = stored.members ?? [];
    for (const saved of members) {
      const member: Member = {
        ...memberIdentity(saved),
        protocols: [{ name: stored.protocolName ?? '', metadata: saved.protocolMetadata }], assignment: saved.assignment,
        pendingJoin: null, pendingSync: null, sessionTimer: null,
      };
      group.members.set(member.memberId, member);
      this.scheduleSessionExpiry(group, member);
    }
    group.leaderId = members.length > 0 ? stored.leaderId ?? null : null;
    group.state = members.length > 0 ? 'Stable' : 'Empty';
  }

  /** What a Stable generation stores: enough for another coordinator to carry on with its members. */
  private storedGeneration(group: Group): StoredGroupMetadata {
    const members: StoredGroupMember[] = [...group.members.values()].map((member) => ({
      ...memberIdentity(member),
      protocolMetadata: member.protocols.find((p) => p.name === group.protocolName)?.metadata ?? Buffer.alloc(0), assignment: member.assignment,
    }));
    return { protocolType: group.protocolType, generationId: group.generationId, protocolName: group.protocolName, leaderId: group.leaderId, members };
  }

  // ---------------------------------------------------------------- membership

  join(request: JoinRequest): Promise<JoinResult> {
    const failure = (errorCode: number, memberId = request.memberId): Promise<JoinResult> => Promise.resolve({
      errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [],
    });
    if (request.groupId === '') return failure(ErrorCode.INVALID_GROUP_ID);
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.options;
    if (request.sessionTimeoutMs < minSessionTimeoutMs || request.sessionTimeoutMs > maxSessionTimeoutMs) {
      return failure(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const group = this.getOrCreate(request.groupId);
    if (group.state === 'Dead') return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!this.protocolsCompatible(group, request)) return failure(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    let memberId = request.memberId;
    if (memberId === '') {
      memberId = this.existingStaticMember(group, request.groupInstanceId) ?? `${request.clientId}-${randomUUID()}`;
      if (request.requireKnownMemberId && !group.members.has(memberId)) {
        group.pendingMemberIds.add(memberId);
        return failure(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
    } else if (!group.members.has(memberId) && !group.pendingMemberIds.has(memberId)) {
      return failure(ErrorCode.UNKNOWN_MEMBER_ID);
    }
    group.pendingMemberIds.delete(memberId);
    if (!group.members.has(memberId) && group.members.size >= this.options.maxGroupSize) {
      return failure(ErrorCode.GROUP_MAX_SIZE_REACHED);
    }
    return new Promise<JoinResult>((resolve) => {
      const member = this.upsertMember(group, memberId, request);
      member.pendingJoin = resolve;
      if (group.protocolType === null) group.protocolType = request.protocolType;
      this.answerPendingSyncs(group, ErrorCode.REBALANCE_IN_PROGRESS);
      this.prepareRebalance(group, `member ${memberId} joined${request.reason === null ? '' : `: ${request.reason}`}`);
      this.maybeCompleteJoin(group);
    });
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[]): Promise<SyncResult> {
    const group = this.groups.get(groupId);
    const failure = (errorCode: number): Promise<SyncResult> => Promise.resolve({ errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) });
    if (group === undefined) return failure(ErrorCode.UNKNOWN_MEMBER_ID);
    const member = group.members.get(memberId);
    if (member === undefined) return failure(ErrorCode.UNKNOWN_MEMBER_ID);
    if (generationId !== group.generationId) return failure(ErrorCode.ILLEGAL_GENERATION);
    if (group.state === 'PreparingRebalance') return failure(ErrorCode.REBALANCE_IN_PROGRESS);
    this.scheduleSessionExpiry(group, member);
    if (group.state === 'Stable') {
      return Promise.resolve({ errorCode: ErrorCode.NONE, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment });
    }
    return new Promise<SyncResult>((resolve) => {
      member.pendingSync = resolve;
      if (memberId !== group.leaderId) return;
      for (const each of group.members.values()) each.assignment = Buffer.alloc(0);
      for (const { memberId: target, assignment } of assignments) {
        const assigned = group.members.get(target);
        if (assigned !== undefined) assigned.assignment = assignment;
      }
      this.transition(group, 'Stable');
      // Members get their assignments once the generation is stored, as in Kafka; a failed
      // write sends them back to rejoin.
      const generationId = group.generationId;
      void this.options.persist(group.groupId, [{ key: { kind: 'group', group: group.groupId }, value: this.storedGeneration(group) }])
        .then((errorCode) => {
          if (this.groups.get(group.groupId) !== group || group.generationId !== generationId) return;
          if (errorCode === ErrorCode.NONE) {
            this.answerPendingSyncs(group, ErrorCode.NONE);
            return;
          }
          this.answerPendingSyncs(group, errorCode);
          if (group.state === 'Stable') this.prepareRebalance(group, 'the group generation could not be stored');
        });
    });
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (group === undefined || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSessionExpiry(group, member);
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]): { errorCode: number; members: { memberId: string; groupInstanceId: string | null; errorCode: number }[] } {
    const group = this.groups.get(groupId);
    if (group === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    const results = members.map(({ memberId, groupInstanceId }) => {
      const id = memberId !== '' ? memberId : this.existingStaticMember(group, groupInstanceId);
      if (id === null || !group.members.has(id)) return { memberId, groupInstanceId, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      this.removeMember(group, id, 'left the group');
      return { memberId: id, groupInstanceId, errorCode: ErrorCode.NONE };
    });
    const topError = members.length === 1 ? results[0]!.errorCode : ErrorCode.NONE;
    return { errorCode: topError, members: results };
  }

  // ---------------------------------------------------------------- offsets

  /** Resolves once the offsets are committed in __consumer_offsets; only then can OffsetFetch see them. */
  async commitOffsets(input: OffsetCommitInput, nowMs: number): Promise<number> {
    const group = this.getOrCreate(input.groupId);
    const simpleCommit = input.generationId < 0 && input.memberId === '';
    if (!simpleCommit) {
      const error = this.checkGenerationForCommit(group, input);
      if (error !== ErrorCode.NONE) return error;
    } else if (group.members.size > 0) {
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    const records = input.offsets.map((entry) => ({
      key: { kind: 'offset' as const, group: input.groupId, topic: entry.topic, partition: entry.partition },
      value: { offset: entry.offset, leaderEpoch: entry.leaderEpoch, metadata: entry.metadata, commitTimestampMs: BigInt(nowMs) },
    }));
    const errorCode = await this.options.persist(input.groupId, records);
    if (errorCode !== ErrorCode.NONE) return errorCode;
    // The group may have moved away while the write waited: then it is not ours to update.
    if (this.groups.get(input.groupId) !== group) return ErrorCode.NOT_COORDINATOR;
    for (const { key, value } of records) this.load(key, value);
    return ErrorCode.NONE;
  }

  /**
   * TxnOffsetCommit v3+ names the member and generation (KIP-447). As in Kafka, each is checked
   * only when given: a known member id must belong to the group, a generation must be current.
   * Older versions, or a producer outside any group, send neither.
   */
  transactionalCommitError(input: Omit<OffsetCommitInput, 'offsets'>): number {
    const group = this.groups.get(input.groupId);
    if (input.memberId !== '' && group?.members.has(input.memberId) !== true) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (input.generationId >= 0 && input.generationId !== (group?.generationId ?? 0)) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  /** Holds offsets written to __consumer_offsets inside a transaction until its marker. */
  stageTransactionalOffsets(producerId: bigint, offsets: readonly TransactionalOffset[]): void {
    let list = this.pendingTransactionalOffsets.get(producerId);
    if (list === undefined) this.pendingTransactionalOffsets.set(producerId, list = []);
    list.push(...offsets);
  }

  /**
   * A marker for the producer reached a __consumer_offsets partition: its staged offsets of
   * the groups stored there become committed (commit) or are dropped (abort).
   */
  completeTransactionalOffsets(producerId: bigint, commit: boolean, storedInPartition: (groupId: string) => boolean): void {
    const list = this.pendingTransactionalOffsets.get(producerId);
    if (list === undefined) return;
    const remaining = list.filter((entry) => !storedInPartition(entry.key.group));
    if (commit) for (const entry of list) if (storedInPartition(entry.key.group)) this.load(entry.key, entry.value);
    if (remaining.length === 0) this.pendingTransactionalOffsets.delete(producerId);
    else this.pendingTransactionalOffsets.set(producerId, remaining);
  }

  /** Whether an open transaction holds an offset of this group and partition (OffsetFetch requireStable). */
  hasPendingTransactionalOffset(groupId: string, topic: string, partition: number): boolean {
    for (const list of this.pendingTransactionalOffsets.values()) {
      if (list.some(({ key }) => key.group === groupId && key.topic === topic && key.partition === partition)) return true;
    }
    return false;
  }

  committedOffset(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(groupId)?.offsets.get(topic)?.get(partition);
  }

  committedTopics(groupId: string): Map<string, Map<number, CommittedOffset>> {
    return this.groups.get(groupId)?.offsets ?? new Map();
  }

  // ---------------------------------------------------------------- administration

  describe(groupId: string): { state: GroupState; protocolType: string; protocolName: string; members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[] } | undefined {
    const group = this.groups.get(groupId);
    if (group === undefined) return undefined;
    const members = [...group.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      clientId: member.clientId,
      clientHost: member.clientHost,
      metadata: member.protocols.find((p) => p.name === group.protocolName)?.metadata ?? Buffer.alloc(0),
      assignment: member.assignment,
    }));
    return { state: group.state, protocolType: group.protocolType ?? '', protocolName: group.state === 'Stable' ? group.protocolName ?? '' : '', members };
  }

  list(): { groupId: string; protocolType: string; state: GroupState }[] {
    return [...this.groups.values()].filter((g) => g.state !== 'Dead').map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state }));
  }

  async delete(groupId: string): Promise<number> {
    const group = this.groups.get(groupId);
    if (group === undefined) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (group.state !== 'Empty') return ErrorCode.NON_EMPTY_GROUP;
    const tombstones: { key: OffsetsTopicKey; value: null }[] = [];
    for (const [topic, partitions] of group.offsets) {
      for (const partition of partitions.keys()) tombstones.push({ key: { kind: 'offset', group: groupId, topic, partition }, value: null });
    }
    tombstones.push({ key: { kind: 'group', group: groupId }, value: null });
    group.state = 'Dead';
    this.groups.delete(groupId);
    return this.options.persist(groupId, tombstones);
  }

  /** Forgets committed offsets of a deleted topic. */
  deleteTopicOffsets(topic: string): void {
    for (const group of this.groups.values()) group.offsets.delete(topic);
  }

  shutdown(): void {
    for (const group of this.groups.values()) this.stopTimers(group);
  }

  /**
   * This broker stopped leading a __consumer_offsets partition: the groups stored there are
   * forgotten (their new coordinator loads them from the log), and members waiting for a
   * JoinGroup or SyncGroup answer are told NOT_COORDINATOR so they look for it.
   */
  unloadGroups(storedHere: (groupId: string) => boolean): number {
    let count = 0;
    for (const group of [...this.groups.values()]) {
      if (!storedHere(group.groupId)) continue;
      this.stopTimers(group);
      for (const member of group.members.values()) {
        member.pendingJoin?.({ errorCode: ErrorCode.NOT_COORDINATOR, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: member.memberId, members: [] });
        member.pendingJoin = null;
      }
      this.answerPendingSyncs(group, ErrorCode.NOT_COORDINATOR);
      group.state = 'Dead';
      this.groups.delete(group.groupId);
      count += 1;
    }
    for (const [producerId, list] of this.pendingTransactionalOffsets) {
      const remaining = list.filter((entry) => !storedHere(entry.key.group));
      if (remaining.length === 0) this.pendingTransactionalOffsets.delete(producerId);
      else this.pendingTransactionalOffsets.set(producerId, remaining);
    }
    return count;
  }

  private stopTimers(group: Group): void {
    if (group.rebalanceTimer !== null) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    for (const member of group.members.values()) {
      if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
      member.sessionTimer = null;
    }
  }

  // ---------------------------------------------------------------- internals

  private getOrCreate(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = {
        groupId, state: 'Empty', generationId: 0, protocolType: null, protocolName: null, leaderId: null,
        members: new Map(), pendingMemberIds: new Set(), rebalanceTimer: null, initialDelayEndsAt: 0, offsets: new Map(),
      };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private existingStaticMember(group: Group, groupInstanceId: string | null): string | null {
    if (groupInstanceId === null) return null;
    for (const member of group.members.values()) if (member.groupInstanceId === groupInstanceId) return member.memberId;
    return null;
  }

  private protocolsCompatible(group: Group, request: JoinRequest): boolean {
    if (request.protocols.length === 0 || request.protocolType === '') return false;
    if (group.members.size === 0) return true;
    if (group.protocolType !== request.protocolType) return false;
    const names = new Set(request.protocols.map((p) => p.name));
    return [...group.members.values()].every((member) => member.memberId === request.memberId || member.protocols.some((p) => names.has(p.name)));
  }

  private upsertMember(group: Group, memberId: string, request: JoinRequest): Member {
    let member = group.members.get(memberId);
    if (member === undefined) {
      member = {
        ...memberIdentity(request), memberId,
        protocols: request.protocols, assignment: Buffer.alloc(0), pendingJoin: null, pendingSync: null, sessionTimer: null,
      };
      group.members.set(memberId, member);
    } else {
      member.protocols = request.protocols;
      member.sessionTimeoutMs = request.sessionTimeoutMs;
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    }
    // A member waiting for its JoinGroup answer is covered by the rebalance timeout instead.
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
    member.sessionTimer = null;
    return member;
  }

  private prepareRebalance(group: Group, reason: string): void {
    if (group.state === 'PreparingRebalance') return;
    const wasEmpty = group.state === 'Empty';
    this.transition(group, 'PreparingRebalance');
    this.options.logger.info('preparing rebalance', { group: group.groupId, generation: group.generationId, reason });
    const rebalanceTimeoutMs = Math.max(...[...group.members.values()].map((m) => m.rebalanceTimeoutMs), 0);
    if (wasEmpty && this.options.initialRebalanceDelayMs > 0) {
      group.initialDelayEndsAt = Date.now() + this.options.initialRebalanceDelayMs;
      group.rebalanceTimer = setTimeout(() => this.completeJoin(group), this.options.initialRebalanceDelayMs);
    } else {
      group.initialDelayEndsAt = 0;
      group.rebalanceTimer = setTimeout(() => this.completeJoin(group), rebalanceTimeoutMs);
    }
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    if (Date.now() < group.initialDelayEndsAt) return;
    const everyoneJoined = [...group.members.values()].every((member) => member.pendingJoin !== null);
    if (everyoneJoined && group.pendingMemberIds.size === 0) this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    if (group.rebalanceTimer !== null) clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = null;
    group.pendingMemberIds.clear();
    for (const member of [...group.members.values()]) {
      if (member.pendingJoin === null) this.removeMemberQuietly(group, member, 'did not rejoin in time');
    }
    group.generationId += 1;
    if (group.members.size === 0) {
      group.protocolName = null;
      this.transition(group, 'Empty');
      // Nobody waits for this record: a lost one only means the next generation number repeats.
      void this.options.persist(group.groupId, [{ key: { kind: 'group', group: group.groupId }, value: { protocolType: group.protocolType, generationId: group.generationId, protocolName: null } }]);
      return;
    }
    group.protocolName = this.electProtocol(group);
    if (group.leaderId === null || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value ?? null;
    this.transition(group, 'CompletingRebalance');
    this.options.logger.info('rebalance joined', { group: group.groupId, generation: group.generationId, members: group.members.size });
    const allMembers = [...group.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: member.protocols.find((p) => p.name === group.protocolName)?.metadata ?? Buffer.alloc(0),
    }));
    for (const member of group.members.values()) {
      const answer = member.pendingJoin;
      member.pendingJoin = null;
      this.scheduleSessionExpiry(group, member);
      answer?.({
        errorCode: ErrorCode.NONE, generationId: group.generationId, protocolType: group.protocolType,
        protocolName: group.protocolName, leader: group.leaderId ?? '', memberId: member.memberId,
        members: member.memberId === group.leaderId ? allMembers : [],
      });
    }
  }

  /** The protocol every member supports with the most first-choice votes. */
  private electProtocol(group: Group): string {
    const members = [...group.members.values()];
    const candidates = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    let best = candidates[0] ?? members[0]!.protocols[0]!.name;
    let bestVotes = -1;
    for (const candidate of candidates) {
      const votes = members.filter((m) => m.protocols.find((p) => candidates.includes(p.name))?.name === candidate).length;
      if (votes > bestVotes) { best = candidate; bestVotes = votes; }
    }
    return best;
  }

  private scheduleSessionExpiry(group: Group, member: Member): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      member.sessionTimer = null;
      if (group.members.get(member.memberId) !== member || member.pendingJoin !== null) return;
      this.removeMember(group, member.memberId, 'session timed out');
    }, member.sessionTimeoutMs);
  }

  private removeMember(group: Group, memberId: string, reason: string): void {
    const member = group.members.get(memberId);
    if (member === undefined) return;
    this.removeMemberQuietly(group, member, reason);
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') {
      this.answerPendingSyncs(group, ErrorCode.REBALANCE_IN_PROGRESS);
      if (group.members.size === 0) {
        this.transition(group, 'Empty');
        group.generationId += 1;
        group.protocolName = null;
        group.leaderId = null;
        void this.options.persist(group.groupId, [{ key: { kind: 'group', group: group.groupId }, value: this.storedGeneration(group) }]);
        return;
      }
      this.prepareRebalance(group, `member ${memberId} ${reason}`);
    }
    this.maybeCompleteJoin(group);
  }

  private removeMemberQuietly(group: Group, member: Member, reason: string): void {
    if (member.sessionTimer !== null) clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    if (group.leaderId === member.memberId) group.leaderId = null;
    this.options.logger.info('member removed', { group: group.groupId, member: member.memberId, reason });
    member.pendingJoin?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId: member.memberId, members: [] });
    member.pendingJoin = null;
  }

  private answerPendingSyncs(group: Group, errorCode: number): void {
    for (const member of group.members.values()) {
      const answer = member.pendingSync;
      if (answer === null) continue;
      member.pendingSync = null;
      answer({ errorCode, protocolType: group.protocolType, protocolName: group.protocolName, assignment: errorCode === ErrorCode.NONE ? member.assignment : Buffer.alloc(0) });
    }
  }

  private checkGenerationForCommit(group: Group, input: OffsetCommitInput): number {
    const memberId = input.memberId !== '' ? input.memberId : this.existingStaticMember(group, input.groupInstanceId);
    // During CompletingRebalance nobody has an assignment yet, so nobody may commit. During
    // PreparingRebalance members of the current generation may: clients commit what they have
    // processed before they rejoin, and refusing would make them process it again.
    if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    if (memberId === null || !group.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (input.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  private transition(group: Group, state: GroupState): void {
    group.state = state;
  }
}
