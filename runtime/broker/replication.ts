// A partition's replication state on one broker of a cluster, Kafka's way: the leader keeps
// each follower's log end offset and when it last caught up, and the high watermark is the
// smallest log end offset among the in-sync replicas. Followers copy the leader's batches with
// their offsets and leader epochs, and take the leader's high watermark (capped at their own
// log end). A single-node broker has no PartitionReplication at all and commits on append.
//
// The state is plain data owned by the ReplicaManager's partition; the cluster layer changes
// the role when the metadata image says so and proposes ISR changes to the controller.
import type { BatchHeader } from '../../core/records/header.ts';
import { iterateBatches } from '../../core/records/batch.ts';
import { EpochCache } from '../cluster/raft-log.ts';
import type { PartitionLog } from '../../state/log/partition-log.ts';

export interface FollowerProgress {
  /** The follower's log end offset: the offset of its last fetch. */
  logEndOffset: bigint;
  /** The last time the follower had everything the leader had (Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpTimeMs: number;
  /** When the previous fetch arrived and the leader's log end offset then. */
  lastFetchTimeMs: number;
  lastFetchLeaderLogEndOffset: bigint;
}

export interface PartitionReplication {
  /** This broker's id. */
  brokerId: number;
  role: 'leader' | 'follower';
  /** The leader broker, -1 when the partition has none. */
  leaderId: number;
  /** From the metadata image; AlterPartition names it. */
  partitionEpoch: number;
  replicas: number[];
  /** The committed in-sync replicas. */
  isr: number[];
  /**
   * An ISR proposal whose fate is not known yet; the high watermark waits for its members too
   * (KIP-497's maximal ISR). It is cleared only once the metadata shows the partition epoch
   * move past the proposal's, or the controller refused it outright: a proposal that timed out
   * may still commit, and a leader that forgot it could acknowledge records a new ISR member
   * lacks.
   */
  pendingIsr: number[] | null;
  /** Leader only: progress of the other replicas. */
  followers: Map<number, FollowerProgress>;
  /** The first offset of each leader epoch in this log, for OffsetForLeaderEpoch. */
  epochs: EpochCache;
  /** The log end offset when this broker became leader: a follower is in sync only past it. */
  leaderEpochStartOffset: bigint;
}

/** Builds the epoch cache of a partition log from its batch headers. */
export function loadEpochCache(log: PartitionLog): EpochCache {
  const cache = new EpochCache();
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = log.read(offset, 8 * 1024 * 1024, { minOneBatch: true });
    if (read.records.length === 0) break;
    const before = offset;
    for (const { header } of iterateBatches(read.records)) {
      noteBatch(cache, header);
      offset = header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
    }
    if (offset <= before) throw new Error(`assertion: epoch cache scan made no progress at ${before}`);
  }
  return cache;
}

export function noteBatch(cache: EpochCache, header: BatchHeader): void {
  // Batches written before any leader epoch carry -1; they belong to no epoch.
  if (header.partitionLeaderEpoch < 0) return;
  // An epoch this replica noted as leader without writing in it ends where the batch of an
  // older epoch continues the log: that epoch never had a batch here.
  if (header.partitionLeaderEpoch < cache.lastEpoch) cache.truncateFrom(header.baseOffset);
  if (header.partitionLeaderEpoch >= cache.lastEpoch) cache.assign(header.partitionLeaderEpoch, header.baseOffset);
}

/**
 * Where a follower cuts its log after asking the leader about its last epoch (KIP-101,
 * KIP-279): the leader answered the largest epoch it has at or below ours and where that epoch
 * ends in its log; the follower keeps the shorter of that and its own end of the same epoch.
 * An epoch the leader does not know (-1) leaves only what was committed here.
 */
export function followerTruncationOffset(epochs: EpochCache, logEndOffset: bigint, highWatermark: bigint, leaderEpoch: number, leaderEndOffset: bigint): bigint {
  if (leaderEpoch < 0) return highWatermark < logEndOffset ? highWatermark : logEndOffset;
  const local = epochs.endOffsetForEpoch(leaderEpoch, logEndOffset);
  let offset = local.endOffset < leaderEndOffset ? local.endOffset : leaderEndOffset;
  if (offset > logEndOffset) offset = logEndOffset;
  return offset;
}

/**
 * The leader's high watermark: the smallest log end offset of the in-sync replicas (the
 * pending ISR counts too, so a replica being added holds the mark until it is in).
 */
export function leaderHighWatermark(replication: PartitionReplication, logEndOffset: bigint): bigint {
  let mark = logEndOffset;
  const members = new Set([...replication.isr, ...(replication.pendingIsr ?? [])]);
  for (const replica of members) {
    if (replica === replication.brokerId) continue;
    const progress = replication.followers.get(replica);
    const end = progress?.logEndOffset ?? 0n;
    if (end < mark) mark = end;
  }
  return mark;
}

/** Records a follower's fetch at `fetchOffset` (Kafka's Replica.updateFetchState). */
export function recordFollowerFetch(replication: PartitionReplication, replicaId: number, fetchOffset: bigint, leaderLogEndOffset: bigint, nowMs: number): void {
  let progress = replication.followers.get(replicaId);
  if (progress === undefined) {
    progress = { logEndOffset: -1n, lastCaughtUpTimeMs: 0, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1n };
    replication.followers.set(replicaId, progress);
  }
  if (fetchOffset >= leaderLogEndOffset) progress.lastCaughtUpTimeMs = nowMs;
  else if (fetchOffset >= progress.lastFetchLeaderLogEndOffset) progress.lastCaughtUpTimeMs = Math.max(progress.lastCaughtUpTimeMs, progress.lastFetchTimeMs);
  progress.logEndOffset = fetchOffset;
  progress.lastFetchTimeMs = nowMs;
  progress.lastFetchLeaderLogEndOffset = leaderLogEndOffset;
}

/**
 * The ISR the leader should propose, or null when the current one is right: in-sync members
 * that have not caught up within `lagTimeMaxMs` leave; followers that reached the high
 * watermark (and the start of this leader's epoch) join.
 */
export function desiredIsr(replication: PartitionReplication, highWatermark: bigint, nowMs: number, lagTimeMaxMs: number): number[] | null {
  if (replication.role !== 'leader' || replication.pendingIsr !== null) return null;
  const isr = replication.isr.filter((replica) => {
    if (replica === replication.brokerId) return true;
    const progress = replication.followers.get(replica);
    // A follower not heard from since this broker became leader gets one lag period from then.
    return progress !== undefined && nowMs - progress.lastCaughtUpTimeMs <= lagTimeMaxMs;
  });
  // Only replicas outside the current ISR may join: one just dropped waits for the next round,
  // when the high watermark no longer waits for it. A replica must also be fetching now: the
  // progress of one that died (or restarted and has not fetched yet) is old news.
  for (const replica of replication.replicas) {
    if (replication.isr.includes(replica)) continue;
    const progress = replication.followers.get(replica);
    if (progress === undefined || nowMs - progress.lastFetchTimeMs > lagTimeMaxMs / 2) continue;
    if (progress.logEndOffset >= highWatermark && progress.logEndOffset >= replication.leaderEpochStartOffset) isr.push(replica);
  }
  const same = isr.length === replication.isr.length && isr.every((replica) => replication.isr.includes(replica));
  return same ? null : isr;
}
