// Consumer and serde features against a real broker: typed records through zod-validated JSON,
// pattern subscriptions that pick up new topics, max.poll.records, offsets for times, seeking to
// either end, ordered async commits, and partitions reported lost after max.poll.interval.ms;
// pollPacked, whose runs name ranges of fetched responses (a response may be handed out over
// several polls, a run starting inside it), with the position following the records handed out
// and pause, resume and seek neither skipping nor repeating a record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer, type ConsumerRecord, type PackedRun, type RecordPlace, type TopicPartition } from '../../../runtime/client/consumer.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { KafkaSerializationError, Serdes, type TypedRecord } from '../../../runtime/client/index.ts';
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

function producer(): Producer {
  const created = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 1 });
  open.push(created);
  return created;
}

function consumer(options: Record<string, unknown> = {}): Consumer {
  const created = new Consumer({ bootstrapServers: broker.bootstrap, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, fetchMaxWaitMs: 100, ...options });
  open.push(created);
  return created;
}

async function pollUntil<T>(poll: () => Promise<T[]>, count: number, timeoutMs = 15_000): Promise<T[]> {
  const records: T[] = [];
  const deadline = Date.now() + timeoutMs;
  while (records.length < count && Date.now() < deadline) records.push(...(await poll()));
  return records;
}

const Order = z.object({ id: z.number().int(), item: z.string(), quantity: z.number().positive() });

describe('serdes', () => {
  it('sends and reads typed orders, validating on both sides, with headers', async () => {
    await admin.createTopics([{ topic: 'orders', numPartitions: 1 }]);
    const orders = producer().typed({ key: Serdes.string(), value: Serdes.zod(Order) });
    await orders.send({ topic: 'orders', messages: [{ key: 'c1', value: { id: 1, item: 'tea', quantity: 2 }, headers: { source: 'web' } }] });
    await expect(orders.send({ topic: 'orders', messages: [{ key: 'c2', value: { id: 2, item: 'cake', quantity: -1 } }] })).rejects.toThrow(/quantity/);
    // A record that does not match the schema, written around the typed producer.
    await producer().send({ topic: 'orders', messages: [{ key: 'c3', value: '{"id":"three"}' }] });
    const reader = consumer().typed({ key: Serdes.string(), value: Serdes.zod(Order) });
    reader.consumer.assign([{ topic: 'orders', partition: 0, offset: 0n }]);
    const [first] = await pollUntil(() => reader.poll({ maxRecords: 1 }), 1);
    const typed: TypedRecord<string | null, z.output<typeof Order>> | undefined = first;
    expect(typed?.value).toEqual({ id: 1, item: 'tea', quantity: 2 });
    expect(typed?.key).toBe('c1');
    expect(typed?.headers).toEqual([{ key: 'source', value: Buffer.from('web') }]);
    const failure = await pollUntil(() => reader.poll(), 1).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaSerializationError);
    expect((failure as Error).message).toMatch(/orders-0 at offset 1/);
  });

  it('passes a null value through as a tombstone, never to the serde', async () => {
    await admin.createTopics([{ topic: 'orders-deleted', numPartitions: 1 }]);
    const orders = producer().typed({ key: Serdes.string(), value: Serdes.zod(Order) });
    await orders.send({ topic: 'orders-deleted', messages: [{ key: 'c1', value: { id: 1, item: 'tea', quantity: 2 } }, { key: 'c1', value: null }] });
    const reader = consumer().typed({ key: Serdes.string(), value: Serdes.zod(Order) });
    reader.consumer.assign([{ topic: 'orders-deleted', partition: 0, offset: 0n }]);
    const records = await pollUntil(() => reader.poll(), 2);
    expect(records.map((record) => [record.key, record.value])).toEqual([['c1', { id: 1, item: 'tea', quantity: 2 }], ['c1', null]]);
  });

  it('carries the schema type: a wrong key or value does not compile', () => {
    const orders = producer().typed({ key: Serdes.string(), value: Serdes.zod(Order) });
    const messages = (list: Parameters<typeof orders.send>[0]['messages']): number => list.length;
    expect(messages([{ key: 'c1', value: { id: 1, item: 'tea', quantity: 2 } }])).toBe(1);
    // @ts-expect-error quantity is a number in the schema
    messages([{ key: 'c1', value: { id: 1, item: 'tea', quantity: 'two' } }]);
    // @ts-expect-error the key serde takes strings
    messages([{ key: 42, value: { id: 1, item: 'tea', quantity: 2 } }]);
    const reader = consumer().typed({ value: Serdes.zod(Order) });
    type Value = Awaited<ReturnType<typeof reader.poll>>[number]['value'];
    const quantity = (value: Value): number | undefined => value?.quantity;
    // @ts-expect-error an order has no price
    const price = (value: Value): unknown => value?.price;
    expect([quantity(null), price(null)]).toEqual([undefined, undefined]);
  });
});

describe('consumer', () => {
  it('subscribes to a pattern and picks up a matching topic created later', async () => {
    await admin.createTopics([{ topic: 'metrics-cpu', numPartitions: 1 }, { topic: 'metrics-disk', numPartitions: 2 }, { topic: 'logs', numPartitions: 1 }]);
    const writer = producer();
    await writer.send({ topic: 'metrics-cpu', messages: [{ value: 'cpu' }] });
    await writer.send({ topic: 'logs', messages: [{ value: 'log' }] });
    const reader = consumer({ groupId: 'patterns', autoOffsetReset: 'earliest', metadataMaxAgeMs: 300 });
    reader.subscribe({ pattern: /^metrics-/ });
    const before = await pollUntil(() => reader.poll({ timeoutMs: 200 }), 1);
    expect(before.map((record) => record.value?.toString())).toEqual(['cpu']);
    expect(reader.assignment().map((entry) => `${entry.topic}-${entry.partition}`).sort()).toEqual(['metrics-cpu-0', 'metrics-disk-0', 'metrics-disk-1']);
    await admin.createTopics([{ topic: 'metrics-net', numPartitions: 1 }]);
    await writer.send({ topic: 'metrics-net', messages: [{ value: 'net' }] });
    const after = await pollUntil(() => reader.poll({ timeoutMs: 200 }), 1);
    expect(after.map((record) => record.value?.toString())).toEqual(['net']);
    expect(reader.assignment().some((entry) => entry.topic === 'logs')).toBe(false);
  });

  it('returns at most max.poll.records per poll and finds offsets by time', async () => {
    await admin.createTopics([{ topic: 'timed', numPartitions: 1 }]);
    await producer().send({ topic: 'timed', messages: Array.from({ length: 10 }, (_, index) => ({ value: `v${index}`, timestamp: 1_000 * (index + 1) })) });
    const reader = consumer({ 'max.poll.records': 3 });
    reader.assign([{ topic: 'timed', partition: 0, offset: 0n }]);
    const sizes: number[] = [];
    const records: ConsumerRecord[] = [];
    while (records.length < 10) {
      const batch = await reader.poll({ timeoutMs: 500 });
      if (batch.length > 0) sizes.push(batch.length);
      records.push(...batch);
    }
    expect(Math.max(...sizes)).toBe(3);
    expect(records.map((record) => record.offset)).toEqual(Array.from({ length: 10 }, (_, index) => BigInt(index)));
    const found = await reader.offsetsForTimes([{ topic: 'timed', partition: 0, timestamp: 4_500 }]);
    expect(found).toEqual([{ topic: 'timed', partition: 0, offset: 4n, timestamp: 5_000n }]);
    const none = await reader.offsetsForTimes([{ topic: 'timed', partition: 0, timestamp: new Date(99_000) }]);
    expect(none[0]?.offset).toBeNull();
    reader.seekToBeginning();
    expect((await pollUntil(() => reader.poll({ timeoutMs: 300 }), 1))[0]?.offset).toBe(0n);
    reader.seekToEnd();
    expect(await reader.poll({ timeoutMs: 300 })).toEqual([]);
    expect(reader.positions()).toEqual([{ topic: 'timed', partition: 0, offset: 10n }]);
  });

  it('commits asynchronously, in order, and reports each outcome', async () => {
    await admin.createTopics([{ topic: 'async-commits', numPartitions: 1 }]);
    await producer().send({ topic: 'async-commits', messages: Array.from({ length: 6 }, (_, index) => ({ value: `v${index}` })) });
    const reader = consumer({ groupId: 'async-committers', autoOffsetReset: 'earliest', autoCommit: false });
    reader.subscribe({ topics: ['async-commits'] });
    await pollUntil(() => reader.poll({ timeoutMs: 200 }), 6);
    const outcomes: string[] = [];
    const settled = new Promise<void>((resolve) => {
      for (const offset of [2n, 4n, 6n]) {
        reader.commitAsync([{ topic: 'async-commits', partition: 0, offset }], (error, offsets) => {
          outcomes.push(`${offsets[0]?.offset}:${error === null ? 'ok' : error.message}`);
          if (outcomes.length === 3) resolve();
        });
      }
    });
    await settled;
    expect(outcomes).toEqual(['2:ok', '4:ok', '6:ok']);
    expect((await admin.fetchGroupOffsets('async-committers'))[0]?.offset).toBe(6n);
  });

  it('leaves the group when poll stops for max.poll.interval.ms and reports the partitions lost', async () => {
    await admin.createTopics([{ topic: 'slow', numPartitions: 2 }]);
    const lost: TopicPartition[][] = [];
    const revoked: TopicPartition[][] = [];
    const reader = consumer({
      groupId: 'slow-pollers', maxPollIntervalMs: 600, rebalanceTimeoutMs: 5_000,
      onPartitionsLost: (partitions: TopicPartition[]) => { lost.push(partitions); },
      onPartitionsRevoked: (partitions: TopicPartition[]) => { revoked.push(partitions); },
    });
    reader.subscribe({ topics: ['slow'] });
    const deadline = Date.now() + 15_000;
    while (reader.assignment().length < 2 && Date.now() < deadline) await reader.poll({ timeoutMs: 200 });
    expect(reader.assignment()).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const groups = await admin.describeGroups(['slow-pollers']);
    expect(groups[0]?.members).toHaveLength(0);
    await reader.poll({ timeoutMs: 2_000 });
    expect(lost.map((partitions) => partitions.length)).toEqual([2]);
    expect(revoked).toEqual([]);
    expect(reader.assignment()).toHaveLength(2);
  });

  it('passes fetch.min.bytes to the broker, which holds the fetch until fetch.max.wait.ms', async () => {
    await admin.createTopics([{ topic: 'trickle', numPartitions: 1 }]);
    await producer().send({ topic: 'trickle', messages: [{ value: 'small' }] });
    const patient = consumer({ 'fetch.min.bytes': 1_000_000, fetchMaxWaitMs: 400 });
    patient.assign([{ topic: 'trickle', partition: 0, offset: 0n }]);
    const started = Date.now();
    const records = await pollUntil(() => patient.poll({ timeoutMs: 2_000 }), 1);
    expect(records.map((record) => record.value?.toString())).toEqual(['small']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });
});

interface Read {
  offset: bigint;
  value: string | null;
  headers: string[];
}

const place: RecordPlace = { bytes: new Uint8Array(0), keyStart: 0, keyLength: -1, valueStart: 0, valueLength: -1, timestamp: -1, baseOffset: -1n, offsetDelta: 0 };

function read(run: PackedRun): Read[] {
  const records: Read[] = [];
  for (let index = run.from; index < run.to; index++) {
    const headers = run.records.locate(index, place);
    const value = place.valueLength < 0 ? null : Buffer.from(place.bytes.subarray(place.valueStart, place.valueStart + place.valueLength)).toString();
    records.push({ offset: place.baseOffset + BigInt(place.offsetDelta), value, headers: headers?.map((header) => header.key) ?? [] });
  }
  return records;
}

describe('pollPacked', () => {
  it('hands out ranges of responses, moves the position past them, and resumes exactly after pause and seek', async () => {
    await admin.createTopics([{ topic: 'packed', numPartitions: 1 }]);
    const partition = { topic: 'packed', partition: 0 };
    const plain = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 1 });
    const zipped = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 1, compression: 'gzip' });
    open.push(plain, zipped);
    // Two batches of 12 records, one of them compressed.
    await plain.send({ topic: 'packed', messages: Array.from({ length: 12 }, (_, index) => ({ value: `v${index}`, headers: index === 0 ? { first: 'yes' } : {} })) });
    await zipped.send({ topic: 'packed', messages: Array.from({ length: 12 }, (_, index) => ({ value: `v${12 + index}` })) });
    const consumer = new Consumer({ bootstrapServers: broker.bootstrap, fetchMaxWaitMs: 100 });
    open.push(consumer);
    consumer.assign([{ ...partition, offset: 0n }]);

    const taken: Read[] = [];
    const runs: PackedRun[] = [];
    const poll = async (timeoutMs = 500): Promise<Read[]> => {
      const polled = await consumer.pollPacked({ timeoutMs, maxRecords: 5 });
      runs.push(...polled);
      const records = polled.flatMap(read);
      taken.push(...records);
      // The position is the offset after the last record handed out.
      const last = records.at(-1);
      if (last !== undefined) expect(consumer.positions()).toEqual([{ ...partition, offset: last.offset + 1n }]);
      return records;
    };
    while (taken.length < 8) await poll();
    expect(runs.every((run) => run.to - run.from <= 5 && run.topic === 'packed' && run.partition === 0)).toBe(true);
    // A response handed out over more than one poll: a run starts inside it.
    expect(runs.some((run) => run.from > 0)).toBe(true);

    consumer.pause([partition]);
    expect(await poll(300)).toEqual([]);
    const pausedAt = consumer.positions()[0]?.offset;
    expect(pausedAt).toBe(BigInt(taken.length));
    consumer.resume([partition]);
    const deadline = Date.now() + 15_000;
    while (taken.length < 24 && Date.now() < deadline) await poll();
    expect(taken.map((record) => record.offset)).toEqual(Array.from({ length: 24 }, (_, index) => BigInt(index)));
    expect(taken.map((record) => record.value)).toEqual(Array.from({ length: 24 }, (_, index) => `v${index}`));
    expect(taken[0]?.headers).toEqual(['first']);

    consumer.seek({ ...partition, offset: 3n });
    taken.length = 0;
    while (taken.length === 0 && Date.now() < deadline) await poll();
    expect(taken[0]?.offset).toBe(3n);
    expect(taken.map((record) => record.value)).toEqual(Array.from({ length: taken.length }, (_, index) => `v${3 + index}`));
  });
});
