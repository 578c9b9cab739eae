// The plan `runnel topics reassign --rebalance-onto <ids>` sends: each new broker gets about its
// share of all replicas, counting every broker of the cluster, taken from the busiest brokers,
// with leaders left where they are.
import { describe, expect, it } from 'vitest';
import type { TopicDescription } from '../../../runtime/client/admin.ts';
import { rebalancePlan } from '../../../runtime/cli/topics-command.ts';

function loadAfter(topics: readonly TopicDescription[], plan: ReturnType<typeof rebalancePlan>): Map<number, number> {
  const load = new Map<number, number>();
  for (const described of topics) {
    for (const partition of described.partitions) {
      const replicas = plan.find((move) => move.topic === described.name && move.partition === partition.partition)?.to ?? partition.replicas;
      for (const replica of replicas) load.set(replica, (load.get(replica) ?? 0) + 1);
    }
  }
  return load;
}

function topic(name: string, assignments: number[][], leaders: number[] = []): TopicDescription {
  return {
    name, topicId: `id-${name}`, internal: false,
    partitions: assignments.map((replicas, partition) => ({ partition, leader: leaders[partition] ?? replicas[0] as number, replicas, isr: replicas, offlineReplicas: [] })),
  };
}

describe('rebalance plan', () => {
  it('gives a new broker its share of replicas from the busiest brokers, keeping leaders', () => {
    // 6 partitions of RF 2 on brokers 1-3: 12 replicas, 4 each; with broker 4 the share is 3.
    const topics = [topic('t', [[1, 2], [2, 3], [3, 1], [1, 2], [2, 3], [3, 1]])];
    const plan = rebalancePlan(topics, [4]);
    expect(plan).toHaveLength(3);
    const load = new Map<number, number>();
    const after = topics[0]!.partitions.map((partition) => plan.find((move) => move.partition === partition.partition)?.to ?? partition.replicas);
    for (const replicas of after) for (const replica of replicas) load.set(replica, (load.get(replica) ?? 0) + 1);
    expect([...load.entries()].sort()).toEqual([[1, 3], [2, 3], [3, 3], [4, 3]]);
    for (const move of plan) {
      expect(move.to[0]).toBe(move.from[0]);
      expect(new Set(move.to).size).toBe(move.to.length);
    }
  });

  it('replaces a follower, not the current leader, when the leader is not the first replica', () => {
    // Broker 2 leads partitions 0 and 1 (0 after a failover) and is the busiest, yet stays:
    // the replica taken is a follower, on 3 (broker 1 has just one).
    const plan = rebalancePlan([topic('t', [[1, 2], [2, 3], [3, 2]], [2, 2, 3])], [4]);
    expect(plan).toEqual([{ topic: 't', partition: 1, from: [2, 3], to: [2, 4] }]);
  });

  it('moves nothing when the broker already has its share', () => {
    expect(rebalancePlan([topic('t', [[1, 4], [4, 2], [3, 1], [2, 3]])], [4])).toEqual([]);
  });

  it('moves the sole replica of an RF=1 partition', () => {
    const plan = rebalancePlan([topic('t', [[1], [1], [2], [2]])], [3]);
    expect(plan.map((move) => move.to)).toEqual([[3]]);
  });

  it('counts the other empty brokers of the cluster in the share', () => {
    // 12 replicas on brokers 1-3 and two empty brokers, 4 and 5: the share is 2, not 3.
    const topics = [topic('t', [[1, 2], [2, 3], [3, 1], [1, 2], [2, 3], [3, 1]])];
    expect(loadAfter(topics, rebalancePlan(topics, [4], [1, 2, 3, 4, 5])).get(4)).toBe(2);
    // Both at once: one move per partition, leaders and replica order kept, no broker twice.
    const plan = rebalancePlan(topics, [4, 5], [1, 2, 3, 4, 5]);
    const load = loadAfter(topics, plan);
    expect([load.get(4), load.get(5)]).toEqual([2, 2]);
    expect([load.get(1), load.get(2), load.get(3)].sort()).toEqual([2, 3, 3]);
    expect(new Set(plan.map((move) => move.partition)).size).toBe(plan.length);
    for (const move of plan) {
      expect(move.to[0]).toBe(move.from[0]);
      expect(new Set(move.to).size).toBe(move.to.length);
    }
  });
});
