// The producer's window of requests in flight, against a scripted broker that answers Produce
// only when the test says so: while max.in.flight.requests are unanswered, a linger-0 producer
// keeps filling one open batch (as Kafka's accumulator does) instead of sealing a batch per
// send, and that batch goes out in one request when an answer frees the window.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody } from '../../../core/protocol/index.ts';
import { decodeBatch } from '../../../core/records/batch.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { eventually } from '../../helpers/cluster.ts';
import { answerApiVersions, oneBrokerMetadata, respond, scriptedBroker, type ScriptedBroker } from './scripted-broker.ts';

const brokers: ScriptedBroker[] = [];
afterEach(async () => { await Promise.all(brokers.splice(0).map((broker) => broker.close())); });

interface Held { values: string[]; answer: () => void }

/** Holds every Produce answer until the test calls it, or answers at once once `release` is set. */
async function holdingBroker(held: Held[], mode: { release: boolean }): Promise<number> {
  let port = 0;
  let nextOffset = 0n;
  const broker = await scriptedBroker((header, frame, socket) => {
    if (header.apiKey === ApiKey.ApiVersions) {
      answerApiVersions(socket, header, [{ apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 11 }]);
    } else if (header.apiKey === ApiKey.Metadata) {
      respond(socket, header, ApiKey.Metadata, oneBrokerMetadata(port, 'orders'));
    } else if (header.apiKey === ApiKey.Produce) {
      const request = decodeRequestBody(ApiKey.Produce, header.apiVersion, frame, header.bodyOffset);
      const batch = decodeBatch(request.topicData[0]?.partitionData[0]?.records as Buffer);
      const baseOffset = nextOffset;
      nextOffset += BigInt(batch.records.length);
      const answer = (): void => respond(socket, header, ApiKey.Produce, { responses: [{ name: 'orders', partitionResponses: [{ index: 0, errorCode: 0, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n }] }] });
      held.push({ values: batch.records.map((record) => record.value?.toString() ?? ''), answer });
      if (mode.release) answer();
    }
  });
  port = broker.port;
  brokers.push(broker);
  return port;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('producer window', () => {
  it('fills one batch while the window is full and sends it when an answer frees a place', async () => {
    const held: Held[] = [];
    const mode = { release: false };
    const producer = new Producer({ bootstrapServers: `127.0.0.1:${await holdingBroker(held, mode)}`, lingerMs: 0, acks: 1, idempotent: false, maxInFlightRequests: 2 });
    await producer.connect();
    const sends: Promise<unknown>[] = [];
    // Two sends on separate turns fill the window of two requests.
    for (const value of ['a', 'b']) {
      sends.push(producer.send({ topic: 'orders', messages: [{ value }] }));
      await eventually(`request for ${value}`, () => (held.some((request) => request.values.includes(value)) ? true : undefined), 5_000);
    }
    // Five more, each on its own turn, while both requests wait for their answers.
    for (const value of ['c', 'd', 'e', 'f', 'g']) {
      sends.push(producer.send({ topic: 'orders', messages: [{ value }] }));
      await nextTurn();
      await nextTurn();
    }
    expect(held.map((request) => request.values)).toEqual([['a'], ['b']]);
    held[0]!.answer();
    await eventually('third request', () => (held.length >= 3 ? true : undefined), 5_000);
    mode.release = true;
    for (const request of held.slice(1)) request.answer();
    const results = await Promise.all(sends);
    expect(held.map((request) => request.values)).toEqual([['a'], ['b'], ['c', 'd', 'e', 'f', 'g']]);
    expect(results.flat().map((metadata) => (metadata as { offset: bigint }).offset)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n]);
    await producer.close();
  });
});
