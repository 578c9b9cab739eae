// Nodes with one role each, as larger Kafka clusters run them: three controller-only nodes form
// the metadata quorum and two broker-only nodes serve clients. Metadata lists the brokers and
// never a controller; kafkajs creates an RF=2 topic, produces with acks=all and consumes as a
// group; when the active controller is SIGKILLed, the other two elect a new one and the
// brokers keep serving and take new topics.
import { Kafka, logLevel, type Admin as KafkaAdmin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupCluster, eventually, startCluster, type TestCluster } from '../helpers/cluster.ts';

let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  // Two brokers: the internal topics get two replicas (they are created only once that many brokers live).
  cluster = await startCluster({
    nodes: 3, roles: { 1: 'controller', 2: 'controller', 3: 'controller' },
    overrides: { 'offsets.topic.replication.factor': '2', 'transaction.state.log.replication.factor': '2' },
  });
  expect(cluster.bootstrap).toEqual([]);
  const brokers = [await cluster.addBroker(4), await cluster.addBroker(5)];
  kafka = new Kafka({
    clientId: 'separate-roles', brokers: brokers.map((node) => `127.0.0.1:${node.port}`), logLevel: logLevel.NOTHING,
    requestTimeout: 4000, connectionTimeout: 2000, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  admin = kafka.admin();
  await admin.connect();
  await eventually('brokers 4 and 5 registered', async () => {
    const ids = (await admin.describeCluster()).brokers.map((broker) => broker.nodeId).sort();
    return ids.join(',') === '4,5' ? true : undefined;
  }, 30_000);
}, 120_000);

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
});

async function produceAndConsume(topic: string, count: number): Promise<string[]> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, index) => ({ key: `k${index % 7}`, value: `${topic}-${index}` })) });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `${topic}-readers`, sessionTimeout: 6000, heartbeatInterval: 500 });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value?.toString() ?? ''); } });
    await eventually(`${count} records of ${topic}`, () => (seen.length >= count ? true : undefined), 60_000);
  } finally {
    await consumer.disconnect();
  }
  return seen.sort();
}

/**
 * The active controller, from the quorum nodes' logs: the node that last logged taking the role
 * at the highest epoch. Clients cannot tell, since Metadata names a broker (see the first test).
 */
function activeController(): number | undefined {
  let found: { nodeId: number; epoch: number } | undefined;
  for (const nodeId of [1, 2, 3]) {
    if (!cluster.isRunning(nodeId)) continue;
    for (const match of cluster.node(nodeId).logText().matchAll(/active controller epoch=(\d+)/g)) {
      const epoch = Number(match[1]);
      if (found === undefined || epoch > found.epoch) found = { nodeId, epoch };
    }
  }
  return found?.nodeId;
}

const expected = (topic: string, count: number): string[] => Array.from({ length: count }, (_, index) => `${topic}-${index}`).sort();

describe('controller-only and broker-only nodes', () => {
  it('lists only the brokers, places replicas on them and serves kafkajs with acks=all', async () => {
    await admin.createTopics({ topics: [{ topic: 'roles-a', numPartitions: 2, replicationFactor: 2 }], waitForLeaders: true });
    const metadata = await admin.fetchTopicMetadata({ topics: ['roles-a'] });
    for (const partition of metadata.topics[0]?.partitions ?? []) expect([...partition.replicas].sort()).toEqual([4, 5]);
    // Clients send admin requests to the controller Metadata names; a controller-only node is
    // out of their reach, so (as in KRaft) a broker is named and forwards to the active one.
    expect([4, 5]).toContain((await admin.describeCluster()).controller);
    expect([1, 2, 3]).toContain(await eventually('the active controller in the logs', activeController));
    expect(await produceAndConsume('roles-a', 200)).toEqual(expected('roles-a', 200));
  });

  it('keeps serving after the active controller is SIGKILLed, and a new one creates topics', async () => {
    const before = await eventually('the active controller in the logs', activeController);
    await cluster.kill(before);
    const after = await eventually('a new active controller', () => activeController(), 30_000);
    expect([1, 2, 3]).toContain(after);
    expect(after).not.toBe(before);
    await admin.createTopics({ topics: [{ topic: 'roles-b', numPartitions: 1, replicationFactor: 2 }], waitForLeaders: true });
    expect(await produceAndConsume('roles-b', 100)).toEqual(expected('roles-b', 100));
  });
});
