// @platformatic/kafka (a client this project did not write, and the one that needs the newest,
// flexible versions) as an independent peer: its request bodies decode with ours and
// re-encode to the same bytes, and our response bodies parse with its parsers.
import { apiVersionsV4, createRecordsBatch, fetchV12, fetchV17, metadataV12, produceV11, Reader } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody, encodeRequestFrame, encodeResponseFrame } from '../../../core/protocol/index.ts';

/** The body of one of our request frames: after size, fixed header fields, client id and tags. */
function requestBodyOf(frame: Buffer, clientId: string, flexible: boolean): Buffer {
  return frame.subarray(4 + 2 + 2 + 4 + 2 + Buffer.byteLength(clientId) + (flexible ? 1 : 0));
}

/** The body of one of our response frames; ApiVersions keeps header v0 in every version. */
function responseBodyOf(frame: Buffer, taggedHeader: boolean): Buffer {
  return frame.subarray(4 + 4 + (taggedHeader ? 1 : 0));
}

function platformaticBody(writer: { buffer: Buffer }): Buffer {
  return Buffer.from(writer.buffer);
}

type Parse = (correlationId: number, apiKey: number, apiVersion: number, reader: Reader) => unknown;

function parseWith(parse: Parse, apiKey: number, apiVersion: number, body: Buffer): Record<string, unknown> {
  return parse(1, apiKey, apiVersion, Reader.from(body)) as Record<string, unknown>;
}

function sampleBatch(): Buffer {
  const messages = [
    { topic: 'orders', partition: 0, key: Buffer.from('k1'), value: Buffer.from('v1'), timestamp: 1_700_000_000_000n },
    { topic: 'orders', partition: 0, key: Buffer.from('k2'), value: Buffer.from('v2'), timestamp: 1_700_000_000_001n },
  ];
  return platformaticBody(createRecordsBatch(messages as never) as unknown as { buffer: Buffer });
}

describe('@platformatic/kafka as a peer', () => {
  it('Produce v11: its request body decodes with ours and re-encodes identically', () => {
    const messages = [{ topic: 'orders', partition: 3, key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1_700_000_000_000n }];
    const body = platformaticBody(produceV11.createRequest(-1, 5000, messages as never, { transactionalId: 'tx' } as never));
    const decoded = decodeRequestBody(ApiKey.Produce, 11, body, 0);
    expect(decoded).toMatchObject({ transactionalId: 'tx', acks: -1, timeoutMs: 5000 });
    expect(decoded.topicData[0]?.name).toBe('orders');
    expect(decoded.topicData[0]?.partitionData[0]?.index).toBe(3);
    expect(decoded.topicData[0]?.partitionData[0]?.records?.readInt8(16)).toBe(2);
    const ours = encodeRequestFrame(ApiKey.Produce, 11, 1, 'peer', decoded);
    expect(requestBodyOf(ours, 'peer', true).equals(body)).toBe(true);
  });

  it('Fetch v17: its request body decodes with ours and re-encodes identically', () => {
    const topicId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const partitions = [{ partition: 1, currentLeaderEpoch: 4, fetchOffset: 99n, lastFetchedEpoch: 3, partitionMaxBytes: 65536 }];
    const body = platformaticBody(fetchV17.createRequest(500, 1, 1048576, 1, 0, -1, [{ topicId, partitions }] as never, [], 'rack-a'));
    const decoded = decodeRequestBody(ApiKey.Fetch, 17, body, 0);
    expect(decoded).toMatchObject({ maxWaitMs: 500, minBytes: 1, maxBytes: 1048576, isolationLevel: 1, sessionEpoch: -1, rackId: 'rack-a' });
    expect(decoded.topics[0]?.topicId).toBe(topicId);
    expect(decoded.topics[0]?.partitions[0]).toMatchObject({ partition: 1, currentLeaderEpoch: 4, fetchOffset: 99n, lastFetchedEpoch: 3, partitionMaxBytes: 65536 });
    const ours = encodeRequestFrame(ApiKey.Fetch, 17, 1, 'peer', decoded);
    expect(requestBodyOf(ours, 'peer', true).equals(body)).toBe(true);
  });

  for (const [version, parse] of [[12, fetchV12.parseResponse], [17, fetchV17.parseResponse]] as const) {
    it(`Fetch v${version}: our response parses with it down to the records`, () => {
      const frame = encodeResponseFrame(ApiKey.Fetch, version, 1, {
        responses: [{
          topic: 'orders',
          topicId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
          partitions: [{ partitionIndex: 0, highWatermark: 2n, lastStableOffset: 2n, logStartOffset: 0n, records: sampleBatch() }],
        }],
      });
      const parsed = parseWith(parse as Parse, ApiKey.Fetch, version, responseBodyOf(frame, true));
      const responses = parsed.responses as { partitions: { highWatermark: bigint; records: { records: { key: Buffer; value: Buffer }[] }[] }[] }[];
      const partition = responses[0]?.partitions[0];
      expect(partition?.highWatermark).toBe(2n);
      const records = partition?.records[0]?.records ?? [];
      expect(records.map((record) => [record.key.toString(), record.value.toString()])).toEqual([['k1', 'v1'], ['k2', 'v2']]);
    });
  }

  it('Metadata v12: request both ways and our response parses with it', () => {
    const body = platformaticBody(metadataV12.createRequest(['orders'], true, false));
    const decoded = decodeRequestBody(ApiKey.Metadata, 12, body, 0);
    expect(decoded.topics).toEqual([{ topicId: '00000000-0000-0000-0000-000000000000', name: 'orders' }]);
    expect(decoded.allowAutoTopicCreation).toBe(true);
    expect(requestBodyOf(encodeRequestFrame(ApiKey.Metadata, 12, 1, 'peer', decoded), 'peer', true).equals(body)).toBe(true);

    const frame = encodeResponseFrame(ApiKey.Metadata, 12, 1, {
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: 'r1' }],
      clusterId: 'runnel',
      controllerId: 1,
      topics: [{
        name: 'orders',
        topicId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
        partitions: [{ partitionIndex: 0, leaderId: 1, leaderEpoch: 7, replicaNodes: [1], isrNodes: [1] }],
      }],
    });
    const parsed = parseWith(metadataV12.parseResponse as Parse, ApiKey.Metadata, 12, responseBodyOf(frame, true));
    expect(parsed).toMatchObject({
      brokers: [{ nodeId: 1, host: 'localhost', port: 9092, rack: 'r1' }],
      clusterId: 'runnel',
      controllerId: 1,
      topics: [{ name: 'orders', topicId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', partitions: [{ partitionIndex: 0, leaderId: 1, leaderEpoch: 7, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }] }],
    });
  });

  it('ApiVersions v4: our response (header v0) parses with it', () => {
    const frame = encodeResponseFrame(ApiKey.ApiVersions, 4, 1, { apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 3 });
    const parsed = parseWith(apiVersionsV4.parseResponse as Parse, ApiKey.ApiVersions, 4, responseBodyOf(frame, false));
    expect(parsed).toMatchObject({ errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }], throttleTimeMs: 3 });
  });
});
