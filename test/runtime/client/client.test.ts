// Producer, consumer and admin against a real broker process on a loopback port.
import { Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer, type ConsumerRecord, type TopicPartition } from '../../../runtime/client/consumer.ts';
import { KafkaProtocolError } from '../../../runtime/client/errors.ts';
import { Producer, type CompressionName } from '../../../runtime/client/producer.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';

let broker: BrokerProcess;
let admin: Admin;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  broker = await startBroker();
  admin = new Admin({ bootstrapServers: broker.bootstrap });
});

afterAll(async () => {
  await Promise.allSettled(open.map((client) => client.close()));
  await admin.close();
  await cleanup();
});

function producer(options: Record<string, unknown> = {}): Producer {
  const created = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 2, ...options });
  open.push(created);
  return created;
}

function consumer(options: Record<string, unknown> = {}): Consumer {
  const created = new Consumer({ bootstrapServers: broker.bootstrap, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, fetchMaxWaitMs: 100, ...options });
  open.push(created);
  return created;
}

async function readAll(reader: Consumer, count: number, timeoutMs = 15_000): Promise<ConsumerRecord[]> {
  const records: ConsumerRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (records.length < count && Date.now() < deadline) records.push(...(await reader.poll({ timeoutMs: 200 })));
  return records;
}

describe('producer and consumer', () => {
  const codecs: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  it.each(codecs)('round-trips keys, values, headers and timestamps with %s', async (compression) => {
    const topic = `codec-${compression}`;
    await admin.createTopics([{ topic, numPartitions: 2 }]);
    const writer = producer({ compression });
    const messages = Array.from({ length: 40 }, (_, index) => ({
      key: index % 5 === 0 ? null : `key-${index}`,
      value: index === 7 ? null : `value-${index}-${'z'.repeat(index)}`,
      headers: { index: String(index), binary: Buffer.from([index, 255]) },
      timestamp: 1_700_000_000_000 + index,
    }));
    const metadata = await writer.send({ topic, messages });
    expect(metadata).toHaveLength(40);
    const reader = consumer();
    reader.assign([{ topic, partition: 0, offset: 0n }, { topic, partition: 1, offset: 0n }]);
    const records = await readAll(reader, 40);
    expect(records).toHaveLength(40);
    for (const [index, sent] of metadata.entries()) {
      const record = records.find((candidate) => candidate.partition === sent.partition && candidate.offset === sent.offset);
      const message = messages[index]!;
      expect(record?.key?.toString() ?? null).toBe(message.key);
      expect(record?.value?.toString() ?? null).toBe(message.value);
      expect(record?.timestamp).toBe(BigInt(message.timestamp));
      expect(record?.headers).toEqual([{ key: 'index', value: Buffer.from(String(index)) }, { key: 'binary', value: Buffer.from([index, 255]) }]);
    }
  });

  it('puts 10,000 keys on the partitions kafkajs DefaultPartitioner picks', async () => {
    const topic = 'keyed';
    await admin.createTopics([{ topic, numPartitions: 6 }]);
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 6 }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }));
    const messages = Array.from({ length: 10_000 }, (_, index) => ({ key: `customer-${index * 7919}`, value: String(index) }));
    const metadata = await producer({ batchSize: 65_536 }).send({ topic, messages });
    const expected = messages.map((message) => partitioner({ topic, partitionMetadata, message: { key: Buffer.from(message.key), value: null } }));
    expect(metadata.map((entry) => entry.partition)).toEqual(expected);
    const ends = await admin.listOffsets(topic, 'latest');
    for (const end of ends) expect(end.offset).toBe(BigInt(expected.filter((partition) => partition === end.partition).length));
  });

  it('sendAcknowledged writes what send() would, in order, interleaved with send() calls, and resolves with nothing', async () => {
    const topic = 'acknowledged';
    await admin.createTopics([{ topic, numPartitions: 2 }]);
    const writer = producer();
    const pending: Promise<unknown>[] = [];
    for (let call = 0; call < 6; call++) {
      const messages = Array.from({ length: 50 }, (_, index) => ({ key: `key-${index % 7}`, value: `${call}-${index}`, timestamp: 1_700_000_000_000 + index }));
      pending.push(call % 2 === 0 ? writer.sendAcknowledged({ topic, messages }) : writer.send({ topic, messages }));
    }
    const results = await Promise.all(pending);
    expect(results.filter((result) => result === undefined)).toHaveLength(3);
    const reader = consumer();
    reader.assign([{ topic, partition: 0, offset: 0n }, { topic, partition: 1, offset: 0n }]);
    const records = await readAll(reader, 300);
    expect(records).toHaveLength(300);
    // Per key (so per partition) in the order the calls were made.
    for (let key = 0; key < 7; key++) {
      const values = records.filter((record) => record.key?.toString() === `key-${key}`).map((record) => record.value?.toString());
      const expected = Array.from({ length: 6 }, (_, call) => Array.from({ length: 50 }, (_, index) => index).filter((index) => index % 7 === key).map((index) => `${call}-${index}`)).flat();
      expect(values).toEqual(expected);
    }
    // A send to a topic that does not exist fails the same way with or without metadata.
    const strict = producer({ allowAutoTopicCreation: false, maxBlockMs: 500 });
    await expect(strict.sendAcknowledged({ topic: 'acknowledged-missing', messages: [{ value: 'x' }] })).rejects.toThrow();
  });

  it('honours acks 0, 1 and all', async () => {
    const topic = 'acks';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const one = await producer({ acks: 1 }).send({ topic, messages: [{ value: 'a' }] });
    const all = await producer({ acks: 'all' }).send({ topic, messages: [{ value: 'b' }] });
    const none = producer({ acks: 0 });
    const fireAndForget = await none.send({ topic, messages: [{ value: 'c' }] });
    expect(one[0]?.offset).toBe(0n);
    expect(all[0]?.offset).toBe(1n);
    expect(fireAndForget[0]?.offset).toBe(-1n);
    await none.flush();
    const deadline = Date.now() + 5_000;
    let end = 0n;
    while (end < 3n && Date.now() < deadline) end = (await admin.listOffsets(topic, 'latest'))[0]?.offset ?? 0n;
    expect(end).toBe(3n);
  });

  it('seeks, and reads from the latest offset by default', async () => {
    const topic = 'seek';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const writer = producer();
    await writer.send({ topic, messages: Array.from({ length: 10 }, (_, index) => ({ value: `v${index}` })) });
    const reader = consumer();
    reader.assign([{ topic, partition: 0 }]);
    expect(await reader.poll({ timeoutMs: 300 })).toEqual([]);
    await writer.send({ topic, messages: [{ value: 'new' }] });
    expect((await readAll(reader, 1)).map((record) => record.value?.toString())).toEqual(['new']);
    reader.seek({ topic, partition: 0, offset: 5n });
    const again = await readAll(reader, 6);
    expect(again.map((record) => record.offset)).toEqual([5n, 6n, 7n, 8n, 9n, 10n]);
  });
});

describe('consumer flow control and auto-commit', () => {
  it('pauses and resumes partitions', async () => {
    const topic = 'paused';
    await admin.createTopics([{ topic, numPartitions: 2 }]);
    await producer().send({ topic, messages: [0, 1, 0, 1].map((partition, index) => ({ value: `v${index}`, partition })) });
    const reader = consumer();
    reader.assign([{ topic, partition: 0, offset: 0n }, { topic, partition: 1, offset: 0n }]);
    reader.pause([{ topic, partition: 0 }]);
    const first = await readAll(reader, 2, 3_000);
    expect(first.map((record) => record.partition)).toEqual([1, 1]);
    expect(await reader.poll({ timeoutMs: 300 })).toEqual([]);
    reader.resume([{ topic, partition: 0 }]);
    expect((await readAll(reader, 2, 3_000)).map((record) => record.value?.toString())).toEqual(['v0', 'v2']);
  });

  it('commits consumed positions every auto.commit.interval.ms while polling', async () => {
    const topic = 'autocommit';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    await producer().send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    const reader = consumer({ groupId: 'auto-committers', autoOffsetReset: 'earliest', 'auto.commit.interval.ms': 200 });
    reader.subscribe({ topics: [topic] });
    expect(await reader.poll({ timeoutMs: 5_000, maxRecords: 2 })).toHaveLength(2);
    const deadline = Date.now() + 5_000;
    let committed: bigint | undefined;
    while (committed !== 2n && Date.now() < deadline) {
      await reader.poll({ timeoutMs: 100, maxRecords: 0 });
      committed = (await admin.fetchGroupOffsets('auto-committers'))[0]?.offset;
    }
    expect(committed).toBe(2n);
  });
});

describe('consumer groups', () => {
  it('splits partitions between two members and hands them out again when one leaves', async () => {
    const topic = 'grouped';
    await admin.createTopics([{ topic, numPartitions: 4 }]);
    await producer().send({ topic, messages: Array.from({ length: 200 }, (_, index) => ({ key: `k${index}`, value: `v${index}` })) });
    const events: string[] = [];
    const listeners = (name: string) => ({
      onPartitionsAssigned: (partitions: TopicPartition[]) => { events.push(`${name} assigned ${partitions.length}`); },
      onPartitionsRevoked: (partitions: TopicPartition[]) => { events.push(`${name} revoked ${partitions.length}`); },
    });
    const first = consumer({ groupId: 'splitters', autoOffsetReset: 'earliest', ...listeners('first') });
    const second = consumer({ groupId: 'splitters', autoOffsetReset: 'earliest', ...listeners('second') });
    first.subscribe({ topics: [topic] });
    second.subscribe({ topics: [topic] });
    const seen: ConsumerRecord[] = [];
    const deadline = Date.now() + 20_000;
    const settled = (): boolean => first.assignment().length === 2 && second.assignment().length === 2 && seen.length >= 200;
    await Promise.all([first, second].map(async (member) => {
      while (!settled() && Date.now() < deadline) seen.push(...(await member.poll({ timeoutMs: 200 })));
    }));
    const owned = [...first.assignment(), ...second.assignment()].map((entry) => entry.partition).sort();
    expect(owned).toEqual([0, 1, 2, 3]);
    expect(new Set(seen.map((record) => `${record.partition}:${record.offset}`)).size).toBe(200);
    expect(events).toContain('second assigned 2');
    await first.close();
    const handedOver = Date.now() + 15_000;
    while (second.assignment().length < 4 && Date.now() < handedOver) await second.poll({ timeoutMs: 200 });
    expect(second.assignment()).toHaveLength(4);
    const description = await admin.describeGroups(['splitters']);
    expect(description[0]?.members).toHaveLength(1);
    expect(description[0]?.members[0]?.assignment).toEqual([{ topic, partitions: [0, 1, 2, 3] }]);
  });

  it('commits offsets and a new member resumes where the last commit left off', async () => {
    const topic = 'resume';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    await producer().send({ topic, messages: Array.from({ length: 20 }, (_, index) => ({ value: `v${index}` })) });
    const reader = consumer({ groupId: 'resumers', autoOffsetReset: 'earliest', autoCommit: false });
    reader.subscribe({ topics: [topic] });
    const firstTen: bigint[] = [];
    for await (const record of reader) {
      firstTen.push(record.offset);
      if (firstTen.length === 10) break;
    }
    await reader.commit();
    await reader.close();
    expect(firstTen).toEqual(Array.from({ length: 10 }, (_, index) => BigInt(index)));
    expect(await admin.fetchGroupOffsets('resumers')).toEqual([{ topic, partition: 0, offset: 10n, metadata: '' }]);
    const next = consumer({ groupId: 'resumers', autoOffsetReset: 'earliest' });
    next.subscribe({ topics: [topic] });
    const rest = await readAll(next, 10);
    expect(rest.map((record) => record.offset)).toEqual(Array.from({ length: 10 }, (_, index) => BigInt(index + 10)));
    await next.close();
    expect((await admin.fetchGroupOffsets('resumers'))[0]?.offset).toBe(20n);
  });
});

describe('admin', () => {
  it('creates, describes, configures, grows and deletes topics', async () => {
    await admin.createTopics([{ topic: 'managed', numPartitions: 2, configs: { 'retention.ms': '3600000' } }]);
    const failure = await admin.createTopics([{ topic: 'managed' }]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaProtocolError);
    expect((failure as KafkaProtocolError).kafkaName).toBe('TOPIC_ALREADY_EXISTS');
    expect((failure as KafkaProtocolError).retriable).toBe(false);
    expect(await admin.listTopics()).toContain('managed');
    const retention = (await admin.describeConfigs({ type: 'topic', name: 'managed', keys: ['retention.ms'] }))[0];
    expect(retention).toMatchObject({ name: 'retention.ms', value: '3600000', isDefault: false });
    await admin.alterConfigs({ type: 'topic', name: 'managed', set: { 'cleanup.policy': 'compact' }, delete: ['retention.ms'] });
    const configs = await admin.describeConfigs({ type: 'topic', name: 'managed' });
    expect(configs.find((entry) => entry.name === 'cleanup.policy')?.value).toBe('compact');
    expect(configs.find((entry) => entry.name === 'retention.ms')?.isDefault).toBe(true);
    await admin.createPartitions([{ topic: 'managed', count: 3 }]);
    expect((await admin.describeTopics(['managed']))[0]?.partitions.map((partition) => partition.partition)).toEqual([0, 1, 2]);
    await admin.deleteTopics(['managed']);
    expect(await admin.listTopics()).not.toContain('managed');
    await expect(admin.describeTopics(['managed'])).rejects.toThrow(/UNKNOWN_TOPIC_OR_PARTITION/);
  });

  it('lists offsets by time, sets and deletes group offsets', async () => {
    const topic = 'timed';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    await producer().send({ topic, messages: [0, 1, 2, 3].map((index) => ({ value: `v${index}`, timestamp: 1_000_000 + index * 1000 })) });
    expect((await admin.listOffsets(topic, { timestamp: 1_002_000 }))[0]?.offset).toBe(2n);
    expect((await admin.listOffsets(topic, 'earliest'))[0]?.offset).toBe(0n);
    await admin.setGroupOffsets('parked', [{ topic, partition: 0, offset: 3n }]);
    expect(await admin.fetchGroupOffsets('parked', [topic])).toEqual([{ topic, partition: 0, offset: 3n, metadata: '' }]);
    expect(await admin.planOffsetReset(topic, { offset: 99n })).toEqual([{ topic, partition: 0, offset: 4n }]);
    expect(await admin.planOffsetReset(topic, { timestamp: 1_001_500 })).toEqual([{ topic, partition: 0, offset: 2n }]);
    expect(await admin.planOffsetReset(topic, { timestamp: 9_000_000_000_000 })).toEqual([{ topic, partition: 0, offset: 4n }]);
    expect(await admin.fetchGroupOffsets('parked', [topic])).toEqual([{ topic, partition: 0, offset: 3n, metadata: '' }]);
    await admin.resetGroupOffsets('parked', topic, 'earliest');
    expect((await admin.fetchGroupOffsets('parked', [topic]))[0]?.offset).toBe(0n);
    expect((await admin.listGroups()).map((group) => group.groupId)).toContain('parked');
    await admin.deleteGroups(['parked']);
    expect((await admin.listGroups()).map((group) => group.groupId)).not.toContain('parked');
  });
});
