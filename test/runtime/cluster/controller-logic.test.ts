import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { assignReplicas, rackAlternating } from '../../../runtime/cluster/controller-logic.ts';
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from '../../../runtime/cluster/metadata-records.ts';
import { controllerCluster } from '../../helpers/controller.ts';

const SESSION_MS = 1000;

/** A controller over an image, with a log that "commits" every outcome at once. */
const cluster = (options: { unclean?: boolean } = {}) => controllerCluster({ sessionTimeoutMs: SESSION_MS, ...options });

describe('metadata records', () => {
  it('round-trip through their wire form, bigints included', () => {
    const record: MetadataRecord = { type: 'BrokerRegistrationChange', brokerId: 3, brokerEpoch: 12345678901234n, fenced: false };
    expect(decodeMetadataRecord(encodeMetadataRecord(record).value as Buffer)).toEqual(record);
  });

  it('refuses a record that does not parse', () => {
    expect(() => decodeMetadataRecord(Buffer.from('{"type":"Partition","topicId":"x"}'))).toThrow(/bad metadata record/);
    expect(() => decodeMetadataRecord(Buffer.from('not json'))).toThrow(/not JSON/);
  });
});

describe('replica placement', () => {
  it('puts replica j of partition i on broker (i + j) mod n', () => {
    const brokers = [{ brokerId: 1 }, { brokerId: 2 }, { brokerId: 3 }];
    expect(assignReplicas(brokers, 0, 3)).toEqual([1, 2, 3]);
    expect(assignReplicas(brokers, 1, 3)).toEqual([2, 3, 1]);
    expect(assignReplicas(brokers, 4, 2)).toEqual([2, 3]);
  });

  it('alternates racks so that consecutive replicas sit on different racks', () => {
    const brokers = [
      { brokerId: 1, rack: 'a' }, { brokerId: 2, rack: 'a' }, { brokerId: 3, rack: 'b' }, { brokerId: 4, rack: 'b' }, { brokerId: 5, rack: 'c' },
    ];
    const ordered = rackAlternating(brokers);
    expect(ordered.map((b) => b.brokerId)).toEqual([1, 3, 5, 2, 4]);
    for (let partition = 0; partition < 10; partition++) {
      const replicas = assignReplicas(ordered, partition, 2);
      const racks = replicas.map((id) => brokers.find((b) => b.brokerId === id)!.rack);
      expect(new Set(racks).size).toBe(2);
    }
  });
});

describe('controller logic', () => {
  it('registers brokers fenced and unfences them on heartbeat', () => {
    const { image, controller, expectOk } = cluster();
    expectOk(controller.registerBroker({ brokerId: 1, incarnationId: 'a', host: 'h', port: 1, rack: null }, 0));
    expect(image.brokers.get(1)?.fenced).toBe(true);
    const epoch = image.brokers.get(1)!.brokerEpoch;
    const stale = controller.heartbeat({ brokerId: 1, brokerEpoch: epoch + 1n, wantFence: false, wantShutdown: false }, 1);
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    expectOk(controller.heartbeat({ brokerId: 1, brokerEpoch: epoch, wantFence: true, wantShutdown: false }, 1));
    expect(image.brokers.get(1)?.fenced).toBe(true);
    expectOk(controller.heartbeat({ brokerId: 1, brokerEpoch: epoch, wantFence: false, wantShutdown: false }, 2));
    expect(image.liveBrokers().map((b) => b.brokerId)).toEqual([1]);
  });

  it('creates topics with the placement rule and refuses a factor above the live brokers', () => {
    const { image, controller, expectOk, addBroker } = cluster();
    for (const id of [1, 2, 3]) addBroker(id, 0);
    expect(controller.createTopic('t', 3, 4, {}, 'id-t').errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
    expectOk(controller.createTopic('t', 3, 3, { 'min.insync.replicas': '2' }, 'id-t'));
    expect(controller.createTopic('t', 1, 1, {}, 'id-u').errorCode).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    const topic = image.topics.get('t')!;
    expect(topic.configs).toEqual({ 'min.insync.replicas': '2' });
    expect(topic.partitions.map((p) => [p.replicas, p.leader])).toEqual([[[1, 2, 3], 1], [[2, 3, 1], 2], [[3, 1, 2], 3]]);
  });

  it('fences a silent broker and elects new leaders from the ISR only', () => {
    const { image, controller, commit, addBroker, expectOk } = cluster();
    for (const id of [1, 2, 3]) addBroker(id, 0);
    expectOk(controller.createTopic('t', 3, 3, {}, 'id-t'));
    // Partition 1 lost broker 3 from its ISR earlier: it must not lead it.
    const p1 = image.partition('t', 1)!;
    expectOk(controller.alterPartition({ brokerId: 2, topicId: 'id-t', partition: 1, leaderEpoch: p1.leaderEpoch, partitionEpoch: p1.partitionEpoch, newIsr: [2] }));
    for (const id of [1, 3]) controller.heartbeat({ brokerId: id, brokerEpoch: image.brokers.get(id)!.brokerEpoch, wantFence: false, wantShutdown: false }, 900);
    expect(controller.expireSessions(999)).toEqual([]);
    commit(controller.expireSessions(1000));
    expect(image.brokers.get(2)?.fenced).toBe(true);
    const [q0, q1, q2] = image.topics.get('t')!.partitions;
    expect([q0!.leader, q0!.isr, q0!.leaderEpoch]).toEqual([1, [1, 3], 0]);
    // The sole ISR member died: no leader, and the ISR keeps it (no unclean election).
    expect([q1!.leader, q1!.isr, q1!.leaderEpoch]).toEqual([-1, [2], 1]);
    expect([q2!.leader, q2!.isr]).toEqual([3, [3, 1]]);
    // Broker 2 returns with a new registration; once unfenced it leads partition 1 again.
    addBroker(2, 1100);
    expect(image.partition('t', 1)!.leader).toBe(2);
    expect(image.partition('t', 1)!.leaderEpoch).toBe(2);
  });

  it('elects an out-of-ISR replica only with unclean election enabled', () => {
    const { image, controller, commit, addBroker, expectOk } = cluster({ unclean: true });
    for (const id of [1, 2]) addBroker(id, 0);
    expectOk(controller.createTopic('t', 1, 2, {}, 'id-t'));
    const p = image.partition('t', 0)!;
    expectOk(controller.alterPartition({ brokerId: 1, topicId: 'id-t', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, newIsr: [1] }));
    controller.heartbeat({ brokerId: 2, brokerEpoch: image.brokers.get(2)!.brokerEpoch, wantFence: false, wantShutdown: false }, 900);
    commit(controller.expireSessions(1000));
    expect([image.partition('t', 0)!.leader, image.partition('t', 0)!.isr]).toEqual([2, [2]]);
  });

  it('refuses stale or ineligible ISR proposals', () => {
    const { image, controller, addBroker, expectOk } = cluster();
    for (const id of [1, 2, 3]) addBroker(id, 0);
    expectOk(controller.createTopic('t', 1, 3, {}, 'id-t'));
    const p = image.partition('t', 0)!;
    const base = { brokerId: 1, topicId: 'id-t', partition: 0, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch };
    expect(controller.alterPartition({ ...base, brokerId: 2, newIsr: [2] }).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(controller.alterPartition({ ...base, partitionEpoch: 7, newIsr: [1] }).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect(controller.alterPartition({ ...base, leaderEpoch: 3, newIsr: [1] }).errorCode).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(controller.alterPartition({ ...base, newIsr: [2, 3] }).errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(controller.alterPartition({ ...base, newIsr: [1, 4] }).errorCode).toBe(ErrorCode.INELIGIBLE_REPLICA);
    const epochBefore = p.partitionEpoch;
    expectOk(controller.alterPartition({ ...base, newIsr: [1, 3] }));
    expect(image.partition('t', 0)!.isr).toEqual([1, 3]);
    expect(image.partition('t', 0)!.partitionEpoch).toBe(epochBefore + 1);
    expect(image.partition('t', 0)!.leaderEpoch).toBe(base.leaderEpoch);
  });

  it('gives every broker a fresh session when it becomes active', () => {
    const { image, controller, addBroker } = cluster();
    addBroker(1, 0);
    controller.activate(5000);
    expect(controller.expireSessions(5000 + SESSION_MS - 1)).toEqual([]);
    expect(controller.expireSessions(5000 + SESSION_MS).length).toBeGreaterThan(0);
    expect(image.brokers.get(1)?.fenced).toBe(false);
  });

  it('applies the same log to the same image on every node', () => {
    const first = cluster();
    for (const id of [1, 2, 3]) first.addBroker(id, 0);
    first.expectOk(first.controller.createTopic('t', 4, 2, {}, 'id-t'));
    first.commit(first.controller.expireSessions(5000));
    expect(first.failover().image).toEqual(first.image);
  });
});
