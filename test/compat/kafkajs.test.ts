// kafkajs 2.2 against a real broker process: topics, keyed produce, a two-member consumer group,
// committed offsets, and a SIGKILL + restart in the middle with nothing lost or read twice.
import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';

afterAll(cleanup);

interface Seen { partition: number; offset: bigint; key: string; value: string; member: number }

function client(broker: BrokerProcess, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
}

async function startConsumers(consumers: Consumer[], seen: Seen[], topic: string): Promise<void> {
  await Promise.all(consumers.map(async (consumer, member) => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: EachMessagePayload) => {
        seen.push({ partition, offset: BigInt(message.offset), key: message.key!.toString(), value: message.value!.toString(), member });
      },
    });
  }));
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
}

function checkOrder(seen: Seen[]): void {
  const lastOffset = new Map<number, bigint>();
  const lastSequence = new Map<string, number>();
  for (const record of seen) {
    const previous = lastOffset.get(record.partition);
    if (previous !== undefined) expect(record.offset).toBeGreaterThan(previous);
    lastOffset.set(record.partition, record.offset);
    const sequence = Number(record.value.split('-')[1]);
    const before = lastSequence.get(record.key);
    if (before !== undefined) expect(sequence).toBeGreaterThan(before);
    lastSequence.set(record.key, sequence);
  }
}

describe('kafkajs 2.2', () => {
  it('runs a keyed produce, a two-member group and resumes from committed offsets after SIGKILL', async () => {
    let broker = await startBroker();
    const topic = 'orders';
    const kafka = client(broker, 'compat-admin');
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })).toBe(true);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]!.partitions).toHaveLength(3);
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    const send = async (from: number, to: number) => {
      const messages = [];
      for (let index = from; index < to; index++) messages.push({ key: `key-${index % 30}`, value: `value-${index}` });
      await producer.send({ topic, messages, acks: -1 });
    };
    // Both members join before any record exists, so the split of partitions is settled first.
    const firstRound: Seen[] = [];
    const members = [0, 1].map(() => kafka.consumer({ groupId: 'compat-group', sessionTimeout: 10_000, heartbeatInterval: 500 }));
    await startConsumers(members, firstRound, topic);
    const groupAdmin = kafka.admin();
    await groupAdmin.connect();
    await waitFor(async () => {
      const { groups } = await groupAdmin.describeGroups(['compat-group']);
      return groups[0]?.state === 'Stable' && groups[0].members.length === 2;
    }, 30_000);
    await groupAdmin.disconnect();
    await send(0, 300);
    await waitFor(() => firstRound.length >= 300, 40_000);
    expect(firstRound).toHaveLength(300);
    expect(new Set(firstRound.map((r) => r.value)).size).toBe(300);
    checkOrder(firstRound);
    // Two members share three partitions, so each owns at least one of them.
    expect(new Set(firstRound.map((r) => r.member)).size).toBe(2);
    await Promise.all(members.map((consumer) => consumer.disconnect()));

    // Acknowledged but not yet consumed when the broker dies.
    await send(300, 450);
    await producer.disconnect();
    await broker.kill();
    broker = await broker.restart();

    const afterRestart = client(broker, 'compat-restarted');
    const offsetsAdmin = afterRestart.admin();
    await offsetsAdmin.connect();
    const committed = await offsetsAdmin.fetchOffsets({ groupId: 'compat-group', topics: [topic] });
    const committedTotal = committed[0]!.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committedTotal).toBe(300);

    // One member resumes the group alone, from the offsets committed before the crash.
    const secondRound: Seen[] = [];
    const resumed = [afterRestart.consumer({ groupId: 'compat-group', sessionTimeout: 10_000, heartbeatInterval: 500 })];
    await startConsumers(resumed, secondRound, topic);
    await waitFor(() => secondRound.length >= 150, 40_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all(resumed.map((consumer) => consumer.disconnect()));
    const values = secondRound.map((r) => Number(r.value.split("-")[1])).sort((a, b) => a - b);
    expect(values).toEqual(Array.from({ length: 150 }, (_, index) => 300 + index));
    checkOrder(secondRound);

    const finalOffsets = await offsetsAdmin.fetchOffsets({ groupId: 'compat-group', topics: [topic] });
    const latest = await offsetsAdmin.fetchTopicOffsets(topic);
    for (const partition of latest) {
      expect(finalOffsets[0]!.partitions.find((p) => p.partition === partition.partition)!.offset).toBe(partition.high);
    }
    await offsetsAdmin.disconnect();
    await broker.stop();
  }, 120_000);
});
