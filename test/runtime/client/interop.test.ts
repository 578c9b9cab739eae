// A Runnel consumer and a kafkajs consumer (a client this project did not write) in one group:
// the "consumer" protocol bytes must be understood both ways for the group to work. kafkajs
// names its round-robin assigner differently, so it is offered under the Java name here.
import { Kafka, PartitionAssigners, logLevel, type PartitionAssigner } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer } from '../../../runtime/client/consumer.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker(); });
afterAll(cleanup);

const javaNamedRoundRobin: PartitionAssigner = (config) => ({ ...PartitionAssigners.roundRobin(config), name: 'roundrobin' });

describe('mixed group with kafkajs', () => {
  it('splits partitions between a Runnel member and a kafkajs member', async () => {
    const topic = 'mixed';
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic, numPartitions: 4 }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap });
    await producer.send({ topic, messages: Array.from({ length: 100 }, (_, index) => ({ key: `k${index}`, value: `v${index}` })) });
    await producer.close();

    const runnel = new Consumer({
      bootstrapServers: broker.bootstrap, groupId: 'mixed-group', partitionAssignors: ['roundrobin'],
      autoOffsetReset: 'earliest', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 200, fetchMaxWaitMs: 100,
    });
    runnel.subscribe({ topics: [topic] });
    const seen = new Set<string>();
    // The Runnel member joins first; kafkajs's arrival then starts a rebalance.
    for (const record of await runnel.poll({ timeoutMs: 500 })) seen.add(`${record.partition}:${record.offset}`);
    const kafka = new Kafka({ clientId: 'interop', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const other = kafka.consumer({ groupId: 'mixed-group', partitionAssigners: [javaNamedRoundRobin], sessionTimeout: 10_000, heartbeatInterval: 300 });
    let kafkajsPartitions: number[] = [];
    const joins: string[] = [];
    other.on(other.events.GROUP_JOIN, (event) => {
      kafkajsPartitions = event.payload.memberAssignment[topic] ?? [];
      joins.push(`${event.payload.isLeader ? 'leader' : 'follower'}:${kafkajsPartitions.join(',')}`);
    });
    await other.connect();
    await other.subscribe({ topic, fromBeginning: true });
    // kafkajs's run() waits for its join, which waits for the Runnel member to rejoin in poll.
    const running = other.run({ eachMessage: async ({ partition, message }) => {
      seen.add(`${partition}:${message.offset}`);
    } });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !(seen.size >= 100 && runnel.assignment().length === 2 && kafkajsPartitions.length === 2)) {
      for (const record of await runnel.poll({ timeoutMs: 200 })) seen.add(`${record.partition}:${record.offset}`);
    }
    await running;
    const runnelPartitions = runnel.assignment().map((entry) => entry.partition);
    expect(runnelPartitions).toHaveLength(2);
    // One join only: the Runnel member kept its session (heartbeats) through the rebalance.
    expect(joins).toHaveLength(1);
    // The Runnel member, first in the group, led it: kafkajs decoded the assignment it wrote.
    expect(joins[0]).toMatch(/^follower:/);
    expect([...kafkajsPartitions].sort()).toEqual([0, 1, 2, 3].filter((partition) => !runnelPartitions.includes(partition)));
    expect(seen.size).toBe(100);
    const [group] = await admin.describeGroups(['mixed-group']);
    expect(group?.protocol).toBe('roundrobin');
    expect(group?.members).toHaveLength(2);
    await other.disconnect();
    await runnel.close();
    await admin.close();
  });
});
