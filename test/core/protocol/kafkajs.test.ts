// kafkajs (a client this project did not write) as an independent peer: requests encoded by
// its own protocol encoders must decode with ours and re-encode to the same bytes, and our
// responses must decode with its decoders.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  ApiKey,
  decodeRequestBody,
  decodeRequestHeader,
  encodeRequestFrame,
  encodeResponseFrame,
} from '../../../core/protocol/index.ts';

const require = createRequire(import.meta.url);

interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
}
type RequestFactory = (args: object) => KafkajsRequest;
type BuildFrame = (args: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<{ buffer: Buffer }>;
type Decode = (payload: Buffer) => Promise<Record<string, unknown>>;

const buildFrame = require('kafkajs/src/protocol/request') as BuildFrame;
const Long = require('kafkajs/src/utils/long') as { fromValue(value: string): unknown };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (args: object) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (args: object) => unknown;

function requestFactory(api: string, version: number): RequestFactory {
  return require(`kafkajs/src/protocol/requests/${api}/v${version}/request`) as RequestFactory;
}

function responseDecoder(api: string, version: number): Decode {
  return (require(`kafkajs/src/protocol/requests/${api}/v${version}/response`) as { decode: Decode }).decode;
}

/** Encodes with kafkajs, then decodes the frame (without its size prefix) with ours. */
async function fromKafkajs(request: KafkajsRequest): Promise<{ sized: Buffer; frame: Buffer; bodyOffset: number }> {
  const { buffer } = await buildFrame({ correlationId: 77, clientId: 'kafkajs-peer', request });
  const frame = buffer.subarray(4);
  const header = decodeRequestHeader(frame);
  expect(header).toMatchObject({ apiKey: request.apiKey, apiVersion: request.apiVersion, correlationId: 77, clientId: 'kafkajs-peer', status: 'ok' });
  return { sized: buffer, frame, bodyOffset: header.bodyOffset };
}

/** kafkajs's decoders read the payload after the correlation id. */
function payloadOf(sizedFrame: Buffer): Buffer {
  return sizedFrame.subarray(8);
}

async function sampleBatch(): Promise<Buffer> {
  const records = [
    Record({ key: Buffer.from('k1'), value: Buffer.from('v1'), offsetDelta: 0, timestampDelta: 0, headers: { h: 'x' } }),
    Record({ key: Buffer.from('k2'), value: Buffer.from('v2'), offsetDelta: 1, timestampDelta: 5 }),
  ];
  const batch = await RecordBatch({ records, firstTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_005, lastOffsetDelta: 1 });
  return batch.buffer;
}

describe('kafkajs as a peer', () => {
  it('Produce v3: kafkajs request decodes with ours and re-encodes identically', async () => {
    const request = requestFactory('produce', 3)({
      acks: -1,
      timeout: 30000,
      transactionalId: 'txn-1',
      producerId: Long.fromValue('12'),
      producerEpoch: 3,
      topicData: [{ topic: 'orders', partitions: [{ partition: 2, firstSequence: 0, messages: [{ key: 'a', value: 'b', timestamp: 1_700_000_000_000 }] }] }],
    });
    const { sized, frame, bodyOffset } = await fromKafkajs(request);
    const body = decodeRequestBody(ApiKey.Produce, 3, frame, bodyOffset);
    expect(body).toMatchObject({ transactionalId: 'txn-1', acks: -1, timeoutMs: 30000 });
    const partition = body.topicData[0]?.partitionData[0];
    expect(body.topicData[0]?.name).toBe('orders');
    expect(partition?.index).toBe(2);
    const records = partition?.records;
    if (records === null || records === undefined) throw new Error('records missing');
    expect(records.readInt8(16)).toBe(2);
    expect(records.readBigInt64BE(43)).toBe(12n);
    expect(encodeRequestFrame(ApiKey.Produce, 3, 77, 'kafkajs-peer', body).equals(sized)).toBe(true);
  });

  it('Produce v3: our response decodes with kafkajs', async () => {
    const frame = encodeResponseFrame(ApiKey.Produce, 3, 77, {
      responses: [{ name: 'orders', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 4242n, logAppendTimeMs: -1n }] }],
      throttleTimeMs: 9,
    });
    const decoded = await responseDecoder('produce', 3)(payloadOf(frame));
    expect(decoded).toEqual({
      topics: [{ topicName: 'orders', partitions: [{ partition: 2, errorCode: 0, baseOffset: '4242', logAppendTime: '-1' }] }],
      throttleTime: 9,
    });
  });

  it('Fetch v4: kafkajs request decodes with ours and re-encodes identically', async () => {
    const request = requestFactory('fetch', 4)({
      replicaId: -1,
      maxWaitTime: 500,
      minBytes: 1,
      maxBytes: 10485760,
      isolationLevel: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: '123456789012', maxBytes: 1048576 }] }],
    });
    const { sized, frame, bodyOffset } = await fromKafkajs(request);
    const body = decodeRequestBody(ApiKey.Fetch, 4, frame, bodyOffset);
    expect(body).toMatchObject({ replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 10485760, isolationLevel: 1 });
    expect(body.topics).toEqual([
      expect.objectContaining({ topic: 'orders', partitions: [expect.objectContaining({ partition: 0, fetchOffset: 123456789012n, partitionMaxBytes: 1048576 })] }),
    ]);
    expect(encodeRequestFrame(ApiKey.Fetch, 4, 77, 'kafkajs-peer', body).equals(sized)).toBe(true);
  });

  it('Fetch v4: our response, carrying a kafkajs record batch, decodes with kafkajs down to the records', async () => {
    const frame = encodeResponseFrame(ApiKey.Fetch, 4, 77, {
      throttleTimeMs: 0,
      responses: [{
        topic: 'orders',
        partitions: [{
          partitionIndex: 0,
          errorCode: 0,
          highWatermark: 2n,
          lastStableOffset: 2n,
          abortedTransactions: [{ producerId: 7n, firstOffset: 1n }],
          records: await sampleBatch(),
        }],
      }],
    });
    const decoded = await responseDecoder('fetch', 4)(payloadOf(frame));
    const responses = decoded.responses as { topicName: string; partitions: Record<string, unknown>[] }[];
    expect(responses[0]?.topicName).toBe('orders');
    const partition = responses[0]?.partitions[0];
    expect(partition).toMatchObject({ partition: 0, errorCode: 0, highWatermark: '2', lastStableOffset: '2' });
    expect(partition?.abortedTransactions).toEqual([{ producerId: '7', firstOffset: '1' }]);
    const messages = partition?.messages as { key: Buffer; value: Buffer; offset: string }[];
    expect(messages.map((message) => [message.key.toString(), message.value.toString(), message.offset])).toEqual([
      ['k1', 'v1', '0'],
      ['k2', 'v2', '1'],
    ]);
  });

  it('Metadata v5: kafkajs request decodes with ours and re-encodes identically', async () => {
    const request = requestFactory('metadata', 5)({ topics: ['orders', 'payments'], allowAutoTopicCreation: false });
    const { sized, frame, bodyOffset } = await fromKafkajs(request);
    const body = decodeRequestBody(ApiKey.Metadata, 5, frame, bodyOffset);
    expect(body.topics?.map((topic) => topic.name)).toEqual(['orders', 'payments']);
    expect(body.allowAutoTopicCreation).toBe(false);
    expect(encodeRequestFrame(ApiKey.Metadata, 5, 77, 'kafkajs-peer', body).equals(sized)).toBe(true);
  });

  it('Metadata v5: our response decodes with kafkajs', async () => {
    const frame = encodeResponseFrame(ApiKey.Metadata, 5, 77, {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'runnel-cluster',
      controllerId: 1,
      topics: [{
        errorCode: 0,
        name: 'orders',
        isInternal: false,
        partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
      }],
    });
    const decoded = await responseDecoder('metadata', 5)(payloadOf(frame));
    expect(decoded).toEqual({
      throttleTime: 0,
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: null }],
      clusterId: 'runnel-cluster',
      controllerId: 1,
      topicMetadata: [{
        topicErrorCode: 0,
        topic: 'orders',
        isInternal: false,
        partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }],
      }],
    });
  });

  it('ApiVersions v2: our response decodes with kafkajs', async () => {
    const frame = encodeResponseFrame(ApiKey.ApiVersions, 2, 77, {
      errorCode: 0,
      apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 7 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
    });
    const decoded = await responseDecoder('apiVersions', 2)(payloadOf(frame));
    expect(decoded).toMatchObject({ errorCode: 0, apiVersions: [{ apiKey: 0, minVersion: 0, maxVersion: 7 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }] });
  });
});
