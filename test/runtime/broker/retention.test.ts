// Retention runs in the background of a real broker process: old segments go by size and by
// time, and the log start offset that clients see moves with them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { encodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';

let broker: BrokerProcess;
let connection: RawConnection;
beforeAll(async () => {
  broker = await startBroker({ overrides: { 'log.retention.check.interval.ms': '200' } });
  connection = await RawConnection.connect(broker.port);
});
afterAll(async () => { connection.destroy(); await cleanup(); });

async function createTopic(name: string, configs: Record<string, string>): Promise<void> {
  const response = await connection.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }], timeoutMs: 5000, validateOnly: false });
  expect(response.body.topics[0].errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string, count: number, timestamp: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    const records = encodeBatch({ compression: CompressionCodec.None, records: [{ value: 'v'.repeat(300), timestamp }] });
    const response = await connection.request(ApiKey.Produce, 8, { transactionalId: null, acks: 1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
    expect(response.body.responses[0].partitionResponses[0].errorCode).toBe(ErrorCode.NONE);
  }
}

async function earliest(topic: string): Promise<bigint> {
  const response = await connection.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n }] }] });
  return response.body.topics[0].partitions[0].offset;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('retention', () => {
  it('deletes the oldest segments while a partition is over retention.bytes', async () => {
    await createTopic('by-size', { 'segment.bytes': '2048', 'retention.bytes': '4096' });
    await produce('by-size', 60, Date.now());
    // What remains settles within retention.bytes plus the active segment.
    const settled = async () => Number(60n - (await earliest('by-size'))) * 380 < 4096 + 2048 + 2 * 380;
    expect(await eventually(settled)).toBe(true);
    expect(await earliest('by-size')).toBeGreaterThan(0n);
  });

  it('deletes segments whose newest record is older than retention.ms', async () => {
    await createTopic('by-time', { 'segment.bytes': '2048', 'retention.ms': '60000' });
    await produce('by-time', 20, Date.now() - 3_600_000);
    await produce('by-time', 1, Date.now());
    expect(await eventually(async () => (await earliest('by-time')) >= 15n)).toBe(true);
  });

  it('keeps everything when retention is unbounded', async () => {
    await createTopic('forever', { 'segment.bytes': '2048', 'retention.ms': '-1' });
    await produce('forever', 20, Date.now() - 3_600_000 * 24 * 365);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await earliest('forever')).toBe(0n);
  });
});
