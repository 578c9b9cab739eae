// kafkajs 2.2's transactional producer and read_committed / read_uncommitted consumers against
// real broker processes: commit and abort, sendOffsets, a fenced zombie, a producer process
// SIGKILLed in the middle of a transaction, and a broker SIGKILLed under an open transaction.
import { spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, REPOSITORY_ROOT, startBroker, type BrokerProcess } from '../helpers/broker.ts';
import { RawConnection } from '../helpers/raw-connection.ts';
import { latestOffset } from '../runtime/broker/transaction-requests.ts';

afterAll(cleanup);

function client(broker: BrokerProcess, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function createTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(true);
  await admin.disconnect();
}

/** Reads the topic from the beginning until the sentinel value arrives; returns every value seen. */
async function consumeUntil(kafka: Kafka, topic: string, sentinel: string, readUncommitted: boolean): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${readUncommitted}`, readUncommitted, maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value!.toString()); } });
  await waitFor(() => values.includes(sentinel), 30_000);
  await consumer.disconnect();
  return values;
}

async function transactionalProducer(kafka: Kafka, transactionalId: string, transactionTimeout = 30_000) {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout });
  await producer.connect();
  return producer;
}

describe('kafkajs transactions', () => {
  it('shows read_committed consumers the committed transaction only, read_uncommitted both', async () => {
    const broker = await startBroker();
    const kafka = client(broker, 'tx-commit-abort');
    await createTopic(kafka, 'tx-orders');
    const producer = await transactionalProducer(kafka, 'orders-producer');
    const committed = await producer.transaction();
    await committed.send({ topic: 'tx-orders', messages: [{ value: 'c1' }, { value: 'c2' }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'tx-orders', messages: [{ value: 'a1' }, { value: 'a2' }] });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic: 'tx-orders', messages: [{ value: 'end' }] });
    await last.commit();
    await producer.disconnect();

    expect(await consumeUntil(kafka, 'tx-orders', 'end', false)).toEqual(['c1', 'c2', 'end']);
    expect(await consumeUntil(kafka, 'tx-orders', 'end', true)).toEqual(['c1', 'c2', 'a1', 'a2', 'end']);
    await broker.stop();
  });

  it('commits group offsets sent in a transaction only when it commits', async () => {
    const broker = await startBroker();
    const kafka = client(broker, 'tx-offsets');
    await createTopic(kafka, 'tx-input');
    const admin = kafka.admin();
    await admin.connect();
    const committedOffset = async () => (await admin.fetchOffsets({ groupId: 'eos-app', topics: ['tx-input'] }))[0]!.partitions[0]!.offset;
    const producer = await transactionalProducer(kafka, 'offsets-producer');
    const first = await producer.transaction();
    await first.send({ topic: 'tx-input', messages: [{ value: 'x' }] });
    await first.sendOffsets({ consumerGroupId: 'eos-app', topics: [{ topic: 'tx-input', partitions: [{ partition: 0, offset: '5' }] }] });
    expect(await committedOffset()).toBe('-1');
    await first.commit();
    expect(await committedOffset()).toBe('5');
    const second = await producer.transaction();
    await second.sendOffsets({ consumerGroupId: 'eos-app', topics: [{ topic: 'tx-input', partitions: [{ partition: 0, offset: '9' }] }] });
    await second.abort();
    expect(await committedOffset()).toBe('5');
    await producer.disconnect();
    await admin.disconnect();
    await broker.stop();
  });

  it('fences a zombie and aborts the transaction of a SIGKILLed producer after its timeout', async () => {
    const broker = await startBroker({ overrides: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200' } });
    const kafka = client(broker, 'tx-fencing');
    await createTopic(kafka, 'tx-fenced');
    await createTopic(kafka, 'tx-doomed');

    const zombie = await transactionalProducer(kafka, 'fenced-producer');
    const zombieTransaction = await zombie.transaction();
    await zombieTransaction.send({ topic: 'tx-fenced', messages: [{ value: 'zombie' }] });
    // kafkajs asks for the producer id of a transactional id on its first transaction().
    const successor = await transactionalProducer(kafka, 'fenced-producer');
    const successorTransaction = await successor.transaction();
    await expect(zombieTransaction.commit()).rejects.toThrow(/epoch/i);
    await successorTransaction.send({ topic: 'tx-fenced', messages: [{ value: 'successor' }] });
    await successorTransaction.commit();
    await Promise.all([zombie.disconnect(), successor.disconnect()]);
    expect(await consumeUntil(kafka, 'tx-fenced', 'successor', false)).toEqual(['successor']);

    await runAndKillProducer(broker);
    const connection = await RawConnection.connect(broker.port);
    expect(await latestOffset(connection, 'tx-doomed', 0, 0)).toBe(2n);
    // Until the 3 s timeout passes the open transaction holds the last stable offset at 0.
    expect(await latestOffset(connection, 'tx-doomed', 0, 1)).toBe(0n);
    await waitFor(async () => (await latestOffset(connection, 'tx-doomed', 0, 1)) === 3n, 15_000);
    connection.destroy();
    const next = await transactionalProducer(kafka, 'doomed-producer');
    const after = await next.transaction();
    await after.send({ topic: 'tx-doomed', messages: [{ value: 'after' }] });
    await after.commit();
    await next.disconnect();
    expect(await consumeUntil(kafka, 'tx-doomed', 'after', false)).toEqual(['after']);
    await broker.stop();
  });

  it('finishes a transaction that was open when the broker was SIGKILLed, all of it visible', async () => {
    let broker = await startBroker();
    const kafka = client(broker, 'tx-broker-crash');
    await createTopic(kafka, 'tx-survivor');
    const producer = await transactionalProducer(kafka, 'survivor-producer');
    const transaction = await producer.transaction();
    await transaction.send({ topic: 'tx-survivor', messages: [{ value: 's1' }, { value: 's2' }] });
    await broker.kill();
    broker = await broker.restart();
    await transaction.send({ topic: 'tx-survivor', messages: [{ value: 's3' }] });
    await transaction.commit();
    await producer.disconnect();
    expect(await consumeUntil(kafka, 'tx-survivor', 's3', false)).toEqual(['s1', 's2', 's3']);
    await broker.stop();
  }, 90_000);
});

/** A separate process opens a transaction on tx-doomed, writes two records and is SIGKILLed. */
async function runAndKillProducer(broker: BrokerProcess): Promise<void> {
  const script = `
    const { Kafka, logLevel } = require('kafkajs');
    (async () => {
      const kafka = new Kafka({ clientId: 'doomed', brokers: [process.env.BOOTSTRAP], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ transactionalId: 'doomed-producer', idempotent: true, maxInFlightRequests: 1, transactionTimeout: 3000 });
      await producer.connect();
      const transaction = await producer.transaction();
      await transaction.send({ topic: 'tx-doomed', messages: [{ value: 'doomed-1' }, { value: 'doomed-2' }] });
      process.stdout.write('sent\\n');
      setInterval(() => {}, 1000);
    })().catch((error) => { console.error(error); process.exit(1); });
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: REPOSITORY_ROOT, env: { ...process.env, BOOTSTRAP: broker.bootstrap }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('sent')) resolve(); });
    child.once('exit', (code) => reject(new Error(`producer process exited with ${code} before sending:\n${stderr}`)));
  });
  child.kill('SIGKILL');
  await exited;
}
