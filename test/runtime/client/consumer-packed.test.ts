// pollPacked against a real broker: runs name ranges of fetched responses, a response may be
// handed out over several polls (a run starting inside it), the position follows the records
// handed out, and pause, resume and seek neither skip nor repeat a record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer, type PackedRun, type RecordPlace } from '../../../runtime/client/consumer.ts';
import { Producer } from '../../../runtime/client/producer.ts';
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
