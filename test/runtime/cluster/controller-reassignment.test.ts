// Partition reassignment in the controller's pure logic (KIP-455): the replicas grow to the
// target plus the original, the reassignment completes once the ISR holds the whole target,
// cancellation restores the original replicas, and a new controller (a fresh ControllerLogic
// over an image replayed from the same records) carries a reassignment on.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { Outcome } from '../../../runtime/cluster/controller-logic.ts';
import type { MetadataImage } from '../../../runtime/cluster/metadata-image.ts';
import { controllerCluster } from '../../helpers/controller.ts';

/** A controller over a log that commits every outcome at once; the leader of t-0 can propose ISRs. */
function cluster() {
  const c = controllerCluster();
  /** The leader proposes an ISR, as its AlterPartition would. */
  const proposeIsr = (newIsr: number[]): Outcome => {
    const partition = c.image.partition('t', 0)!;
    return c.controller.alterPartition({
      brokerId: partition.leader, topicId: 'id-t', partition: 0, leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch, newIsr,
    });
  };
  return { ...c, proposeIsr };
}

const view = (image: MetadataImage) => {
  const p = image.partition('t', 0)!;
  return { replicas: p.replicas, isr: p.isr, leader: p.leader, adding: p.addingReplicas, removing: p.removingReplicas };
};

describe('partition reassignment (controller logic)', () => {
  it('adds the target replicas, waits for the ISR, then removes the others and elects a target leader', () => {
    const c = cluster();
    for (const id of [1, 2, 3, 4]) c.addBroker(id);
    c.expectOk(c.controller.createTopic('t', 1, 2, {}, 'id-t'));
    expect(view(c.image)).toMatchObject({ replicas: [1, 2], isr: [1, 2], leader: 1 });
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [2, 4] }));
    expect(view(c.image)).toEqual({ replicas: [2, 4, 1], isr: [1, 2], leader: 1, adding: [4], removing: [1] });
    expect(c.image.reassigning().map(({ partition }) => partition.partition)).toEqual([0]);
    // Not complete while 4 is out of the ISR: an ISR change alone.
    c.expectOk(c.proposeIsr([1]));
    expect(view(c.image)).toEqual({ replicas: [2, 4, 1], isr: [1], leader: 1, adding: [4], removing: [1] });
    // 2 and 4 catch up: the same change completes the reassignment and 1, the leader, leaves.
    const epochBefore = c.image.partition('t', 0)!.leaderEpoch;
    c.expectOk(c.proposeIsr([1, 2, 4]));
    expect(view(c.image)).toEqual({ replicas: [2, 4], isr: [2, 4], leader: 2, adding: [], removing: [] });
    expect(c.image.partition('t', 0)!.leaderEpoch).toBe(epochBefore + 1);
    expect(c.image.reassigning()).toEqual([]);
  });

  it('completes at once when the target is already in sync, keeping a leader that stays', () => {
    const c = cluster();
    for (const id of [1, 2, 3]) c.addBroker(id);
    c.expectOk(c.controller.createTopic('t', 1, 3, {}, 'id-t'));
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [1, 3] }));
    expect(view(c.image)).toEqual({ replicas: [1, 3], isr: [1, 3], leader: 1, adding: [], removing: [] });
    // The same target again changes nothing.
    expect(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [1, 3] }).records).toEqual([]);
  });

  it('cancels a reassignment back to the original replicas and refuses a cancel with none in progress', () => {
    const c = cluster();
    for (const id of [1, 2, 3, 4]) c.addBroker(id);
    c.expectOk(c.controller.createTopic('t', 1, 2, {}, 'id-t'));
    expect(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: null }).errorCode).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [3, 4] }));
    expect(view(c.image)).toMatchObject({ replicas: [3, 4, 1, 2], adding: [3, 4], removing: [1, 2] });
    // 3 joined the ISR, 4 did not: cancelling drops 3 from the ISR too.
    c.expectOk(c.proposeIsr([1, 2, 3]));
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: null }));
    expect(view(c.image)).toEqual({ replicas: [1, 2], isr: [1, 2], leader: 1, adding: [], removing: [] });
  });

  it('replaces a reassignment in progress, keeping the original replicas as the base', () => {
    const c = cluster();
    for (const id of [1, 2, 3, 4]) c.addBroker(id);
    c.expectOk(c.controller.createTopic('t', 1, 2, {}, 'id-t'));
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [1, 3] }));
    expect(view(c.image)).toMatchObject({ replicas: [1, 3, 2], adding: [3], removing: [2] });
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [1, 4] }));
    expect(view(c.image)).toMatchObject({ replicas: [1, 4, 2], adding: [4], removing: [2] });
  });

  it('refuses unknown partitions and bad target lists', () => {
    const c = cluster();
    for (const id of [1, 2, 3]) c.addBroker(id);
    c.expectOk(c.controller.createTopic('t', 1, 2, {}, 'id-t'));
    expect(c.controller.alterReassignment({ topic: 'u', partition: 0, replicas: [1] }).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(c.controller.alterReassignment({ topic: 't', partition: 1, replicas: [1] }).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    for (const replicas of [[], [1, 1], [1, 9]]) {
      const outcome = c.controller.alterReassignment({ topic: 't', partition: 0, replicas });
      expect(outcome.errorCode).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
      expect(outcome.records).toEqual([]);
    }
    // A fenced broker may not receive a replica.
    c.commit(c.controller.heartbeat({ brokerId: 3, brokerEpoch: c.image.brokers.get(3)!.brokerEpoch, wantFence: false, wantShutdown: true }, 1).records);
    expect(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [1, 3] }).errorMessage).toMatch(/fenced/);
  });

  it('is carried on by a new controller that replays the metadata log', () => {
    const c = cluster();
    for (const id of [1, 2, 3, 4]) c.addBroker(id);
    c.expectOk(c.controller.createTopic('t', 1, 2, {}, 'id-t'));
    c.expectOk(c.controller.alterReassignment({ topic: 't', partition: 0, replicas: [4, 2] }));
    const next = c.failover();
    expect(view(next.image)).toEqual({ replicas: [4, 2, 1], isr: [1, 2], leader: 1, adding: [4], removing: [1] });
    const p = next.image.partition('t', 0)!;
    const outcome = next.controller.alterPartition({ brokerId: 1, topicId: 'id-t', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [1, 2, 4] });
    expect(outcome.errorMessage).toBeNull();
    expect(outcome.records).toEqual([{ type: 'PartitionChange', topicId: 'id-t', partition: 0, replicas: [4, 2], isr: [2, 4], leader: 4, addingReplicas: [], removingReplicas: [] }]);
  });
});
