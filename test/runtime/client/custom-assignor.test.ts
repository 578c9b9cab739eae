// A partition assignor of the application's own, with user data both ways, run by Runnel's
// consumer against a real broker: each member tells the leader its weight in the subscription,
// the leader splits the partitions by weight and tells each member, in the assignment, the
// weight it read. The split and the echoed weights are only right if the user data crossed
// the broker in both directions. Also the membership under such an assignor: a member that
// misses its session is flagged lost and cannot commit, and joining again clears the flag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../../../runtime/client/cluster.ts';
import { GroupMembership } from '../../../runtime/client/group-membership.ts';
import { Admin, Consumer, KafkaProtocolError, Producer, type MemberAssignment, type PartitionAssignor } from '../../../runtime/client/index.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker({ overrides: { 'group.min.session.timeout.ms': '500' } }); });
afterAll(cleanup);

interface Heard {
  weightSeenByLeader: number;
  members: number;
  generationId: number;
}

/** Partitions of every subscribed topic in proportion to the members' weights (largest remainder). */
function weightedAssignor(weight: number, heard: Heard[]): PartitionAssignor {
  return {
    name: 'weighted',
    subscriptionUserData: () => Buffer.from(JSON.stringify({ weight })),
    assign: ({ partitionCounts }, subscriptions) => {
      const weights = [...subscriptions].map(([memberId, subscription]) => ({ memberId, weight: (JSON.parse(String(subscription.userData)) as { weight: number }).weight }));
      weights.sort((left, right) => right.weight - left.weight || left.memberId.localeCompare(right.memberId));
      const total = weights.reduce((sum, member) => sum + member.weight, 0);
      const result = new Map<string, MemberAssignment>();
      for (const member of weights) result.set(member.memberId, { partitions: [], userData: Buffer.from(JSON.stringify({ weight: member.weight, members: weights.length })) });
      for (const [topic, count] of [...partitionCounts].sort()) {
        let next = 0;
        for (const member of weights) {
          const share = Math.round((count * member.weight) / total);
          const partitions = Array.from({ length: Math.min(share, count - next) }, (_, index) => next + index);
          next += partitions.length;
          const entry = result.get(member.memberId) as MemberAssignment;
          result.set(member.memberId, { ...entry, partitions: [...entry.partitions, { topic, partitions }] });
        }
      }
      return result;
    },
    onAssignment: (assignment, generationId) => {
      const info = JSON.parse(String(assignment.userData)) as { weight: number; members: number };
      heard.push({ weightSeenByLeader: info.weight, members: info.members, generationId });
    },
  };
}

describe('a custom partition assignor', () => {
  it('sends subscription user data to the leader and assignment user data to every member', async () => {
    const topic = 'weighted';
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic, numPartitions: 8 }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap });
    await producer.send({ topic, messages: Array.from({ length: 80 }, (_, index) => ({ partition: index % 8, value: `v${index}` })) });
    await producer.close();

    const heardByHeavy: Heard[] = [];
    const heardByLight: Heard[] = [];
    const common = { bootstrapServers: broker.bootstrap, groupId: 'weighted-group', autoOffsetReset: 'earliest' as const, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 200, fetchMaxWaitMs: 100 };
    const heavy = new Consumer({ ...common, clientId: 'heavy', partitionAssignors: [weightedAssignor(3, heardByHeavy)] });
    const light = new Consumer({ ...common, clientId: 'light', partitionAssignors: [weightedAssignor(1, heardByLight)] });
    try {
      heavy.subscribe({ topics: [topic] });
      const seen = new Set<string>();
      for (const record of await heavy.poll({ timeoutMs: 1_000 })) seen.add(`${record.partition}:${record.offset}`);
      // Alone in the group, the heavy member was told its own weight and got every partition.
      expect(heardByHeavy[0]).toMatchObject({ weightSeenByLeader: 3, members: 1 });
      expect(heavy.assignment()).toHaveLength(8);

      light.subscribe({ topics: [topic] });
      // Each member polls on its own: the light member's join waits for the heavy one to rejoin.
      const deadline = Date.now() + 30_000;
      const settled = (): boolean => heavy.assignment().length === 6 && light.assignment().length === 2 && seen.size === 80;
      const pollUntilSettled = async (consumer: Consumer): Promise<void> => {
        while (Date.now() < deadline && !settled()) for (const record of await consumer.poll({ timeoutMs: 200 })) seen.add(`${record.partition}:${record.offset}`);
      };
      await Promise.all([pollUntilSettled(heavy), pollUntilSettled(light)]);
      const heavyPartitions = heavy.assignment().map((entry) => entry.partition).sort((left, right) => left - right);
      const lightPartitions = light.assignment().map((entry) => entry.partition).sort((left, right) => left - right);
      expect(heavyPartitions).toEqual([0, 1, 2, 3, 4, 5]);
      expect(lightPartitions).toEqual([6, 7]);
      expect(seen.size).toBe(80);

      // Each member heard, at the current generation, the weight the leader read from its subscription.
      const lastHeavy = heardByHeavy.at(-1);
      const lastLight = heardByLight.at(-1);
      expect(lastHeavy).toEqual({ weightSeenByLeader: 3, members: 2, generationId: heavy.groupMetadata().generationId });
      expect(lastLight).toEqual({ weightSeenByLeader: 1, members: 2, generationId: light.groupMetadata().generationId });
      expect(heavy.groupMetadata().generationId).toBeGreaterThan(heardByHeavy[0]?.generationId ?? Infinity);

      // Kafka's tools see a consumer group that chose the custom protocol.
      const [group] = await admin.describeGroups(['weighted-group']);
      expect(group).toMatchObject({ protocolType: 'consumer', protocol: 'weighted', state: 'Stable' });
      expect(group?.members.flatMap((member) => member.assignment.flatMap((entry) => entry.partitions)).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await light.close();
      await heavy.close();
      await admin.close();
    }
  });

  it('flags a member that missed its session as lost, refuses its commit, and clears the flag on the next join', async () => {
    const topic = 'lost-member';
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic, numPartitions: 2 }]);
    const cluster = new Cluster({
      bootstrapServers: [broker.bootstrap], clientId: 'lost-member', connectTimeoutMs: 10_000, requestTimeoutMs: 10_000,
      retryBackoffMs: 100, retries: 5, allowAutoTopicCreation: false, metadataMaxAgeMs: 300_000,
    });
    const heard: Heard[] = [];
    const membership = new GroupMembership(cluster, {
      groupId: 'lost-group', sessionTimeoutMs: 600, rebalanceTimeoutMs: 5_000, heartbeatIntervalMs: 100, requestTimeoutMs: 10_000, retryBackoffMs: 100,
      assignors: [weightedAssignor(1, heard)],
    });
    try {
      expect(await membership.join([topic])).toHaveLength(2);
      const generationId = membership.generationId;
      await membership.commit([{ topic, partition: 0, offset: 5n }], true);
      // No heartbeats: the coordinator expires the session and drops the member. Commits go on
      // being accepted until then, each one a new offset, and the first refused one must not land.
      membership.stopHeartbeats();
      let accepted = 5n;
      const refused = await (async () => {
        for (let offset = 6n; offset < 200n; offset++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          const error = await membership.commit([{ topic, partition: 0, offset }], true).then(() => null, (failure: unknown) => failure);
          if (error !== null) return error;
          accepted = offset;
        }
        return null;
      })();
      expect(refused).toBeInstanceOf(KafkaProtocolError);
      expect([22, 25]).toContain((refused as KafkaProtocolError).code);
      expect(membership.membershipLost).toBe(true);
      expect(membership.rejoinNeeded).toBe(true);
      expect((await admin.fetchGroupOffsets('lost-group', [topic])).find((entry) => entry.partition === 0)?.offset).toBe(accepted);

      expect(await membership.join([topic])).toHaveLength(2);
      expect(membership.membershipLost).toBe(false);
      expect(membership.generationId).toBeGreaterThan(generationId);
      expect(heard.at(-1)?.generationId).toBe(membership.generationId);
      await membership.commit([{ topic, partition: 0, offset: 500n }], true);
      expect((await admin.fetchGroupOffsets('lost-group', [topic])).find((entry) => entry.partition === 0)?.offset).toBe(500n);
      await membership.leave();
      expect((await admin.describeGroups(['lost-group']))[0]?.members).toHaveLength(0);
    } finally {
      membership.stopHeartbeats();
      await cluster.close();
      await admin.close();
    }
  });

  it('refuses a custom assignor without a name or an assign function', () => {
    expect(() => new Consumer({ bootstrapServers: '127.0.0.1:9092', groupId: 'g', partitionAssignors: [{ name: 'x' } as unknown as PartitionAssignor] })).toThrow(/partitionAssignors/);
  });
});
