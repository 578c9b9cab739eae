// The leader's side of replication: a Fetch with a replica id comes from a follower. The
// leader notes the follower's fetch offset (its log end offset), moves the high watermark,
// and answers with batches up to its own log end, beyond the high watermark: followers copy
// everything, consumers see only what the ISR holds. A follower's fetch that finds nothing new
// waits in the purgatory under the partition's follower key until the next append.
import { ErrorCode } from '../../core/protocol/errors.ts';
import { followerKey, type PartitionState, type ReplicaManager } from './replica-manager.ts';
import { recordFollowerFetch } from './replication.ts';

export interface FollowerFetchPartition {
  topic: string;
  partition: number;
  fetchOffset: bigint;
  /** The leader epoch the follower believes in; -1 skips the check. */
  currentLeaderEpoch: number;
  partitionMaxBytes: number;
}

export interface FollowerFetchResult {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  records: Buffer | null;
}

export async function serveFollowerFetch(
  manager: ReplicaManager,
  replicaId: number,
  requests: readonly FollowerFetchPartition[],
  options: { maxWaitMs: number; maxBytes: number; nowMs: number },
): Promise<FollowerFetchResult[]> {
  const first = requests.map((request) => readForFollower(manager, replicaId, request, options.maxBytes, options.nowMs, true));
  const bytes = first.reduce((sum, result) => sum + (result.records?.length ?? 0), 0);
  const anyError = first.some((result) => result.errorCode !== ErrorCode.NONE);
  if (bytes > 0 || anyError || options.maxWaitMs <= 0 || requests.length === 0) return first;
  await new Promise<void>((resolve) => {
    manager.purgatory.park(requests.map((request) => followerKey(request.topic, request.partition)), 1, options.maxWaitMs, resolve);
  });
  return requests.map((request) => readForFollower(manager, replicaId, request, options.maxBytes, Date.now(), false));
}

function readForFollower(manager: ReplicaManager, replicaId: number, request: FollowerFetchPartition, maxBytes: number, nowMs: number, record: boolean): FollowerFetchResult {
  const state = manager.get(request.topic, request.partition);
  if (state === undefined) return followerFetchFailure(request, state, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const replication = state.replication;
  if (replication === undefined || replication.role !== 'leader' || !replication.replicas.includes(replicaId)) return followerFetchFailure(request, state, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  const epochProblem = leaderEpochProblem(state, request.currentLeaderEpoch);
  if (epochProblem !== ErrorCode.NONE) return followerFetchFailure(request, state, epochProblem);
  const { log } = state;
  if (request.fetchOffset > log.logEndOffset || request.fetchOffset < log.logStartOffset) return followerFetchFailure(request, state, ErrorCode.OFFSET_OUT_OF_RANGE);
  if (record) {
    recordFollowerFetch(replication, replicaId, request.fetchOffset, log.logEndOffset, nowMs);
    manager.advanceHighWatermark(state);
  }
  const limit = Math.min(request.partitionMaxBytes, maxBytes);
  const records = request.fetchOffset < log.logEndOffset
    ? log.read(request.fetchOffset, limit, { maxOffset: log.logEndOffset, minOneBatch: true }).records
    : Buffer.alloc(0);
  return { topic: request.topic, partition: request.partition, errorCode: ErrorCode.NONE, highWatermark: state.highWatermark, logStartOffset: log.logStartOffset, records };
}

function followerFetchFailure(request: FollowerFetchPartition, state: PartitionState | undefined, errorCode: number): FollowerFetchResult {
  return {
    topic: request.topic, partition: request.partition, errorCode, highWatermark: state?.highWatermark ?? -1n, logStartOffset: state?.log.logStartOffset ?? -1n, records: null,
  };
}

/** FENCED_LEADER_EPOCH for an older epoch than ours, UNKNOWN_LEADER_EPOCH for a newer one. */
export function leaderEpochProblem(state: PartitionState, currentLeaderEpoch: number): number {
  if (currentLeaderEpoch < 0 || currentLeaderEpoch === state.leaderEpoch) return ErrorCode.NONE;
  return currentLeaderEpoch < state.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
}
