// The Runnel client and kafkajs 2.2 read each other's records through the Runnel broker: Runnel
// producer (idempotent, gzip, the one codec kafkajs reads without plugins) -> kafkajs consumer
// group, and kafkajs producer (uncompressed) -> Runnel consumer group. Keys, values, headers and timestamps arrive intact, and each key lands
// on the same partition whichever client wrote it (murmur2, as the Java client does).
import { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../runtime/client/admin.ts';
import { Consumer } from '../../runtime/client/consumer.ts';
import { Producer } from '../../runtime/client/producer.ts';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';

const PARTITIONS = 6;
const COUNT = 300;
let broker: BrokerProcess;
let kafka: Kafka;

beforeAll(async () => {
  broker = await startBroker();
  kafka = new Kafka({ clientId: 'crosscompat', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
  const admin = new Admin({ bootstrapServers: broker.bootstrap });
  await admin.createTopics([{ topic: 'runnel-to-kafkajs', numPartitions: PARTITIONS }, { topic: 'kafkajs-to-runnel', numPartitions: PARTITIONS }, { topic: 'transactions', numPartitions: 1 }]);
  await admin.close();
});

afterAll(cleanup);

interface Received { key: string; value: string; partition: number; header: string; timestamp: string }

const keyOf = (index: number): string => `customer-${index % 37}`;

/** Keys written by both clients must map to one partition each, and the same one. */
function partitionsByKey(records: readonly Received[]): Map<string, number> {
  const byKey = new Map<string, number>();
  for (const record of records) {
    const known = byKey.get(record.key);
    expect(known === undefined || known === record.partition).toBe(true);
    byKey.set(record.key, record.partition);
  }
  return byKey;
}

let runnelPlacement: Map<string, number>;

describe('Runnel client and kafkajs', () => {
  it('a kafkajs consumer group reads what the Runnel producer wrote', async () => {
    const producer = new Producer({ bootstrapServers: broker.bootstrap, compression: 'gzip', lingerMs: 2 });
    const sent = await producer.send({
      topic: 'runnel-to-kafkajs',
      messages: Array.from({ length: COUNT }, (_, index) => ({ key: keyOf(index), value: `value-${index}`, headers: { origin: 'runnel' }, timestamp: 1_700_000_000_000 + index })),
    });
    await producer.close();
    expect(producer.options.idempotent).not.toBe(false);
    const consumer = kafka.consumer({ groupId: 'kafkajs-reads-runnel', maxWaitTimeInMs: 100 });
    const received: Received[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'runnel-to-kafkajs', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', partition, header: message.headers?.['origin']?.toString() ?? '', timestamp: message.timestamp });
      },
    });
    const deadline = Date.now() + 20_000;
    while (received.length < COUNT && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await consumer.disconnect();
    expect(received).toHaveLength(COUNT);
    received.sort((a, b) => Number(a.value.split('-')[1]) - Number(b.value.split('-')[1]));
    expect(received.map((record) => record.value)).toEqual(Array.from({ length: COUNT }, (_, index) => `value-${index}`));
    expect(received.every((record, index) => record.key === keyOf(index) && record.header === 'runnel' && record.timestamp === String(1_700_000_000_000 + index))).toBe(true);
    // What kafkajs saw agrees with what the Runnel producer reported.
    expect(received.map((record) => record.partition)).toEqual(sent.map((metadata) => metadata.partition));
    runnelPlacement = partitionsByKey(received);
    // kafkajs's own partitioner (the Java-compatible one) agrees on every key.
    const javaCompatible = Partitioners.DefaultPartitioner();
    for (const [key, partition] of runnelPlacement) {
      expect(javaCompatible({ topic: 'runnel-to-kafkajs', partitionMetadata: Array.from({ length: PARTITIONS }, (_, id) => ({ partitionId: id, leader: 1 })) as never, message: { key, value: null } })).toBe(partition);
    }
  });

  it('a Runnel consumer group reads what the kafkajs producer wrote, keys on the same partitions', async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: 'kafkajs-to-runnel',
      compression: CompressionTypes.None,
      messages: Array.from({ length: COUNT }, (_, index) => ({ key: keyOf(index), value: `value-${index}`, headers: { origin: 'kafkajs' }, timestamp: String(1_700_000_000_000 + index) })),
    });
    await producer.disconnect();
    const consumer = new Consumer({ bootstrapServers: broker.bootstrap, groupId: 'runnel-reads-kafkajs', autoOffsetReset: 'earliest', fetchMaxWaitMs: 100 });
    consumer.subscribe({ topics: ['kafkajs-to-runnel'] });
    const received: Received[] = [];
    const deadline = Date.now() + 20_000;
    while (received.length < COUNT && Date.now() < deadline) {
      for (const record of await consumer.poll({ timeoutMs: 200 })) {
        const header = record.headers.find((entry) => entry.key === 'origin')?.value?.toString() ?? '';
        received.push({ key: record.key?.toString() ?? '', value: record.value?.toString() ?? '', partition: record.partition, header, timestamp: String(record.timestamp) });
      }
    }
    await consumer.commit();
    await consumer.close();
    expect(received).toHaveLength(COUNT);
    received.sort((a, b) => Number(a.value.split('-')[1]) - Number(b.value.split('-')[1]));
    expect(received.every((record, index) => record.value === `value-${index}` && record.key === keyOf(index) && record.header === 'kafkajs' && record.timestamp === String(1_700_000_000_000 + index))).toBe(true);
    const kafkajsPlacement = partitionsByKey(received);
    expect(kafkajsPlacement).toEqual(runnelPlacement);
  });

  it('a read_committed Runnel consumer sees only committed transactions of a kafkajs producer', async () => {
    const producer = kafka.producer({ transactionalId: 'crosscompat-tx', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (const [value, outcome] of [['committed-1', 'commit'], ['aborted-1', 'abort'], ['committed-2', 'commit']] as const) {
      const transaction = await producer.transaction();
      await transaction.send({ topic: 'transactions', messages: [{ value }] });
      if (outcome === 'commit') await transaction.commit();
      else await transaction.abort();
    }
    await producer.disconnect();
    const read = async (isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<string[]> => {
      const consumer = new Consumer({ bootstrapServers: broker.bootstrap, isolationLevel, fetchMaxWaitMs: 100 });
      consumer.assign([{ topic: 'transactions', partition: 0, offset: 0n }]);
      const values: string[] = [];
      const deadline = Date.now() + 10_000;
      // Three records and three markers: the position passes the last marker at offset 5.
      while ((consumer.positions()[0]?.offset ?? 0n) < 6n && Date.now() < deadline) {
        for (const record of await consumer.poll({ timeoutMs: 200 })) values.push(record.value?.toString() ?? '');
      }
      await consumer.close();
      return values;
    };
    expect(await read('read_committed')).toEqual(['committed-1', 'committed-2']);
    expect(await read('read_uncommitted')).toEqual(['committed-1', 'aborted-1', 'committed-2']);
  });
});
