// Runnel's transactional producer read by kafkajs 2.2 consumers: a read_committed kafkajs
// consumer sees exactly the committed transactions, a read_uncommitted one sees the aborted
// records too, and offsets the Runnel producer sent with a transaction are what a kafkajs
// consumer of the group resumes from.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { Admin } from '../../runtime/client/admin.ts';
import { Producer } from '../../runtime/client/producer.ts';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';

afterAll(cleanup);

function kafkajs(broker: BrokerProcess): Kafka {
  return new Kafka({ clientId: 'runnel-tx-compat', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

/** Reads the topic with a kafkajs consumer of `groupId` until the sentinel arrives. */
async function consumeUntil(kafka: Kafka, groupId: string, topic: string, sentinel: string, readUncommitted: boolean, fromBeginning = true): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning });
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value?.toString() ?? 'null'); } });
    const deadline = Date.now() + 30_000;
    while (!values.includes(sentinel)) {
      if (Date.now() > deadline) throw new Error(`sentinel ${sentinel} not read in time; read ${values.join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return values;
}

describe('Runnel transactions read by kafkajs', () => {
  it('shows a read_committed kafkajs consumer the committed records only, read_uncommitted all', async () => {
    const broker = await startBroker();
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    const producer = new Producer({ bootstrapServers: broker.bootstrap, 'transactional.id': 'compat-orders', lingerMs: 2 });
    try {
      await admin.createTopics([{ topic: 'compat-tx', numPartitions: 1 }, { topic: 'compat-tx-in', numPartitions: 1 }]);
      await producer.transaction(async (tx) => { await tx.send({ topic: 'compat-tx', messages: [{ value: 'c1' }, { value: 'c2' }] }); });
      await producer.beginTransaction();
      await producer.send({ topic: 'compat-tx', messages: [{ value: 'a1' }, { value: 'a2' }] });
      await producer.abortTransaction();
      await producer.transaction(async (tx) => {
        await tx.send({ topic: 'compat-tx', messages: [{ value: 'c3' }] });
        // The group resumes at offset 1 of the input topic only because this transaction commits.
        await tx.sendOffsets([{ topic: 'compat-tx-in', partition: 0, offset: 1n }], 'compat-resume');
      });
      const kafka = kafkajs(broker);
      expect(await consumeUntil(kafka, 'compat-committed', 'compat-tx', 'c3', false)).toEqual(['c1', 'c2', 'c3']);
      expect(await consumeUntil(kafka, 'compat-uncommitted', 'compat-tx', 'c3', true)).toEqual(['c1', 'c2', 'a1', 'a2', 'c3']);

      const seed = new Producer({ bootstrapServers: broker.bootstrap });
      await seed.send({ topic: 'compat-tx-in', messages: [{ value: 'skipped' }, { value: 'resumed' }] });
      await seed.close();
      expect(await consumeUntil(kafka, 'compat-resume', 'compat-tx-in', 'resumed', false)).toEqual(['resumed']);
    } finally {
      await producer.close();
      await admin.close();
      await broker.stop();
    }
  }, 90_000);
});
