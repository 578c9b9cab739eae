// @platformatic/kafka 1.35 (the newest that runs on Node 20) against a real broker process:
// admin, produce and a group consumer reading everything back.
import { Admin, Consumer, MessagesStreamModes, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker(); });
afterAll(cleanup);

describe('@platformatic/kafka 1.35', () => {
  it('creates a topic, produces and consumes in a group', async () => {
    const topic = 'platformatic-events';
    const admin = new Admin({ clientId: 'pk-admin', bootstrapBrokers: [broker.bootstrap] });
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    const metadata = await admin.metadata({ topics: [topic] });
    expect(metadata.topics.get(topic)?.partitionsCount).toBe(2);
    await admin.close();

    const producer = new Producer({ clientId: 'pk-producer', bootstrapBrokers: [broker.bootstrap], serializers: stringSerializers });
    const messages = Array.from({ length: 100 }, (_, index) => ({ topic, key: `user-${index % 10}`, value: `event-${index}`, headers: { source: 'test' } }));
    const result = await producer.send({ messages });
    expect(result.offsets?.length ?? 0).toBeGreaterThan(0);
    await producer.close();

    const consumer = new Consumer({ groupId: 'pk-group', clientId: 'pk-consumer', bootstrapBrokers: [broker.bootstrap], deserializers: stringDeserializers });
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: true, sessionTimeout: 10_000, heartbeatInterval: 500 });
    const received: { key: string; value: string; source: string | undefined }[] = [];
    for await (const message of stream) {
      received.push({ key: message.key, value: message.value, source: message.headers.get('source') });
      if (received.length === 100) break;
    }
    await stream.close();
    await consumer.close();
    expect(received.map((r) => r.value).sort()).toEqual(messages.map((m) => m.value).sort());
    expect(received.every((r) => r.source === 'test')).toBe(true);
  }, 60_000);
});
