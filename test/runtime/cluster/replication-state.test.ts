import { describe, expect, it } from 'vitest';
import { EpochCache } from '../../../runtime/cluster/raft-log.ts';
import { desiredIsr, followerTruncationOffset, leaderHighWatermark, noteBatch, recordFollowerFetch, type PartitionReplication } from '../../../runtime/broker/replication.ts';

const LAG_MS = 1000;

function leaderState(isr: number[]): PartitionReplication {
  return {
    brokerId: 1, role: 'leader', leaderId: 1, partitionEpoch: 0, replicas: [1, 2, 3], isr, pendingIsr: null,
    followers: new Map(), epochs: new EpochCache(), leaderEpochStartOffset: 0n,
  };
}

describe('replication state', () => {
  it('puts the high watermark at the smallest log end offset of the ISR', () => {
    const replication = leaderState([1, 2, 3]);
    expect(leaderHighWatermark(replication, 100n)).toBe(0n);
    recordFollowerFetch(replication, 2, 80n, 100n, 0);
    recordFollowerFetch(replication, 3, 60n, 100n, 0);
    expect(leaderHighWatermark(replication, 100n)).toBe(60n);
    // Out of the ISR, a slow replica no longer holds the mark back.
    replication.isr = [1, 2];
    expect(leaderHighWatermark(replication, 100n)).toBe(80n);
    // A replica being added (pending ISR) holds it back again until it is in.
    replication.pendingIsr = [1, 2, 3];
    expect(leaderHighWatermark(replication, 100n)).toBe(60n);
  });

  it('counts a follower as caught up when it reaches the leader end seen at its previous fetch', () => {
    const replication = leaderState([1, 2, 3]);
    recordFollowerFetch(replication, 2, 100n, 100n, 10);
    expect(replication.followers.get(2)?.lastCaughtUpTimeMs).toBe(10);
    // The leader grew to 150 meanwhile; the follower fetched up to 100, the end at its last fetch.
    recordFollowerFetch(replication, 2, 100n, 150n, 20);
    expect(replication.followers.get(2)?.lastCaughtUpTimeMs).toBe(10);
    recordFollowerFetch(replication, 2, 150n, 200n, 30);
    expect(replication.followers.get(2)?.lastCaughtUpTimeMs).toBe(20);
    recordFollowerFetch(replication, 2, 160n, 200n, 40);
    expect(replication.followers.get(2)?.lastCaughtUpTimeMs).toBe(20);
  });

  it('shrinks the ISR after replica.lag.time.max.ms and expands it once a replica reaches the high watermark', () => {
    const replication = leaderState([1, 2, 3]);
    recordFollowerFetch(replication, 2, 100n, 100n, 0);
    recordFollowerFetch(replication, 3, 100n, 100n, 0);
    recordFollowerFetch(replication, 2, 200n, 200n, 900);
    expect(desiredIsr(replication, 100n, LAG_MS, LAG_MS)).toBeNull();
    expect(desiredIsr(replication, 100n, LAG_MS + 1, LAG_MS)).toEqual([1, 2]);
    replication.isr = [1, 2];
    // Replica 3 is behind the high watermark: it stays out.
    recordFollowerFetch(replication, 3, 150n, 250n, 1500);
    expect(desiredIsr(replication, 200n, 1500, LAG_MS)).toBeNull();
    recordFollowerFetch(replication, 3, 250n, 250n, 1600);
    expect(desiredIsr(replication, 200n, 1600, LAG_MS)).toEqual([1, 2, 3]);
    // Nothing is proposed while a proposal is in flight, or by a follower.
    replication.pendingIsr = [1, 2, 3];
    expect(desiredIsr(replication, 200n, 1600, LAG_MS)).toBeNull();
    replication.pendingIsr = null;
    replication.role = 'follower';
    expect(desiredIsr(replication, 200n, 1600, LAG_MS)).toBeNull();
  });

  it('admits a follower only past the start of the current leader epoch', () => {
    const replication = leaderState([1]);
    replication.leaderEpochStartOffset = 50n;
    recordFollowerFetch(replication, 2, 40n, 60n, 0);
    expect(desiredIsr(replication, 40n, 0, LAG_MS)).toBeNull();
    recordFollowerFetch(replication, 2, 55n, 60n, 1);
    expect(desiredIsr(replication, 40n, 1, LAG_MS)).toEqual([1, 2]);
  });
});

describe('follower epoch cache', () => {
  const header = (partitionLeaderEpoch: number, baseOffset: bigint) => ({ partitionLeaderEpoch, baseOffset }) as Parameters<typeof noteBatch>[1];

  it('forgets an epoch led without a batch once an older epoch continues the log', () => {
    const cache = new EpochCache();
    noteBatch(cache, header(3, 0n));
    // This replica led epoch 4 from offset 100 and wrote nothing; the next leader's log goes on with epoch 3.
    cache.assign(4, 100n);
    noteBatch(cache, header(3, 100n));
    noteBatch(cache, header(5, 105n));
    expect(cache.endOffsetForEpoch(3, 110n)).toEqual({ epoch: 3, endOffset: 105n });
    expect(cache.endOffsetForEpoch(4, 110n)).toEqual({ epoch: 3, endOffset: 105n });
    expect(cache.lastEpoch).toBe(5);
  });
});

describe('ISR expansion', () => {
  it('does not re-admit a replica from the progress of fetches it stopped sending', () => {
    const replication = leaderState([1, 2]);
    recordFollowerFetch(replication, 2, 100n, 100n, 0);
    recordFollowerFetch(replication, 3, 100n, 100n, 0);
    expect(desiredIsr(replication, 100n, LAG_MS / 2, LAG_MS)).toEqual([1, 2, 3]);
    expect(desiredIsr(replication, 100n, LAG_MS / 2 + 1, LAG_MS)).toBeNull();
  });
});

describe('follower truncation (KIP-101, KIP-279)', () => {
  const cache = (entries: [number, bigint][]): EpochCache => {
    const epochs = new EpochCache();
    for (const [epoch, start] of entries) epochs.assign(epoch, start);
    return epochs;
  };
  /** The leader's answer to OffsetForLeaderEpoch, as the handler computes it. */
  const leaderAnswer = (leader: EpochCache, leaderEpoch: number, leaderLogEnd: bigint, requested: number) =>
    requested > leaderEpoch ? { epoch: -1, endOffset: -1n } : leader.endOffsetForEpoch(requested, leaderLogEnd);

  it('cuts what an old leader appended while its follower was away, once the follower led', () => {
    // Broker 1 led epoch 1 and wrote 0-14, but 10-14 only after broker 2 went away. Broker 2 came
    // back with 0-9, led epoch 2 from offset 10 and wrote 10-12. Broker 1 now follows broker 2.
    const oldLeader = cache([[1, 0n]]);
    const newLeader = cache([[1, 0n], [2, 10n]]);
    const answer = leaderAnswer(newLeader, 2, 13n, oldLeader.lastEpoch);
    expect(answer).toEqual({ epoch: 1, endOffset: 10n });
    expect(followerTruncationOffset(oldLeader, 15n, 10n, answer.epoch, answer.endOffset)).toBe(10n);
  });

  it('keeps records the leader has, however the high watermark lags (the KIP-101 loss)', () => {
    // A follower that restarts with a high watermark behind its log end keeps its records.
    const follower = cache([[1, 0n]]);
    const leader = cache([[1, 0n]]);
    const answer = leaderAnswer(leader, 1, 20n, follower.lastEpoch);
    expect(followerTruncationOffset(follower, 15n, 3n, answer.epoch, answer.endOffset)).toBe(15n);
  });

  it('uses its own end of the epoch the leader answers with when that epoch is older (KIP-279)', () => {
    // Follower: epoch 1 from 0, then led epoch 3 from 10 (divergent). Leader: 1, 2 from 10, 4 from 12.
    const follower = cache([[1, 0n], [3, 10n]]);
    const leader = cache([[1, 0n], [2, 10n], [4, 12n]]);
    const answer = leaderAnswer(leader, 4, 16n, follower.lastEpoch);
    expect(answer).toEqual({ epoch: 2, endOffset: 12n });
    expect(followerTruncationOffset(follower, 15n, 10n, answer.epoch, answer.endOffset)).toBe(10n);
  });

  it('falls back to the high watermark when the leader knows none of its epochs', () => {
    expect(followerTruncationOffset(cache([[5, 0n]]), 15n, 7n, -1, -1n)).toBe(7n);
  });
});
