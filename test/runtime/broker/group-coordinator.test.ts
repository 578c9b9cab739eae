// The classic group protocol state machine, driven directly: joins, the leader's assignment,
// heartbeats, generations, session expiry, leaving and committed offsets.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { decodeGroupMetadata, encodeGroupMetadata } from '../../../runtime/broker/group-codec.ts';
import { GroupCoordinator, type JoinRequest } from '../../../runtime/broker/group-coordinator.ts';
import { createLogger } from '../../../runtime/logger.ts';

function coordinator(persisted: unknown[] = []): GroupCoordinator {
  return new GroupCoordinator({
    logger: createLogger('test', () => {}),
    initialRebalanceDelayMs: 0,
    minSessionTimeoutMs: 50,
    maxSessionTimeoutMs: 60_000,
    maxGroupSize: 3,
    persist: async (_group, records) => { persisted.push(...records); return ErrorCode.NONE; },
  });
}

function join(memberId: string, overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    groupId: 'g', memberId, groupInstanceId: null, clientId: 'c', clientHost: '/127.0.0.1', sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 2_000, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    requireKnownMemberId: true, reason: null, ...overrides,
  };
}

async function joinNew(groups: GroupCoordinator, overrides: Partial<JoinRequest> = {}) {
  const first = await groups.join(join('', overrides));
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  return groups.join(join(first.memberId, overrides));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('group coordinator', () => {
  it('asks a new member to rejoin with an id, elects a leader and hands out the assignment', async () => {
    const groups = coordinator();
    const joined = await joinNew(groups);
    expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, protocolName: 'range', leader: joined.memberId });
    expect(joined.members).toHaveLength(1);
    const synced = await groups.sync('g', 1, joined.memberId, [{ memberId: joined.memberId, assignment: Buffer.from('all') }]);
    expect(synced.errorCode).toBe(ErrorCode.NONE);
    expect(synced.assignment.toString()).toBe('all');
    expect(groups.describe('g')?.state).toBe('Stable');
    expect(groups.heartbeat('g', 1, joined.memberId)).toBe(ErrorCode.NONE);
    expect(groups.heartbeat('g', 0, joined.memberId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(groups.heartbeat('g', 1, 'stranger')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    groups.shutdown();
  });

  it('rebalances when a second member joins: the first learns it from its heartbeat and rejoins', async () => {
    const groups = coordinator();
    const first = await joinNew(groups);
    await groups.sync('g', 1, first.memberId, [{ memberId: first.memberId, assignment: Buffer.from('p0,p1') }]);
    const secondJoin = groups.join(join(''));
    const secondId = (await secondJoin).memberId;
    const second = groups.join(join(secondId));
    expect(groups.heartbeat('g', 1, first.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // A member of the current generation may still commit what it processed before rejoining.
    expect(await groups.commitOffsets({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 5n, leaderEpoch: -1, metadata: null }] }, 0)).toBe(ErrorCode.NONE);
    const firstAgain = groups.join(join(first.memberId));
    const [a, b] = await Promise.all([firstAgain, second]);
    expect(a.generationId).toBe(2);
    expect(b.generationId).toBe(2);
    expect(a.leader).toBe(first.memberId);
    expect(a.members.map((m) => m.memberId).sort()).toEqual([first.memberId, secondId].sort());
    expect(b.members).toEqual([]);
    const followerSync = groups.sync('g', 2, secondId, []);
    const leaderSync = await groups.sync('g', 2, first.memberId, [{ memberId: first.memberId, assignment: Buffer.from('p0') }, { memberId: secondId, assignment: Buffer.from('p1') }]);
    expect(leaderSync.assignment.toString()).toBe('p0');
    expect((await followerSync).assignment.toString()).toBe('p1');
    expect(await groups.commitOffsets({ groupId: 'g', generationId: 1, memberId: first.memberId, groupInstanceId: null, offsets: [] }, 0)).toBe(ErrorCode.ILLEGAL_GENERATION);
    groups.shutdown();
  });

  it('removes a member whose session expires and rebalances the rest', async () => {
    const groups = coordinator();
    const first = await joinNew(groups, { sessionTimeoutMs: 100 });
    await groups.sync('g', 1, first.memberId, [{ memberId: first.memberId, assignment: Buffer.from('x') }]);
    await sleep(250);
    expect(groups.describe('g')?.state).toBe('Empty');
    expect(groups.describe('g')?.members).toEqual([]);
    expect(groups.heartbeat('g', 1, first.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    groups.shutdown();
  });

  it('lets a member leave, and only deletes an empty group', async () => {
    const persisted: unknown[] = [];
    const groups = coordinator(persisted);
    const first = await joinNew(groups);
    await groups.sync('g', 1, first.memberId, [{ memberId: first.memberId, assignment: Buffer.alloc(0) }]);
    expect(await groups.delete('g')).toBe(ErrorCode.NON_EMPTY_GROUP);
    expect(groups.leave('g', [{ memberId: first.memberId, groupInstanceId: null }]).errorCode).toBe(ErrorCode.NONE);
    expect(groups.describe('g')?.state).toBe('Empty');
    expect(await groups.delete('g')).toBe(ErrorCode.NONE);
    expect(groups.describe('g')).toBeUndefined();
    expect(persisted.at(-1)).toEqual({ key: { kind: 'group', group: 'g' }, value: null });
    groups.shutdown();
  });

  it('refuses bad session timeouts, empty group ids and incompatible protocols', async () => {
    const groups = coordinator();
    expect((await groups.join(join('', { sessionTimeoutMs: 10 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await groups.join(join('', { groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    const first = await joinNew(groups);
    await groups.sync('g', 1, first.memberId, [{ memberId: first.memberId, assignment: Buffer.alloc(0) }]);
    expect((await groups.join(join('', { protocols: [{ name: 'other', metadata: Buffer.alloc(0) }] }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    groups.shutdown();
  });

  it('reloads committed offsets from persisted records', async () => {
    const persisted: { key: any; value: any }[] = [];
    const groups = coordinator(persisted);
    expect(await groups.commitOffsets({ groupId: 'reload', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 2, offset: 9n, leaderEpoch: 3, metadata: 'meta' }] }, 1234)).toBe(ErrorCode.NONE);
    const restarted = coordinator();
    for (const record of persisted) restarted.load(record.key, record.value);
    expect(restarted.committedOffset('reload', 't', 2)).toEqual({ offset: 9n, leaderEpoch: 3, metadata: 'meta', commitTimestampMs: 1234n });
  });

  it('shows a commit only once it is stored, and refuses it when the store fails', async () => {
    let answer: (errorCode: number) => void = () => {};
    const groups = new GroupCoordinator({
      logger: createLogger('test', () => {}), initialRebalanceDelayMs: 0, minSessionTimeoutMs: 50, maxSessionTimeoutMs: 60_000, maxGroupSize: 3,
      persist: () => new Promise((resolve) => { answer = resolve; }),
    });
    const commit = (offset: bigint) => groups.commitOffsets({ groupId: 's', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: -1, metadata: null }] }, 0);
    const first = commit(5n);
    expect(groups.committedOffset('s', 't', 0)).toBeUndefined();
    answer(ErrorCode.NONE);
    expect(await first).toBe(ErrorCode.NONE);
    expect(groups.committedOffset('s', 't', 0)?.offset).toBe(5n);
    const second = commit(6n);
    answer(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(await second).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(groups.committedOffset('s', 't', 0)?.offset).toBe(5n);
  });

  it('stores the members of a Stable generation, and a coordinator taking over keeps them', async () => {
    const persisted: { key: any; value: any }[] = [];
    const groups = coordinator(persisted);
    const joined = await joinNew(groups);
    await groups.sync('g', joined.generationId, joined.memberId, [{ memberId: joined.memberId, assignment: Buffer.from('assigned') }]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const stored = persisted.filter((record) => record.key.kind === 'group').at(-1)!;
    // Through the codec, as the next coordinator reads it from the log.
    const decoded = decodeGroupMetadata(encodeGroupMetadata(stored.value))!;
    expect(decoded.members?.map((m) => m.memberId)).toEqual([joined.memberId]);
    const successor = new GroupCoordinator({
      logger: createLogger('test', () => {}), initialRebalanceDelayMs: 0, minSessionTimeoutMs: 50, maxSessionTimeoutMs: 60_000, maxGroupSize: 3,
      restoreMembers: true, persist: async () => ErrorCode.NONE,
    });
    successor.load(stored.key, decoded);
    expect(successor.describe('g')?.state).toBe('Stable');
    expect(successor.heartbeat('g', joined.generationId, joined.memberId)).toBe(ErrorCode.NONE);
    expect((await successor.sync('g', joined.generationId, joined.memberId, [])).assignment.toString()).toBe('assigned');
    // Without restoreMembers (a single node) the group starts without members, as before.
    const plain = coordinator();
    plain.load(stored.key, decoded);
    expect(plain.heartbeat('g', joined.generationId, joined.memberId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    groups.shutdown();
    successor.shutdown();
  });

  it('unloads the groups of a partition it no longer leads and tells waiting members NOT_COORDINATOR', async () => {
    const groups = coordinator();
    const joined = await joinNew(groups);
    await groups.sync('g', joined.generationId, joined.memberId, [{ memberId: joined.memberId, assignment: Buffer.alloc(0) }]);
    await groups.commitOffsets({ groupId: 'g', generationId: joined.generationId, memberId: joined.memberId, groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 3n, leaderEpoch: -1, metadata: null }] }, 0);
    await groups.commitOffsets({ groupId: 'other', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 4n, leaderEpoch: -1, metadata: null }] }, 0);
    // A second member's join waits for the first to rejoin; the unload answers it.
    const second = await groups.join(join(''));
    const waiting = groups.join(join(second.memberId));
    expect(groups.unloadGroups((groupId) => groupId === 'g')).toBe(1);
    expect((await waiting).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(groups.describe('g')).toBeUndefined();
    expect(groups.committedOffset('g', 't', 0)).toBeUndefined();
    expect(groups.committedOffset('other', 't', 0)?.offset).toBe(4n);
    groups.shutdown();
  });
});

describe('transactional offsets', () => {
  const offset = (group: string, value: bigint) => ({
    key: { kind: 'offset' as const, group, topic: 't', partition: 0 },
    value: { offset: value, leaderEpoch: -1, metadata: null, commitTimestampMs: 0n },
  });

  it('keeps staged offsets hidden until their marker, per producer and per offsets partition', () => {
    const groups = coordinator();
    groups.stageTransactionalOffsets(1n, [offset('a', 10n), offset('b', 20n)]);
    groups.stageTransactionalOffsets(2n, [offset('a', 99n)]);
    expect(groups.committedOffset('a', 't', 0)).toBeUndefined();
    expect(groups.hasPendingTransactionalOffset('a', 't', 0)).toBe(true);
    // The commit marker reached the partition holding group a only.
    groups.completeTransactionalOffsets(1n, true, (groupId) => groupId === 'a');
    expect(groups.committedOffset('a', 't', 0)?.offset).toBe(10n);
    expect(groups.committedOffset('b', 't', 0)).toBeUndefined();
    groups.completeTransactionalOffsets(2n, false, () => true);
    expect(groups.committedOffset('a', 't', 0)?.offset).toBe(10n);
    groups.completeTransactionalOffsets(1n, true, (groupId) => groupId === 'b');
    expect(groups.committedOffset('b', 't', 0)?.offset).toBe(20n);
    expect(groups.hasPendingTransactionalOffset('a', 't', 0)).toBe(false);
  });

  it('checks the member and generation of TxnOffsetCommit only when they are given', async () => {
    const groups = coordinator();
    const joined = await joinNew(groups);
    const base = { groupId: 'g', groupInstanceId: null };
    expect(groups.transactionalCommitError({ ...base, generationId: -1, memberId: '' })).toBe(ErrorCode.NONE);
    expect(groups.transactionalCommitError({ ...base, generationId: joined.generationId, memberId: joined.memberId })).toBe(ErrorCode.NONE);
    expect(groups.transactionalCommitError({ ...base, generationId: joined.generationId + 1, memberId: joined.memberId })).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(groups.transactionalCommitError({ ...base, generationId: -1, memberId: 'stranger' })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    groups.shutdown();
  });
});
