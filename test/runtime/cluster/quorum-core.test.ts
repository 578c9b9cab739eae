// The quorum core driven by hand: one step at a time, with a clock and an outbox the test owns.
import { describe, expect, it } from 'vitest';
import { ApiKey, ErrorCode } from '../../../core/protocol/index.ts';
import { encodeBatch } from '../../../core/records/batch.ts';
import {
  decodeQuorumRequest,
  decodeQuorumResponse,
  encodeQuorumRequest,
  encodeQuorumResponse,
  METADATA_TOPIC,
  METADATA_TOPIC_ID,
  withoutSizePrefix,
  type InboundRequest,
  type InboundResponse,
  type OutboundRequest,
  type OutboundResponse,
} from '../../../runtime/cluster/messages.ts';
import { quorumConfigSchema } from '../../../runtime/cluster/quorum-config.ts';
import { QuorumCore } from '../../../runtime/cluster/quorum-core.ts';
import { MemoryQuorumStateStore } from '../../../runtime/cluster/quorum-state.ts';
import { MemoryRaftLog } from '../../../runtime/cluster/raft-log.ts';

/** Round-trips through the codec, as the network would. */
function wireRequest(request: OutboundRequest): InboundRequest {
  const decoded = decodeQuorumRequest(withoutSizePrefix(encodeQuorumRequest(request, 7, 'test')));
  if (decoded === null) throw new Error('undecodable');
  return decoded.request;
}

function wireResponse(response: OutboundResponse): InboundResponse {
  return decodeQuorumResponse(response.apiKey, withoutSizePrefix(encodeQuorumResponse(response, 7))).response;
}

function setup(options: { logEpochs?: number[]; epoch?: number } = {}) {
  const clock = { nowMs: 0 };
  const outbox: { to: number; requestId: number; request: OutboundRequest }[] = [];
  const log = new MemoryRaftLog();
  for (const epoch of options.logEpochs ?? []) log.appendAsLeader(encodeBatch({ records: [{ value: `e${epoch}` }], baseTimestamp: 0 }), epoch);
  log.flush();
  const store = new MemoryQuorumStateStore();
  if (options.epoch !== undefined) store.write({ epoch: options.epoch, votedFor: -1, leaderId: -1 });
  const config = quorumConfigSchema.parse({ nodeId: 1, voters: [1, 2, 3], electionTimeoutMs: 100, fetchTimeoutMs: 400, requestTimeoutMs: 200, fetchMaxWaitMs: 50 });
  const core = new QuorumCore(config, log, store, {
    nowMs: () => clock.nowMs,
    wallClockMs: () => clock.nowMs,
    random: () => 0,
    send: (to, requestId, request) => outbox.push({ to, requestId, request }),
  });
  return { clock, outbox, log, store, core };
}

function vote(epoch: number, candidateId: number, lastOffsetEpoch: number, lastOffset: bigint): InboundRequest {
  return wireRequest({ apiKey: ApiKey.Vote, body: { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0, candidateEpoch: epoch, candidateId, lastOffsetEpoch, lastOffset }] }] } });
}

function fetch(replicaId: number, epoch: number, fetchOffset: bigint, lastFetchedEpoch: number): InboundRequest {
  return wireRequest({
    apiKey: ApiKey.Fetch,
    body: { replicaState: { replicaId }, maxWaitMs: 0, topics: [{ topicId: METADATA_TOPIC_ID, partitions: [{ partition: 0, currentLeaderEpoch: epoch, fetchOffset, lastFetchedEpoch, partitionMaxBytes: 1 << 20 }] }] },
  });
}

function answer(core: QuorumCore, request: InboundRequest): InboundResponse {
  let response: OutboundResponse | null = null;
  core.handleRequest(request, (value) => (response = value));
  if (response === null) throw new Error('no answer yet');
  return wireResponse(response);
}

function voteGranted(response: InboundResponse): boolean {
  if (response.apiKey !== ApiKey.Vote) throw new Error('not a vote response');
  return response.body.topics[0]!.partitions[0]!.voteGranted;
}

function grantVote(core: QuorumCore, from: number, requestId: number, epoch: number): void {
  core.handleResponse(from, requestId, wireResponse({ apiKey: ApiKey.Vote, body: { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0, leaderId: -1, leaderEpoch: epoch, voteGranted: true }] }] } }));
}

/** Makes node 1 leader: wait out the start-up promise, stand, collect one vote. */
function elect(env: ReturnType<typeof setup>): void {
  env.clock.nowMs = 1_000;
  env.core.poll();
  expect(env.core.roleName).toBe('candidate');
  const request = env.outbox.find((item) => item.request.apiKey === ApiKey.Vote && item.to === 2)!;
  grantVote(env.core, 2, request.requestId, env.core.epoch);
  expect(env.core.roleName).toBe('leader');
}

describe('QuorumCore votes', () => {
  it('grants one vote per epoch, durably before answering, and refuses stale logs', () => {
    const env = setup({ logEpochs: [1, 2] });
    env.clock.nowMs = 1_000;
    // The candidate's log ends in an older epoch: refused even though its offset is larger.
    expect(voteGranted(answer(env.core, vote(3, 2, 1, 10n)))).toBe(false);
    // Same last epoch, shorter log: refused. Then an up-to-date candidate wins the vote.
    expect(voteGranted(answer(env.core, vote(4, 2, 2, 1n)))).toBe(false);
    const writesBefore = env.store.writes;
    expect(voteGranted(answer(env.core, vote(4, 3, 2, 2n)))).toBe(true);
    expect(env.store.read()).toEqual({ epoch: 4, votedFor: 3, leaderId: -1 });
    expect(env.store.writes).toBeGreaterThan(writesBefore);
    // A second candidate in the same epoch is refused; the same one may ask again.
    expect(voteGranted(answer(env.core, vote(4, 2, 2, 5n)))).toBe(false);
    expect(voteGranted(answer(env.core, vote(4, 3, 2, 2n)))).toBe(true);
  });

  it('refuses votes while following a live leader, and grants after the fetch timeout', () => {
    const env = setup();
    env.clock.nowMs = 100;
    // A fresh node promised nothing yet but treats its start as contact with a leader.
    expect(voteGranted(answer(env.core, vote(1, 2, 0, 0n)))).toBe(false);
    expect(env.core.epoch).toBe(0);
    env.clock.nowMs = 400;
    expect(voteGranted(answer(env.core, vote(1, 2, 0, 0n)))).toBe(true);
  });

  it('a restarted node remembers its vote', () => {
    const first = setup();
    first.clock.nowMs = 1_000;
    expect(voteGranted(answer(first.core, vote(5, 2, 0, 0n)))).toBe(true);
    const clock = { nowMs: 5_000 };
    const restarted = new QuorumCore(first.core.config, first.log, first.store, { nowMs: () => clock.nowMs, wallClockMs: () => clock.nowMs, random: () => 0, send: () => {} });
    expect(restarted.epoch).toBe(5);
    expect(restarted.votedFor).toBe(2);
    // Long after the restart, so only the remembered vote can refuse the other candidate.
    clock.nowMs = 10_000;
    expect(voteGranted(answer(restarted, vote(5, 3, 0, 0n)))).toBe(false);
    expect(voteGranted(answer(restarted, vote(6, 3, 0, 0n)))).toBe(true);
  });
});

describe('QuorumCore leader', () => {
  it('commits old-epoch entries only together with an entry of its own epoch', () => {
    const env = setup({ logEpochs: [1, 1, 1], epoch: 1 });
    elect(env);
    expect(env.core.epoch).toBe(2);
    expect(env.core.logEndOffset).toBe(4n);
    // Node 2 holds the three epoch-1 batches but not the leader's epoch-2 batch: a majority has
    // offsets 0-2, yet they must not commit yet (Raft's figure 8).
    answer(env.core, fetch(2, 2, 3n, 1));
    expect(env.core.highWatermark).toBe(0n);
    answer(env.core, fetch(2, 2, 4n, 2));
    expect(env.core.highWatermark).toBe(4n);
  });

  it('answers a follower whose log diverged with the epoch and offset to truncate to', () => {
    const env = setup({ logEpochs: [1, 1, 3], epoch: 3 });
    elect(env);
    // Node 3 has two epoch-1 batches and then batches of epoch 2 that the leader never saw.
    const response = answer(env.core, fetch(3, 4, 5n, 2));
    if (response.apiKey !== ApiKey.Fetch) throw new Error('not a fetch response');
    const partition = response.body.responses[0]!.partitions[0]!;
    expect(partition.errorCode).toBe(ErrorCode.NONE);
    expect(partition.divergingEpoch).toEqual({ epoch: 1, endOffset: 2n });
    expect(partition.records?.length ?? 0).toBe(0);
  });

  it('fences fetches from an older epoch and resigns without a quorum', () => {
    const env = setup();
    elect(env);
    const stale = answer(env.core, fetch(2, 0, 0n, 0));
    if (stale.apiKey !== ApiKey.Fetch) throw new Error('not a fetch response');
    expect(stale.body.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(stale.body.responses[0]!.partitions[0]!.currentLeader).toEqual({ leaderId: 1, leaderEpoch: 1 });
    const pending = env.core.append([{ value: 'x' }]);
    // Nobody fetches: after three quarters of the fetch timeout past the election the leader stops.
    env.clock.nowMs += 400;
    env.core.poll();
    expect(env.core.roleName).toBe('resigned');
    expect(env.core.isActiveLeader).toBe(false);
    return expect(pending).rejects.toThrow(/not the leader/);
  });
});

describe('QuorumCore observers and hand-overs', () => {
  it('serves observers (brokers) only committed records', async () => {
    const env = setup();
    elect(env);
    const appended = env.core.append([{ value: 'committed later' }]);
    env.core.poll();
    expect(env.core.logEndOffset).toBe(2n);
    const early = answer(env.core, fetch(9, 1, 0n, 0));
    if (early.apiKey !== ApiKey.Fetch) throw new Error('not a fetch response');
    expect(early.body.responses[0]!.partitions[0]!.records?.length ?? 0).toBe(0);
    answer(env.core, fetch(2, 1, 2n, 1));
    expect(env.core.highWatermark).toBe(2n);
    await expect(appended).resolves.toEqual({ baseOffset: 1n, lastOffset: 1n });
    const late = answer(env.core, fetch(9, 1, 0n, 0));
    if (late.apiKey !== ApiKey.Fetch) throw new Error('not a fetch response');
    expect(late.body.responses[0]!.partitions[0]!.highWatermark).toBe(2n);
    expect(late.body.responses[0]!.partitions[0]!.records!.length).toBeGreaterThan(0);
  });

  it('a follower told by EndQuorumEpoch that its leader stepped down stands at once', () => {
    const env = setup();
    env.clock.nowMs = 10;
    answer(env.core, wireRequest({ apiKey: ApiKey.BeginQuorumEpoch, body: { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0, leaderId: 2, leaderEpoch: 1 }] }] } }));
    expect(env.core.roleName).toBe('follower');
    expect(env.core.leaderId).toBe(2);
    env.clock.nowMs = 20;
    answer(env.core, wireRequest({ apiKey: ApiKey.EndQuorumEpoch, body: { topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0, leaderId: 2, leaderEpoch: 1, preferredSuccessors: [] }] }] } }));
    env.core.poll();
    // Well inside the fetch timeout (400 ms), which a crashed leader would have cost.
    expect(env.core.roleName).toBe('candidate');
    expect(env.core.epoch).toBe(2);
  });
});
