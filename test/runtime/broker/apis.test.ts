// The broker's APIs one by one against a real broker process, over the wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { encodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';

let broker: BrokerProcess;
let connection: RawConnection;
let correlationId = 100;

beforeAll(async () => {
  broker = await startBroker({ overrides: { 'num.partitions': '2' } });
  connection = await RawConnection.connect(broker.port);
});
afterAll(async () => { connection.destroy(); await cleanup(); });

const call = async (apiKey: number, version: number, body: unknown): Promise<any> => (await connection.request(apiKey, version, body, correlationId++)).body;

async function createTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<any> {
  const response = await call(ApiKey.CreateTopics, 7, {
    topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })) }],
    timeoutMs: 5000, validateOnly: false,
  });
  return response.topics[0];
}

async function produce(topic: string, partition: number, records: { value: string; timestamp?: number; key?: string }[]): Promise<any> {
  const batch = encodeBatch({ compression: CompressionCodec.None, records: records.map((r) => ({ key: r.key ?? null, value: r.value, timestamp: r.timestamp })) });
  const response = await call(ApiKey.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] });
  return response.responses[0].partitionResponses[0];
}

async function listOffset(topic: string, partition: number, timestamp: bigint, version = 7): Promise<any> {
  const response = await call(ApiKey.ListOffsets, version, { replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp }] }] });
  return response.topics[0].partitions[0];
}

describe('broker APIs', () => {
  it('advertises every API it serves, within the definitions', async () => {
    const response = await call(ApiKey.ApiVersions, 3, { clientSoftwareName: 'apis-test', clientSoftwareVersion: '1.0' });
    const byKey = new Map<number, { minVersion: number; maxVersion: number }>(response.apiKeys.map((k: any) => [k.apiKey, k]));
    for (const [key, max] of [[0, 11], [1, 16], [2, 7], [3, 12], [8, 9], [9, 9], [10, 6], [11, 9], [12, 4], [13, 5], [14, 5], [15, 5], [16, 5], [18, 3], [19, 7], [20, 6], [21, 2], [22, 5], [32, 4], [33, 2], [37, 3], [42, 2], [44, 1]]) {
      expect(byKey.get(key!)?.maxVersion, `api ${key}`).toBe(max);
    }
  });

  it('auto-creates a topic named in Metadata and lists all topics for a null list', async () => {
    const named = await call(ApiKey.Metadata, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'auto-made' }], allowAutoTopicCreation: true, includeTopicAuthorizedOperations: false });
    expect(named.topics[0].errorCode).toBe(ErrorCode.NONE);
    expect(named.topics[0].partitions).toHaveLength(2);
    const refused = await call(ApiKey.Metadata, 12, { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'not-made' }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    expect(refused.topics[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const all = await call(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    expect(all.topics.map((t: any) => t.name)).toContain('auto-made');
    expect(all.topics.map((t: any) => t.name)).not.toContain('not-made');
    expect(all.brokers).toEqual([expect.objectContaining({ nodeId: 1, host: '127.0.0.1', port: broker.port })]);
  });

  it('lists offsets: earliest, latest, by time and max timestamp', async () => {
    expect((await createTopic('timed', 1)).errorCode).toBe(ErrorCode.NONE);
    await produce('timed', 0, [{ value: 'a', timestamp: 1000 }, { value: 'b', timestamp: 2000 }]);
    await produce('timed', 0, [{ value: 'c', timestamp: 3000 }, { value: 'd', timestamp: 5000 }, { value: 'e', timestamp: 4000 }]);
    expect((await listOffset('timed', 0, -2n)).offset).toBe(0n);
    expect((await listOffset('timed', 0, -1n)).offset).toBe(5n);
    expect((await listOffset('timed', 0, 0n)).offset).toBe(0n);
    expect((await listOffset('timed', 0, 2000n)).offset).toBe(1n);
    expect((await listOffset('timed', 0, 2500n)).offset).toBe(2n);
    expect((await listOffset('timed', 0, 4500n)).offset).toBe(3n);
    expect((await listOffset('timed', 0, 9000n)).offset).toBe(-1n);
    const max = await listOffset('timed', 0, -3n);
    expect([max.offset, max.timestamp]).toEqual([3n, 5000n]);
    expect((await listOffset('missing-topic', 0, -1n)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('long-polls a fetch until records arrive', async () => {
    await createTopic('polled', 1);
    const fetchBody = {
      replicaId: -1, maxWaitMs: 5000, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'polled', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    };
    const poller = await RawConnection.connect(broker.port);
    const pending = poller.request(ApiKey.Fetch, 11, fetchBody);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await produce('polled', 0, [{ value: 'woke-up' }]);
    const response = (await pending).body;
    poller.destroy();
    expect(response.responses[0].partitions[0].highWatermark).toBe(1n);
    expect((response.responses[0].partitions[0].records as Buffer).toString('latin1')).toContain('woke-up');
    // With nothing to read, maxWaitMs bounds the wait and the answer is empty.
    const empty = await call(ApiKey.Fetch, 11, { ...fetchBody, maxWaitMs: 200, topics: [{ topic: 'polled', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 1n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }] });
    expect(empty.responses[0].partitions[0].records.length).toBe(0);
    const outOfRange = await call(ApiKey.Fetch, 11, { ...fetchBody, maxWaitMs: 0, topics: [{ topic: 'polled', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 99n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }] });
    expect(outOfRange.responses[0].partitions[0].errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('fetches by topic id from version 13', async () => {
    const created = await createTopic('by-id', 1);
    await produce('by-id', 0, [{ value: 'found-by-id' }]);
    const response = await call(ApiKey.Fetch, 13, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topicId: created.topicId, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    expect(response.responses[0].topicId).toBe(created.topicId);
    expect((response.responses[0].partitions[0].records as Buffer).toString('latin1')).toContain('found-by-id');
  });

  it('describes every topic config with defaults and alters them', async () => {
    await createTopic('configured', 1, { 'retention.ms': '60000' });
    const describe = async () => (await call(ApiKey.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: 'configured', configurationKeys: null }], includeSynonyms: true, includeDocumentation: true })).results[0];
    const before = await describe();
    const byName = new Map<string, any>(before.configs.map((c: any) => [c.name, c]));
    for (const name of ['cleanup.policy', 'retention.ms', 'retention.bytes', 'segment.bytes', 'segment.ms', 'max.message.bytes', 'message.timestamp.type', 'min.insync.replicas']) {
      expect(byName.has(name), name).toBe(true);
    }
    expect(byName.get('retention.ms')).toMatchObject({ value: '60000', configSource: 1 });
    expect(byName.get('segment.bytes')).toMatchObject({ value: '1073741824', configSource: 5 });

    const incremental = await call(ApiKey.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 2, resourceName: 'configured', configs: [{ name: 'cleanup.policy', configOperation: 0, value: 'compact' }, { name: 'retention.ms', configOperation: 1, value: null }] }], validateOnly: false });
    expect(incremental.responses[0].errorCode).toBe(ErrorCode.NONE);
    const after = new Map<string, any>((await describe()).configs.map((c: any) => [c.name, c]));
    expect(after.get('cleanup.policy')).toMatchObject({ value: 'compact', configSource: 1 });
    expect(after.get('retention.ms')).toMatchObject({ value: '604800000', configSource: 5 });

    const bad = await call(ApiKey.AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName: 'configured', configs: [{ name: 'segment.bytes', value: 'huge' }] }], validateOnly: false });
    expect(bad.responses[0].errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect(bad.responses[0].errorMessage).toMatch(/segment\.bytes=huge/);
    const replaced = await call(ApiKey.AlterConfigs, 2, { resources: [{ resourceType: 2, resourceName: 'configured', configs: [{ name: 'retention.bytes', value: '1000000' }] }], validateOnly: false });
    expect(replaced.responses[0].errorCode).toBe(ErrorCode.NONE);
    const final = new Map<string, any>((await describe()).configs.map((c: any) => [c.name, c]));
    expect(final.get('retention.bytes').value).toBe('1000000');
    expect(final.get('cleanup.policy').value).toBe('delete');
  });

  it('rejects keyless records on a compacted topic', async () => {
    await createTopic('compacted', 1, { 'cleanup.policy': 'compact' });
    expect((await produce('compacted', 0, [{ value: 'no key' }])).errorCode).toBe(ErrorCode.INVALID_RECORD);
    expect((await produce('compacted', 0, [{ key: 'k', value: 'keyed' }])).errorCode).toBe(ErrorCode.NONE);
  });

  it('grows partitions, deletes records and deletes topics', async () => {
    await createTopic('growing', 1);
    const grown = await call(ApiKey.CreatePartitions, 3, { topics: [{ name: 'growing', count: 4, assignments: null }], timeoutMs: 5000, validateOnly: false });
    expect(grown.results[0].errorCode).toBe(ErrorCode.NONE);
    const shrink = await call(ApiKey.CreatePartitions, 3, { topics: [{ name: 'growing', count: 2, assignments: null }], timeoutMs: 5000, validateOnly: false });
    expect(shrink.results[0].errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    expect((await produce('growing', 3, [{ value: 'x' }, { value: 'y' }, { value: 'z' }])).errorCode).toBe(ErrorCode.NONE);
    const deleted = await call(ApiKey.DeleteRecords, 2, { topics: [{ name: 'growing', partitions: [{ partitionIndex: 3, offset: 2n }] }], timeoutMs: 5000 });
    expect(deleted.topics[0].partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, lowWatermark: 2n });
    expect((await listOffset('growing', 3, -2n)).offset).toBe(2n);
    const dropped = await call(ApiKey.DeleteTopics, 6, { topics: [{ name: 'growing', topicId: '00000000-0000-0000-0000-000000000000' }], timeoutMs: 5000 });
    expect(dropped.responses[0].errorCode).toBe(ErrorCode.NONE);
    const again = await call(ApiKey.DeleteTopics, 4, { topicNames: ['growing'], timeoutMs: 5000 });
    expect(again.responses[0].errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('round-trips offset commit metadata and deletes an empty group', async () => {
    await createTopic('committed', 2);
    const commit = await call(ApiKey.OffsetCommit, 8, {
      groupId: 'simple-group', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: 'committed', partitions: [{ partitionIndex: 1, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: 'checkpoint {"a":1}' }] }],
    });
    expect(commit.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
    const fetched = await call(ApiKey.OffsetFetch, 8, { groups: [{ groupId: 'simple-group', topics: null }], requireStable: false });
    expect(fetched.groups[0].topics[0].partitions[0]).toMatchObject({ partitionIndex: 1, committedOffset: 42n, metadata: 'checkpoint {"a":1}' });
    const old = await call(ApiKey.OffsetFetch, 5, { groupId: 'simple-group', topics: [{ name: 'committed', partitionIndexes: [0, 1] }], requireStable: false });
    expect(old.topics[0].partitions.map((p: any) => p.committedOffset)).toEqual([-1n, 42n]);
    const listed = await call(ApiKey.ListGroups, 4, { statesFilter: [] });
    expect(listed.groups.map((g: any) => g.groupId)).toContain('simple-group');
    const deleted = await call(ApiKey.DeleteGroups, 2, { groupsNames: ['simple-group', 'never-existed'] });
    expect(deleted.results.map((r: any) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.GROUP_ID_NOT_FOUND]);
  });

  it('answers acks=0 with no response at all', async () => {
    await createTopic('fire-and-forget', 1);
    const silent = await RawConnection.connect(broker.port);
    const batch = encodeBatch({ compression: CompressionCodec.None, records: [{ value: 'unacknowledged' }] });
    const { encodeRequestFrame } = await import('../../../core/protocol/index.ts');
    silent.write(encodeRequestFrame(ApiKey.Produce, 9, 1, 'acks0', { transactionalId: null, acks: 0, timeoutMs: 5000, topicData: [{ name: 'fire-and-forget', partitionData: [{ index: 0, records: batch }] }] } as never));
    const next = await silent.request(ApiKey.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'fire-and-forget', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] }] }, 2);
    // The first frame back answers the second request: the produce got none.
    expect(next.correlationId).toBe(2);
    expect(next.body.topics[0].partitions[0].offset).toBe(1n);
    silent.destroy();
  });
});
