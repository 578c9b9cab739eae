// The connection against a scripted broker on a loopback port: version negotiation, the
// ApiVersions step-down, pipelined answers out of order, timeouts, the frame size limit and
// frames read through the connection's reused read buffer.
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../core/limits.ts';
import { ApiKey, decodeRequestBody, encodeResponseFrame, type RequestHeader } from '../../../core/protocol/index.ts';
import { Connection } from '../../../runtime/client/connection.ts';
import { KafkaConnectionError, KafkaTimeoutError, KafkaVersionError } from '../../../runtime/client/errors.ts';
import { scriptedBroker, type Handler, type ScriptedBroker } from './scripted-broker.ts';

const brokers: ScriptedBroker[] = [];
afterEach(async () => { await Promise.all(brokers.splice(0).map((broker) => broker.close())); });

async function fakeBroker(handle: Handler): Promise<number> {
  const broker = await scriptedBroker(handle);
  brokers.push(broker);
  return broker.port;
}

const API_KEYS = [
  { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 },
  { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 5 },
  { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 2 },
  { apiKey: ApiKey.Fetch, minVersion: 13, maxVersion: 17 },
];

function answerApiVersions(header: RequestHeader, socket: net.Socket): void {
  socket.write(encodeResponseFrame(ApiKey.ApiVersions, header.apiVersion, header.correlationId, { errorCode: 0, apiKeys: API_KEYS }));
}

function open(port: number, requestTimeoutMs = 5_000): Promise<Connection> {
  return Connection.open({ host: '127.0.0.1', port, clientId: 'test', connectTimeoutMs: 2_000, requestTimeoutMs });
}

describe('Connection', () => {
  it('uses min(client max, broker max) and refuses APIs with no common version', async () => {
    const port = await fakeBroker((header, _frame, socket) => { if (header.apiKey === ApiKey.ApiVersions) answerApiVersions(header, socket); });
    const connection = await open(port);
    expect(connection.versionFor(ApiKey.Metadata)).toBe(5);
    expect(() => connection.versionFor(ApiKey.Produce)).toThrow(KafkaVersionError);
    expect(() => connection.versionFor(ApiKey.Produce)).toThrow(/serves Produce v0-2, the client implements v3-11/);
    expect(() => connection.versionFor(ApiKey.Fetch)).toThrow(/no common version/);
    expect(() => connection.versionFor(ApiKey.CreateTopics)).toThrow(/does not support CreateTopics/);
    connection.close();
  });

  it('steps down to ApiVersions v0 when the broker answers v3 with UNSUPPORTED_VERSION', async () => {
    const seen: number[] = [];
    const port = await fakeBroker((header, _frame, socket) => {
      seen.push(header.apiVersion);
      if (header.apiVersion > 0) socket.write(encodeResponseFrame(ApiKey.ApiVersions, 0, header.correlationId, { errorCode: 35, apiKeys: API_KEYS }));
      else answerApiVersions(header, socket);
    });
    const connection = await open(port);
    expect(seen).toEqual([3, 0]);
    expect(connection.versionFor(ApiKey.Metadata)).toBe(5);
    connection.close();
  });

  it('routes pipelined responses by correlation id even when they come back out of order', async () => {
    const held: { header: RequestHeader; socket: net.Socket; topic: string }[] = [];
    const port = await fakeBroker((header, frame, socket) => {
      if (header.apiKey === ApiKey.ApiVersions) return answerApiVersions(header, socket);
      const body = decodeRequestBody(ApiKey.Metadata, header.apiVersion, frame, header.bodyOffset);
      held.push({ header, socket, topic: body.topics?.[0]?.name ?? '' });
      if (held.length === 3) {
        for (const entry of held.reverse()) {
          entry.socket.write(encodeResponseFrame(ApiKey.Metadata, entry.header.apiVersion, entry.header.correlationId, {
            brokers: [], topics: [{ errorCode: 3, name: entry.topic, partitions: [] }],
          }));
        }
      }
    });
    const connection = await open(port);
    const answers = await Promise.all(['a', 'b', 'c'].map((name) => connection.send(ApiKey.Metadata, { topics: [{ name }] })));
    expect(answers.map((answer) => answer.body.topics[0]?.name)).toEqual(['a', 'b', 'c']);
    connection.close();
  });

  it('times a request out without closing the connection', async () => {
    let answered = 0;
    const port = await fakeBroker((header, _frame, socket) => {
      if (header.apiKey === ApiKey.ApiVersions) {
        answered += 1;
        answerApiVersions(header, socket);
      }
    });
    const connection = await open(port, 200);
    await expect(connection.send(ApiKey.Metadata, { topics: [] })).rejects.toBeInstanceOf(KafkaTimeoutError);
    expect(connection.closed).toBe(false);
    expect(answered).toBe(1);
    connection.close();
  });

  it('closes the connection on a frame above responseFrameBytesMax and fails pending requests', async () => {
    const port = await fakeBroker((header, _frame, socket) => {
      if (header.apiKey === ApiKey.ApiVersions) return answerApiVersions(header, socket);
      const huge = Buffer.alloc(8);
      huge.writeInt32BE(LIMITS.responseFrameBytesMax + 1, 0);
      huge.writeInt32BE(header.correlationId, 4);
      socket.write(huge);
    });
    const connection = await open(port);
    const failure = await connection.send(ApiKey.Metadata, { topics: [] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaConnectionError);
    expect(String(failure)).toMatch(/frame of \d+ bytes \(limit/);
    expect(connection.closed).toBe(true);
  });

  it('reports a refused connection as a retriable connection error', async () => {
    const port = await fakeBroker(() => undefined);
    await brokers.pop()?.close();
    const failure = await open(port).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaConnectionError);
    expect((failure as KafkaConnectionError).retriable).toBe(true);
  });

  it('reassembles large and small frames whatever the chunk boundaries', async () => {
    const brokers = Array.from({ length: 30_000 }, (_, nodeId) => ({ nodeId, host: `host-${nodeId}`.padEnd(100, '.'), port: 9092, rack: null }));
    const port = await fakeBroker((header, _frame, socket) => {
      if (header.apiKey === ApiKey.ApiVersions) { answerApiVersions(header, socket); return; }
      // Two answers (a 3 MB one, then a small one) written in odd-sized pieces that straddle both.
      const frames = Buffer.concat([
        encodeResponseFrame(ApiKey.Metadata, header.apiVersion, header.correlationId, { brokers, clusterId: 'big', controllerId: 1, topics: [] }),
        encodeResponseFrame(ApiKey.Metadata, header.apiVersion, header.correlationId + 1, { brokers: [], clusterId: 'small', controllerId: 2, topics: [] }),
      ]);
      for (let at = 0; at < frames.length; at += 65_533) socket.write(frames.subarray(at, at + 65_533));
    });
    const connection = await open(port);
    const [first, second] = await Promise.all([connection.send(ApiKey.Metadata, { topics: [] }), connection.send(ApiKey.Metadata, { topics: [] })]);
    expect(first.body.brokers).toHaveLength(30_000);
    expect(first.body.brokers[29_999]?.host).toBe('host-29999'.padEnd(100, '.'));
    expect(second.body.controllerId).toBe(2);
    connection.close();
  });
  it('keeps each answer its own bytes though the socket is read into one reused buffer', async () => {
    // Fetch answers whose records are 300 bytes of the request's correlation id: a decoded
    // answer's records are views into its frame, so they must not change as later reads come.
    const answer = (header: RequestHeader): Buffer => encodeResponseFrame(ApiKey.Fetch, header.apiVersion, header.correlationId, {
      throttleTimeMs: 0, errorCode: 0, sessionId: 0,
      responses: [{ topic: 't', partitions: [{
        partitionIndex: 0, errorCode: 0, highWatermark: 0n, lastStableOffset: 0n, logStartOffset: 0n,
        abortedTransactions: null, preferredReadReplica: -1, records: Buffer.alloc(300, header.correlationId),
      }] }],
    });
    let answered: RequestHeader[] = [];
    const port = await fakeBroker((header, _frame, socket) => {
      if (header.apiKey === ApiKey.ApiVersions) {
        socket.write(encodeResponseFrame(ApiKey.ApiVersions, header.apiVersion, header.correlationId, { errorCode: 0, apiKeys: [...API_KEYS.slice(0, 3), { apiKey: ApiKey.Fetch, minVersion: 4, maxVersion: 12 }] }));
        return;
      }
      answered.push(header);
      if (answered.length < 3) return;
      // Three answers at once: whole in one write, then in 7-byte pieces that each arrive alone.
      const frames = Buffer.concat(answered.map(answer));
      answered = [];
      void (async () => {
        if (frames.readInt8(7) % 2 === 0) { socket.write(frames); return; }
        for (let at = 0; at < frames.length; at += 7) {
          socket.write(frames.subarray(at, at + 7));
          await sleep(1);
        }
      })();
    });
    const connection = await open(port);
    const fetch = () => connection.send(ApiKey.Fetch, {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1024 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const records: Buffer[] = [];
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all([fetch(), fetch(), fetch()]);
      for (const { body } of answers) records.push(body.responses[0]?.partitions[0]?.records as Buffer);
    }
    // Correlation ids 2 to 13 (1 was ApiVersions), each answer still holding its own.
    expect(records.map((bytes) => [...new Set(bytes)])).toEqual(Array.from({ length: 12 }, (_, index) => [index + 2]));
    expect(records.every((bytes) => bytes.length === 300)).toBe(true);
    connection.close();
  });
});
