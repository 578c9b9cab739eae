// AlterPartitionReassignments (45) and ListPartitionReassignments (46), v0, against kafkajs's
// own encoders and decoders: its requests decode with ours and re-encode to the same bytes, and
// our responses decode with its decoders to the values we sent.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody, decodeRequestHeader, encodeRequestFrame, encodeResponseFrame } from '../../../core/protocol/index.ts';

const require = createRequire(import.meta.url);

interface KafkajsRequest { apiKey: number; apiVersion: number }
type BuildFrame = (args: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<{ buffer: Buffer }>;
type Decode = (payload: Buffer) => Promise<Record<string, unknown>>;
const buildFrame = require('kafkajs/src/protocol/request') as BuildFrame;
const request = (api: string) => require(`kafkajs/src/protocol/requests/${api}/v0/request`) as (args: object) => KafkajsRequest;
const decoder = (api: string) => (require(`kafkajs/src/protocol/requests/${api}/v0/response`) as { decode: Decode }).decode;

async function fromKafkajs(built: KafkajsRequest): Promise<{ sized: Buffer; frame: Buffer; bodyOffset: number }> {
  const { buffer } = await buildFrame({ correlationId: 77, clientId: 'kafkajs-peer', request: built });
  const frame = buffer.subarray(4);
  const header = decodeRequestHeader(frame);
  expect(header).toMatchObject({ apiKey: built.apiKey, apiVersion: 0, correlationId: 77, status: 'ok' });
  return { sized: buffer, frame, bodyOffset: header.bodyOffset };
}

describe('partition reassignment APIs with kafkajs as a peer', () => {
  it('AlterPartitionReassignments v0: request from kafkajs, response to kafkajs', async () => {
    const built = request('alterPartitionReassignments')({
      topics: [{ topic: 'orders', partitionAssignment: [{ partition: 0, replicas: [2, 3, 4] }, { partition: 5, replicas: [1] }] }], timeout: 9000,
    });
    const { sized, frame, bodyOffset } = await fromKafkajs(built);
    const body = decodeRequestBody(ApiKey.AlterPartitionReassignments, 0, frame, bodyOffset);
    expect(body).toEqual({ timeoutMs: 9000, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, replicas: [2, 3, 4] }, { partitionIndex: 5, replicas: [1] }] }] });
    expect(encodeRequestFrame(ApiKey.AlterPartitionReassignments, 0, 77, 'kafkajs-peer', body).equals(sized)).toBe(true);

    const response = encodeResponseFrame(ApiKey.AlterPartitionReassignments, 0, 77, {
      throttleTimeMs: 0, errorCode: 0, errorMessage: null,
      responses: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0, errorMessage: null }, { partitionIndex: 5, errorCode: 0, errorMessage: null }] }],
    });
    // kafkajs's decoders start after the correlation id (response header v1: then tagged fields).
    const decoded = await decoder('alterPartitionReassignments')(response.subarray(8));
    expect(decoded).toMatchObject({ errorCode: 0, responses: [{ topic: 'orders', partitions: [{ partition: 0, errorCode: 0 }, { partition: 5, errorCode: 0 }] }] });
  });

  it('ListPartitionReassignments v0: all topics or named partitions, and the listing back', async () => {
    for (const topics of [null, [{ topic: 'orders', partitions: [0, 2] }]]) {
      const { sized, frame, bodyOffset } = await fromKafkajs(request('listPartitionReassignments')({ topics, timeout: 4000 }));
      const body = decodeRequestBody(ApiKey.ListPartitionReassignments, 0, frame, bodyOffset);
      expect(body).toEqual({ timeoutMs: 4000, topics: topics === null ? null : [{ name: 'orders', partitionIndexes: [0, 2] }] });
      expect(encodeRequestFrame(ApiKey.ListPartitionReassignments, 0, 77, 'kafkajs-peer', body).equals(sized)).toBe(true);
    }
    const response = encodeResponseFrame(ApiKey.ListPartitionReassignments, 0, 77, {
      throttleTimeMs: 0, errorCode: 0, errorMessage: null,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 2, replicas: [2, 4, 1], addingReplicas: [4], removingReplicas: [1] }] }],
    });
    const decoded = await decoder('listPartitionReassignments')(response.subarray(8));
    expect(decoded).toMatchObject({ topics: [{ name: 'orders', partitions: [{ partition: 2, replicas: [2, 4, 1], addingReplicas: [4], removingReplicas: [1] }] }] });
  });
});
