// Bad input against a real broker process: each case gets its Kafka error code or a closed
// connection and a log line, the broker keeps serving other clients, and the log stays intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { encodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';

let broker: BrokerProcess;
const MAX_MESSAGE_BYTES = 10_000;

beforeAll(async () => {
  broker = await startBroker({ overrides: { 'message.max.bytes': String(MAX_MESSAGE_BYTES), 'socket.request.max.bytes': '1048576' } });
  const admin = await RawConnection.connect(broker.port);
  const created = await admin.request(ApiKey.CreateTopics, 5, { topics: [{ name: 'intact', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  expect(created.body.topics[0].errorCode).toBe(ErrorCode.NONE);
  admin.destroy();
});
afterAll(cleanup);

function batch(values: string[]): Buffer {
  return encodeBatch({ compression: CompressionCodec.None, records: values.map((value, index) => ({ key: Buffer.from(`k${index}`), value: Buffer.from(value) })) });
}

async function produce(records: Buffer, topic = 'intact'): Promise<{ errorCode: number; baseOffset: bigint }> {
  const connection = await RawConnection.connect(broker.port);
  const response = await connection.request(ApiKey.Produce, 8, {
    transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  connection.destroy();
  return response.body.responses[0].partitionResponses[0];
}

async function fetchAll(): Promise<Buffer> {
  const connection = await RawConnection.connect(broker.port);
  const response = await connection.request(ApiKey.Fetch, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 'intact', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  connection.destroy();
  return response.body.responses[0].partitions[0].records as Buffer;
}

/** Proves the broker still serves a well-behaved client. */
async function stillServing(): Promise<void> {
  const connection = await RawConnection.connect(broker.port);
  const response = await connection.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
  expect(response.body.errorCode).toBe(ErrorCode.NONE);
  connection.destroy();
}

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

describe('bad input', () => {
  it('closes the connection on a malformed frame and logs it', async () => {
    const connection = await RawConnection.connect(broker.port);
    // A Metadata v1 header followed by an array length that runs past the frame.
    const payload = Buffer.from([0, 3, 0, 1, 0, 0, 0, 7, 0, 1, 0x78, 0x7f, 0xff, 0xff, 0xff]);
    connection.write(frame(payload));
    expect(await connection.waitClosed(5000)).toBe(true);
    await stillServing();
    expect(broker.logText()).toMatch(/bad request/);
  });

  it('closes the connection on a truncated frame header', async () => {
    const connection = await RawConnection.connect(broker.port);
    connection.write(frame(Buffer.from([0, 18])));
    expect(await connection.waitClosed(5000)).toBe(true);
    await stillServing();
  });

  it('closes the connection on an unknown API key and on an unsupported version', async () => {
    for (const [apiKey, apiVersion] of [[999, 0], [ApiKey.Metadata, 99]] as const) {
      const connection = await RawConnection.connect(broker.port);
      const payload = Buffer.alloc(10);
      payload.writeInt16BE(apiKey, 0);
      payload.writeInt16BE(apiVersion, 2);
      payload.writeInt32BE(5, 4);
      payload.writeInt16BE(-1, 8);
      connection.write(frame(payload));
      expect(await connection.waitClosed(5000)).toBe(true);
    }
    await stillServing();
  });

  it('answers an ApiVersions version it lacks with UNSUPPORTED_VERSION in version 0', async () => {
    const connection = await RawConnection.connect(broker.port);
    const payload = Buffer.alloc(10);
    payload.writeInt16BE(ApiKey.ApiVersions, 0);
    payload.writeInt16BE(42, 2);
    payload.writeInt32BE(77, 4);
    payload.writeInt16BE(-1, 8);
    connection.write(frame(payload));
    const response = await connection.readFrame(5000);
    expect(response).not.toBeNull();
    expect(response!.readInt32BE(0)).toBe(77);
    expect(response!.readInt16BE(4)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    connection.destroy();
  });

  it('refuses a frame over socket.request.max.bytes without reading it', async () => {
    const connection = await RawConnection.connect(broker.port);
    const size = Buffer.alloc(4);
    size.writeInt32BE(64 * 1024 * 1024);
    connection.write(size);
    expect(await connection.waitClosed(5000)).toBe(true);
    expect(broker.logText()).toMatch(/exceeds the limit/);
    await stillServing();
  });

  it('survives a client that disconnects in the middle of a request', async () => {
    const connection = await RawConnection.connect(broker.port);
    const size = Buffer.alloc(4);
    size.writeInt32BE(500);
    connection.write(Buffer.concat([size, Buffer.alloc(100)]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    connection.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stillServing();
    expect(broker.logText()).toMatch(/disconnected mid-request/);
  });

  it('rejects a batch over max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    const result = await produce(batch(['x'.repeat(MAX_MESSAGE_BYTES + 100)]));
    expect(result.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
  });

  it('rejects a batch whose CRC does not match with CORRUPT_MESSAGE and keeps the log intact', async () => {
    const good = await produce(batch(['before']));
    expect(good.errorCode).toBe(ErrorCode.NONE);
    const corrupted = batch(['corrupted']);
    corrupted.writeUInt8(corrupted.readUInt8(corrupted.length - 2) ^ 0xff, corrupted.length - 2);
    expect((await produce(corrupted)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const truncated = batch(['truncated']).subarray(0, 40);
    expect((await produce(truncated)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    const after = await produce(batch(['after']));
    expect(after.errorCode).toBe(ErrorCode.NONE);
    expect(after.baseOffset).toBe(good.baseOffset + 1n);
    const stored = (await fetchAll()).toString('latin1');
    expect(stored).toContain('before');
    expect(stored).toContain('after');
    expect(stored).not.toContain('corrupted');
  });

  it('rejects invalid topic names', async () => {
    const connection = await RawConnection.connect(broker.port);
    const response = await connection.request(ApiKey.CreateTopics, 5, {
      topics: ['bad name!', '', '..', 'x'.repeat(300)].map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
      timeoutMs: 5000, validateOnly: false,
    });
    for (const topic of response.body.topics) expect(topic.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    const metadata = await connection.request(ApiKey.Metadata, 9, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'bad name!' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
    expect(metadata.body.topics[0].errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
    connection.destroy();
  });

  it('rejects invalid topic configs naming the key and the reason', async () => {
    const connection = await RawConnection.connect(broker.port);
    const response = await connection.request(ApiKey.CreateTopics, 5, {
      topics: [{ name: 'bad-config', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: 'soon' }] }],
      timeoutMs: 5000, validateOnly: false,
    });
    expect(response.body.topics[0].errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(response.body.topics[0].errorMessage).toMatch(/retention\.ms=soon/);
    connection.destroy();
  });
});
