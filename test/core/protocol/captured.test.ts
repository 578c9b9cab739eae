// Frames written out byte by byte from the protocol grammar, as real clients send them, and
// checked in both directions: our decoder reads them and our encoder reproduces them exactly.
import { describe, expect, it } from 'vitest';
import {
  ApiKey,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  encodeResponseFrameChunks,
  ProtocolDecodeError,
  ProtocolEncodeError,
} from '../../../core/protocol/index.ts';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function ascii(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex');
}

/** Prepends the 4-byte size prefix to a frame. */
function sized(frame: Buffer): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(frame.length);
  return Buffer.concat([prefix, frame]);
}

// ApiVersions v3 as librdkafka sends it first: header v2 (client id stays a classic
// nullable string, then an empty tagged-field section) and a compact-string body.
const API_VERSIONS_V3_REQUEST = hex(
  `0012 0003 00000001 0007 ${ascii('rdkafka')} 00` + `0b ${ascii('librdkafka')} 06 ${ascii('2.0.2')} 00`,
);

describe('captured request frames', () => {
  it('reads and reproduces an ApiVersions v3 request from librdkafka', () => {
    const header = decodeRequestHeader(API_VERSIONS_V3_REQUEST);
    expect(header).toEqual({ apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'rdkafka', bodyOffset: 18, status: 'ok' });
    const body = decodeRequestBody(ApiKey.ApiVersions, 3, API_VERSIONS_V3_REQUEST, header.bodyOffset);
    expect(body).toEqual({ clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
    const frame = encodeRequestFrame(ApiKey.ApiVersions, 3, 1, 'rdkafka', body);
    expect(frame.toString('hex')).toBe(sized(API_VERSIONS_V3_REQUEST).toString('hex'));
  });

  it('reads and reproduces a Metadata v1 request for one topic and for all topics', () => {
    const oneTopic = hex(`0003 0001 0000002a 0007 ${ascii('kafkajs')} 00000001 0004 ${ascii('test')}`);
    const header = decodeRequestHeader(oneTopic);
    expect(header).toMatchObject({ apiKey: 3, apiVersion: 1, correlationId: 42, clientId: 'kafkajs', bodyOffset: 17 });
    expect(decodeRequestBody(ApiKey.Metadata, 1, oneTopic, header.bodyOffset)).toEqual({
      topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'test' }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(encodeRequestFrame(ApiKey.Metadata, 1, 42, 'kafkajs', { topics: [{ name: 'test' }] }).equals(sized(oneTopic))).toBe(true);

    const allTopics = hex(`0003 0001 0000002b ffff ffffffff`);
    const allHeader = decodeRequestHeader(allTopics);
    expect(allHeader.clientId).toBeNull();
    expect(decodeRequestBody(ApiKey.Metadata, 1, allTopics, allHeader.bodyOffset).topics).toBeNull();
    expect(encodeRequestFrame(ApiKey.Metadata, 1, 43, null, { topics: null }).equals(sized(allTopics))).toBe(true);
  });

  it('writes a nullable struct as an int8 marker (DescribeTopicPartitions cursor)', () => {
    const withoutCursor = hex(`004b 0000 00000005 0001 ${ascii('c')} 00` + `02 02${ascii('a')} 00 000007d0 ff 00`);
    const withCursor = hex(`004b 0000 00000005 0001 ${ascii('c')} 00` + `02 02${ascii('a')} 00 000007d0 01 02${ascii('a')} 00000003 00 00`);
    const topics = [{ name: 'a' }];
    expect(encodeRequestFrame(ApiKey.DescribeTopicPartitions, 0, 5, 'c', { topics }).equals(sized(withoutCursor))).toBe(true);
    const cursor = { topicName: 'a', partitionIndex: 3 };
    expect(encodeRequestFrame(ApiKey.DescribeTopicPartitions, 0, 5, 'c', { topics, cursor }).equals(sized(withCursor))).toBe(true);
    expect(decodeRequestBody(ApiKey.DescribeTopicPartitions, 0, withCursor, 12).cursor).toEqual(cursor);
    expect(decodeRequestBody(ApiKey.DescribeTopicPartitions, 0, withoutCursor, 12).cursor).toBeNull();
  });

  it('reports unknown API keys and versions in the header instead of throwing', () => {
    const unknownKey = hex(`03e7 0000 00000009 0001 ${ascii('x')} deadbeef`);
    expect(decodeRequestHeader(unknownKey)).toEqual({
      apiKey: 999, apiVersion: 0, correlationId: 9, clientId: 'x', bodyOffset: 11, status: 'unknown-api',
    });
    // A future ApiVersions version is flexible, so its header carries a tagged-field section.
    const futureVersion = hex(`0012 0063 0000000a 0001 ${ascii('x')} 00 0000`);
    expect(decodeRequestHeader(futureVersion)).toMatchObject({ apiVersion: 99, bodyOffset: 12, status: 'unsupported-version' });
    expect(() => decodeRequestBody(ApiKey.ApiVersions, 99, futureVersion, 12)).toThrow(ProtocolDecodeError);
  });
});

describe('captured response frames', () => {
  it('reads and reproduces an ApiVersions v0 response', () => {
    const frame = hex('00000001 0000 00000002 0000 0000 0007 0012 0000 0002');
    const { correlationId, body } = decodeResponseFrame(ApiKey.ApiVersions, 0, frame);
    expect(correlationId).toBe(1);
    expect(body.errorCode).toBe(0);
    expect(body.apiKeys).toEqual([
      { apiKey: 0, minVersion: 0, maxVersion: 7 },
      { apiKey: 18, minVersion: 0, maxVersion: 2 },
    ]);
    expect(body.throttleTimeMs).toBe(0);
    expect(body.finalizedFeaturesEpoch).toBe(-1n);
    expect(encodeResponseFrame(ApiKey.ApiVersions, 0, 1, { apiKeys: body.apiKeys }).equals(sized(frame))).toBe(true);
  });

  it('reads the version 0 UNSUPPORTED_VERSION answer to a newer ApiVersions request', () => {
    // The broker knows ApiVersions 0-2 only; librdkafka asked for v3.
    const frame = hex('00000001 0023 00000001 0012 0000 0002');
    const { body } = decodeResponseFrame(ApiKey.ApiVersions, 3, frame);
    expect(body.errorCode).toBe(35);
    expect(body.apiKeys).toEqual([{ apiKey: 18, minVersion: 0, maxVersion: 2 }]);
    // A version 0 body with any other error code is not that answer and stays an error.
    expect(() => decodeResponseFrame(ApiKey.ApiVersions, 3, hex('00000001 0000 00000001 0012 0000 0002'))).toThrow(ProtocolDecodeError);
  });

  it('uses response header v0 for ApiVersions even in flexible versions', () => {
    // No tagged-field byte after the correlation id, but a flexible body.
    const frame = hex('00000001 0000 02 0012 0000 0004 00 00000000 00');
    const apiKeys = [{ apiKey: 18, minVersion: 0, maxVersion: 4 }];
    expect(encodeResponseFrame(ApiKey.ApiVersions, 3, 1, { apiKeys }).equals(sized(frame))).toBe(true);
    expect(decodeResponseFrame(ApiKey.ApiVersions, 3, frame).body.apiKeys).toEqual(apiKeys);
    // Other flexible responses do carry the header's tagged-field section.
    const heartbeat = encodeResponseFrame(ApiKey.Heartbeat, 4, 1, {});
    expect(heartbeat.toString('hex')).toBe(sized(hex('00000001 00 00000000 0000 00')).toString('hex'));
  });
});

describe('chunked responses', () => {
  it('gives the same bytes as one frame, with the record batches passed through uncopied', () => {
    const batches = [Buffer.alloc(4096, 0xab), Buffer.alloc(100, 0xcd), Buffer.alloc(9000, 0xef)];
    const body = {
      responses: [{
        topic: 'orders',
        partitions: batches.map((records, partitionIndex) => ({ partitionIndex, highWatermark: 3n, records })),
      }],
    };
    for (const version of [4, 12]) {
      const chunks = encodeResponseFrameChunks(ApiKey.Fetch, version, 99, body);
      const frame = encodeResponseFrame(ApiKey.Fetch, version, 99, body);
      expect(Buffer.concat(chunks).equals(frame), `Fetch v${version}`).toBe(true);
      expect(frame.readInt32BE(0)).toBe(frame.length - 4);
      expect(chunks).toContain(batches[0]);
      const decoded = decodeResponseFrame(ApiKey.Fetch, version, frame.subarray(4));
      const records = decoded.body.responses[0]?.partitions.map((partition) => partition.records) ?? [];
      expect(records.map((batch, index) => batch !== null && batch.equals(batches[index] as Buffer))).toEqual([true, true, true]);
    }
  });
});

describe('tagged fields', () => {
  it('writes a tagged field only when it differs from its default (Produce v10 currentLeader)', () => {
    const partition = { index: 0, errorCode: 0, baseOffset: 10n, logStartOffset: 0n };
    const prefix = `00000007 00 02 02${ascii('t')} 02 00000000 0000 000000000000000a ffffffffffffffff 0000000000000000 01 00`;
    const withDefault = hex(`${prefix} 00 00 00000000 00`);
    const withLeader = hex(`${prefix} 01 00 09 00000002 00000005 00 00 00000000 00`);
    const encode = (extra: object): Buffer =>
      encodeResponseFrame(ApiKey.Produce, 10, 7, { responses: [{ name: 't', partitionResponses: [{ ...partition, ...extra }] }] });
    expect(encode({}).toString('hex')).toBe(sized(withDefault).toString('hex'));
    expect(encode({ currentLeader: { leaderId: -1, leaderEpoch: -1 } }).toString('hex')).toBe(sized(withDefault).toString('hex'));
    expect(encode({ currentLeader: { leaderId: 2, leaderEpoch: 5 } }).toString('hex')).toBe(sized(withLeader).toString('hex'));
    const decoded = decodeResponseFrame(ApiKey.Produce, 10, withLeader).body.responses[0]?.partitionResponses[0];
    expect(decoded?.currentLeader).toEqual({ leaderId: 2, leaderEpoch: 5 });
    expect(decodeResponseFrame(ApiKey.Produce, 10, withDefault).body.responses[0]?.partitionResponses[0]?.currentLeader).toEqual({
      leaderId: -1,
      leaderEpoch: -1,
    });
  });

  it('reads a known top-level tagged field (ApiVersions v3 finalizedFeaturesEpoch)', () => {
    const frame = hex('00000001 0000 01 00000000 01 01 08 0000000000000005');
    const { body } = decodeResponseFrame(ApiKey.ApiVersions, 3, frame);
    expect(body.finalizedFeaturesEpoch).toBe(5n);
    expect(body.zkMigrationReady).toBe(false);
    expect(encodeResponseFrame(ApiKey.ApiVersions, 3, 1, { finalizedFeaturesEpoch: 5n }).equals(sized(frame))).toBe(true);
  });

  it('skips unknown tags in the header and the body', () => {
    const frame = hex(
      `0012 0003 00000001 0007 ${ascii('rdkafka')} 01 05 02 abcd` +
        `0b ${ascii('librdkafka')} 06 ${ascii('2.0.2')} 02 07 03 aabbcc 09 00`,
    );
    const header = decodeRequestHeader(frame);
    expect(header.bodyOffset).toBe(22);
    expect(decodeRequestBody(ApiKey.ApiVersions, 3, frame, header.bodyOffset)).toEqual({
      clientSoftwareName: 'librdkafka',
      clientSoftwareVersion: '2.0.2',
    });
  });

  it('rejects a known tagged field whose size does not match its value', () => {
    const short = hex('00000001 0000 01 00000000 01 01 04 00000005');
    expect(() => decodeResponseFrame(ApiKey.ApiVersions, 3, short)).toThrow(/ApiVersions v3 response: field finalizedFeaturesEpoch/);
    const long = hex('00000001 0000 01 00000000 01 01 09 0000000000000005 00');
    expect(() => decodeResponseFrame(ApiKey.ApiVersions, 3, long)).toThrow(/left 1 of its bytes unread/);
  });
});

describe('encoding mistakes', () => {
  it('names the API, version and field of a value that cannot be encoded', () => {
    const nullName = { topicData: [{ name: null as unknown as string, partitionData: [] }] };
    expect(() => encodeRequestFrame(ApiKey.Produce, 3, 1, null, nullName)).toThrow(ProtocolEncodeError);
    expect(() => encodeRequestFrame(ApiKey.Produce, 3, 1, null, nullName)).toThrow('Produce v3 request: field topicData.name: null is not allowed in version 3');
    expect(() => encodeRequestFrame(ApiKey.Produce, 3, 1, null, { acks: 70000 })).toThrow(/Produce v3 request: field acks: .*range/);
    expect(() => encodeRequestFrame(ApiKey.Fetch, 13, 1, null, { topics: [{ topicId: 'nope' }] })).toThrow(/field topics.topicId: not a UUID/);
    expect(() => encodeRequestFrame(ApiKey.Produce, 99, 1, null, {})).toThrow(/Produce v99 request: not a known API version/);
  });

  it('fills every field left out with its default', () => {
    const frame = encodeRequestFrame(ApiKey.Fetch, 4, 1, null, {});
    // After the 14 bytes of size and header: replicaId -1, maxWaitMs 0, minBytes 0, maxBytes 0x7fffffff, isolationLevel 0, no topics.
    expect(frame.subarray(14).toString('hex')).toBe('ffffffff' + '00000000' + '00000000' + '7fffffff' + '00' + '00000000');
  });
});
