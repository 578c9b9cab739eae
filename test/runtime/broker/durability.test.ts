// Durability of a real broker process: every acknowledged record survives SIGKILL, and a torn
// or corrupted log tail is cut back to the last valid batch when the broker starts again.
import { appendFileSync, readdirSync, statSync, truncateSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { decodeBatch, encodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { batchSizeAt } from '../../../core/records/header.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';

afterAll(cleanup);

async function createTopic(broker: BrokerProcess, name: string): Promise<void> {
  const connection = await RawConnection.connect(broker.port);
  const response = await connection.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  expect(response.body.topics[0].errorCode).toBe(ErrorCode.NONE);
  connection.destroy();
}

async function produceMany(broker: BrokerProcess, topic: string, from: number, count: number): Promise<bigint[]> {
  const connection = await RawConnection.connect(broker.port);
  const offsets: bigint[] = [];
  for (let index = from; index < from + count; index++) {
    const records = encodeBatch({ compression: index % 2 === 0 ? CompressionCodec.None : CompressionCodec.Gzip, records: [{ key: Buffer.from(`k${index}`), value: Buffer.from(`value-${index}`) }] });
    const response = await connection.request(ApiKey.Produce, 8, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }, index + 1);
    const partition = response.body.responses[0].partitionResponses[0];
    expect(partition.errorCode).toBe(ErrorCode.NONE);
    offsets.push(partition.baseOffset);
  }
  connection.destroy();
  return offsets;
}

async function readValues(broker: BrokerProcess, topic: string): Promise<{ offset: bigint; value: string }[]> {
  const connection = await RawConnection.connect(broker.port);
  const values: { offset: bigint; value: string }[] = [];
  let fetchOffset = 0n;
  for (;;) {
    const response = await connection.request(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const records: Buffer = response.body.responses[0].partitions[0].records;
    if (records === null || records.length === 0) break;
    for (let position = 0; position < records.length;) {
      const size = batchSizeAt(records, position);
      if (size < 0 || position + size > records.length) break;
      const batch = decodeBatch(records.subarray(position, position + size));
      batch.records.forEach((record, index) => {
        const offset = batch.header.baseOffset + BigInt(record.offsetDelta ?? index);
        if (offset >= fetchOffset) values.push({ offset, value: record.value!.toString() });
      });
      fetchOffset = batch.header.baseOffset + BigInt(batch.header.lastOffsetDelta) + 1n;
      position += size;
    }
  }
  connection.destroy();
  return values;
}

function activeSegment(broker: BrokerProcess, topic: string): string {
  const directory = path.join(broker.dataDirectory, `${topic}-0`);
  const logs = readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
  return path.join(directory, logs[logs.length - 1]!);
}

describe('durability', () => {
  it('keeps every acknowledged record across SIGKILL and restart', async () => {
    let broker = await startBroker();
    await createTopic(broker, 'durable');
    const offsets = await produceMany(broker, 'durable', 0, 200);
    expect(offsets).toEqual(Array.from({ length: 200 }, (_, index) => BigInt(index)));
    await broker.kill();
    broker = await broker.restart();
    const values = await readValues(broker, 'durable');
    expect(values.map((v) => v.value)).toEqual(Array.from({ length: 200 }, (_, index) => `value-${index}`));
    const next = await produceMany(broker, 'durable', 200, 1);
    expect(next).toEqual([200n]);
    await broker.stop();
  });

  it('truncates a torn tail to the last valid batch on start', async () => {
    let broker = await startBroker();
    await createTopic(broker, 'torn');
    await produceMany(broker, 'torn', 0, 20);
    await broker.kill();
    // Cut the last batch in half, as a crash in the middle of a write would.
    const segment = activeSegment(broker, 'torn');
    const lastBatchBytes = batchSizeAt(readFileSync(segment), 0);
    truncateSync(segment, statSync(segment).size - Math.floor(lastBatchBytes / 2));
    broker = await broker.restart();
    const values = await readValues(broker, 'torn');
    expect(values.map((v) => v.value)).toEqual(Array.from({ length: 19 }, (_, index) => `value-${index}`));
    expect(await produceMany(broker, 'torn', 100, 1)).toEqual([19n]);
    await broker.stop();
  });

  it('truncates a corrupted tail (bad CRC, trailing garbage) to the last valid batch on start', async () => {
    let broker = await startBroker();
    await createTopic(broker, 'corrupt');
    await produceMany(broker, 'corrupt', 0, 10);
    await broker.kill();
    const segment = activeSegment(broker, 'corrupt');
    const bytes = readFileSync(segment);
    // Flip a byte inside the last batch's records, then add garbage after it.
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 0x55, bytes.length - 3);
    writeFileSync(segment, bytes);
    appendFileSync(segment, Buffer.from('garbage that is not a batch'));
    broker = await broker.restart();
    const values = await readValues(broker, 'corrupt');
    expect(values.map((v) => v.value)).toEqual(Array.from({ length: 9 }, (_, index) => `value-${index}`));
    expect(broker.logText()).toMatch(/invalid batch.*dropped \d+ bytes/);
    expect(await produceMany(broker, 'corrupt', 100, 1)).toEqual([9n]);
    await broker.stop();
  });
});
