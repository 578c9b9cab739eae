// The idempotent producer against a scripted broker that plays out the failures: sequences per
// partition, a retried batch keeping its sequence, an epoch bump after OUT_OF_ORDER_SEQUENCE_NUMBER
// with nothing before it, idempotence off on request, back-pressure from buffer.memory and
// batches expiring at delivery.timeout.ms.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody } from '../../../core/protocol/index.ts';
import { decodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { BATCH_OFFSETS, compressionOf } from '../../../core/records/header.ts';
import { KafkaTimeoutError } from '../../../runtime/client/errors.ts';
import { Producer, type ProducerOptions } from '../../../runtime/client/producer.ts';
import { answerApiVersions, oneBrokerMetadata, respond, scriptedBroker, type ScriptedBroker } from './scripted-broker.ts';

const brokers: ScriptedBroker[] = [];
afterEach(async () => { await Promise.all(brokers.splice(0).map((broker) => broker.close())); });

interface Produced {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  values: string[];
}

interface Script {
  /** Error code for the nth Produce request; past the end, 0. 'silent' never answers. */
  produceAnswers: (number | 'silent')[];
  produced: Produced[];
  initRequests: { producerId: bigint; producerEpoch: number }[];
  /** The records bytes of each Produce request, when given. */
  sent?: Buffer[];
}

async function start(script: Script): Promise<number> {
  let port = 0;
  let epoch = 0;
  let nextOffset = 0n;
  const broker = await scriptedBroker((header, frame, socket) => {
    if (header.apiKey === ApiKey.ApiVersions) {
      answerApiVersions(socket, header, [{ apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 11 }, { apiKey: ApiKey.InitProducerId, minVersion: 0, maxVersion: 4 }]);
    } else if (header.apiKey === ApiKey.Metadata) {
      respond(socket, header, ApiKey.Metadata, oneBrokerMetadata(port, 'orders'));
    } else if (header.apiKey === ApiKey.InitProducerId) {
      const request = decodeRequestBody(ApiKey.InitProducerId, header.apiVersion, frame, header.bodyOffset);
      script.initRequests.push({ producerId: request.producerId, producerEpoch: request.producerEpoch });
      epoch = request.producerId >= 0n ? request.producerEpoch + 1 : 0;
      respond(socket, header, ApiKey.InitProducerId, { errorCode: 0, producerId: 77n, producerEpoch: epoch });
    } else if (header.apiKey === ApiKey.Produce) {
      const request = decodeRequestBody(ApiKey.Produce, header.apiVersion, frame, header.bodyOffset);
      const records = request.topicData[0]?.partitionData[0]?.records as Buffer;
      const batch = decodeBatch(records);
      script.sent?.push(Buffer.from(records));
      const { producerId, producerEpoch, baseSequence } = batch.header;
      script.produced.push({ producerId, producerEpoch, baseSequence, values: batch.records.map((record) => record.value?.toString() ?? '') });
      const answer = script.produceAnswers[script.produced.length - 1] ?? 0;
      if (answer === 'silent') return;
      const baseOffset = answer === 0 ? nextOffset : -1n;
      if (answer === 0) nextOffset += BigInt(batch.records.length);
      respond(socket, header, ApiKey.Produce, { responses: [{ name: 'orders', partitionResponses: [{ index: 0, errorCode: answer, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n }] }] });
    }
  });
  port = broker.port;
  brokers.push(broker);
  return port;
}

function producer(port: number, options: Partial<ProducerOptions> = {}): Producer {
  return new Producer({ bootstrapServers: `127.0.0.1:${port}`, lingerMs: 0, retryBackoffMs: 10, ...options });
}

describe('idempotent producer', () => {
  it('numbers batches per partition and retries a failed batch with its own sequence', async () => {
    const script: Script = { produceAnswers: [0, 6], produced: [], initRequests: [] };
    const client = producer(await start(script));
    const first = await client.send({ topic: 'orders', messages: [{ value: 'a' }, { value: 'b' }] });
    const second = await client.send({ topic: 'orders', messages: [{ value: 'c' }] });
    expect(first.map((entry) => entry.offset)).toEqual([0n, 1n]);
    expect(second.map((entry) => entry.offset)).toEqual([2n]);
    expect(script.initRequests).toEqual([{ producerId: -1n, producerEpoch: -1 }]);
    expect(script.produced).toEqual([
      { producerId: 77n, producerEpoch: 0, baseSequence: 0, values: ['a', 'b'] },
      { producerId: 77n, producerEpoch: 0, baseSequence: 2, values: ['c'] },
      { producerId: 77n, producerEpoch: 0, baseSequence: 2, values: ['c'] },
    ]);
    await client.close();
  });

  it('bumps the epoch after OUT_OF_ORDER_SEQUENCE_NUMBER and resends the rejected batch from sequence 0', async () => {
    const script: Script = { produceAnswers: [0, 45], produced: [], initRequests: [] };
    const client = producer(await start(script));
    await client.send({ topic: 'orders', messages: [{ value: 'a' }] });
    const metadata = await client.send({ topic: 'orders', messages: [{ value: 'b' }, { value: 'c' }] });
    expect(metadata.map((entry) => entry.offset)).toEqual([1n, 2n]);
    expect(script.initRequests).toEqual([{ producerId: -1n, producerEpoch: -1 }, { producerId: 77n, producerEpoch: 0 }]);
    expect(script.produced.map(({ producerEpoch, baseSequence, values }) => ({ producerEpoch, baseSequence, values }))).toEqual([
      { producerEpoch: 0, baseSequence: 0, values: ['a'] },
      { producerEpoch: 0, baseSequence: 1, values: ['b', 'c'] },
      { producerEpoch: 1, baseSequence: 0, values: ['b', 'c'] },
    ]);
    expect(client.producerIdentity).toEqual({ producerId: 77n, producerEpoch: 1 });
    await client.close();
  });

  it('stamps a compressed batch with its producer fields before its CRC, and again under a bumped epoch', async () => {
    const script: Script = { produceAnswers: [0, 45], produced: [], initRequests: [], sent: [] };
    const client = producer(await start(script), { compression: 'gzip' });
    await client.send({ topic: 'orders', messages: [{ value: 'a' }] });
    await client.send({ topic: 'orders', messages: [{ value: 'b' }, { value: 'c' }] });
    // decodeBatch checked each send's CRC over the producer fields it carries.
    expect(script.produced.map(({ producerId, producerEpoch, baseSequence, values }) => ({ producerId, producerEpoch, baseSequence, values }))).toEqual([
      { producerId: 77n, producerEpoch: 0, baseSequence: 0, values: ['a'] },
      { producerId: 77n, producerEpoch: 0, baseSequence: 1, values: ['b', 'c'] },
      { producerId: 77n, producerEpoch: 1, baseSequence: 0, values: ['b', 'c'] },
    ]);
    const sent = script.sent as Buffer[];
    expect(sent.map((bytes) => compressionOf(decodeBatch(bytes).header.attributes))).toEqual([CompressionCodec.Gzip, CompressionCodec.Gzip, CompressionCodec.Gzip]);
    // The resent batch is the same compressed records under new producer fields.
    expect(sent[2]?.subarray(BATCH_OFFSETS.records)).toEqual(sent[1]?.subarray(BATCH_OFFSETS.records));
    await client.close();
  });

  it('sends no producer id when idempotence is turned off', async () => {
    const script: Script = { produceAnswers: [], produced: [], initRequests: [] };
    const client = producer(await start(script), { 'enable.idempotence': false });
    await client.send({ topic: 'orders', messages: [{ value: 'a' }] });
    expect(script.initRequests).toEqual([]);
    expect(script.produced).toEqual([{ producerId: -1n, producerEpoch: -1, baseSequence: -1, values: ['a'] }]);
    await client.close();
  });

  it('refuses idempotence with acks=1 and more than five requests in flight', () => {
    expect(() => new Producer({ bootstrapServers: 'a:1', idempotent: true, acks: 1 })).toThrow(/acks=all/);
    expect(() => new Producer({ bootstrapServers: 'a:1', idempotent: true, 'max.in.flight.requests.per.connection': 6 })).toThrow(/at most 5/);
    expect(new Producer({ bootstrapServers: 'a:1', acks: 1 }).options.idempotent).toBe(false);
  });

  it('makes send() wait for buffer.memory and fail after max.block.ms', async () => {
    const script: Script = { produceAnswers: ['silent'], produced: [], initRequests: [] };
    const client = producer(await start(script), { bufferMemory: 2_048, maxBlockMs: 200, deliveryTimeoutMs: 60_000, requestTimeoutMs: 30_000 });
    const big = 'x'.repeat(1_500);
    const held = client.send({ topic: 'orders', messages: [{ value: big }] });
    held.catch(() => undefined);
    const started = Date.now();
    const blocked = await client.send({ topic: 'orders', messages: [{ value: big }] }).catch((error: unknown) => error);
    expect(blocked).toBeInstanceOf(KafkaTimeoutError);
    expect((blocked as Error).message).toMatch(/buffer.memory/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(script.produced).toHaveLength(1);
  });

  it('fails a batch that got no answer within delivery.timeout.ms', async () => {
    const script: Script = { produceAnswers: ['silent', 'silent', 'silent', 'silent', 'silent', 'silent'], produced: [], initRequests: [] };
    const client = producer(await start(script), { requestTimeoutMs: 100, deliveryTimeoutMs: 400 });
    const failure = await client.send({ topic: 'orders', messages: [{ value: 'late' }] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaTimeoutError);
    // The same batch was sent more than once, always with sequence 0, until the budget ran out.
    expect(script.produced.length).toBeGreaterThan(1);
    expect(new Set(script.produced.map((entry) => entry.baseSequence))).toEqual(new Set([0]));
  });
});
