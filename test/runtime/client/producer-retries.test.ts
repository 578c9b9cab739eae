// The producer's answer to broker errors, against a scripted broker: a retriable error is
// retried after a metadata refresh, a final one fails the records with the Kafka error, and
// retries stop at the configured count.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody } from '../../../core/protocol/index.ts';
import { decodeBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { compressionOf } from '../../../core/records/header.ts';
import { KafkaProtocolError } from '../../../runtime/client/errors.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { answerApiVersions, oneBrokerMetadata, respond, scriptedBroker, type ScriptedBroker } from './scripted-broker.ts';

const brokers: ScriptedBroker[] = [];
afterEach(async () => { await Promise.all(brokers.splice(0).map((broker) => broker.close())); });

interface Script {
  /** Error codes for successive Produce requests; past the end, 0 (success). */
  produceErrors: number[];
  produced: { records: number; values: string[] }[];
  metadataRequests: number;
  /** Answers Metadata requests after the first this much later (a slow broker). */
  metadataDelayMs?: number;
  /** Metadata requests answered when each Produce arrived. */
  metadataAnsweredAtProduce?: number[];
  metadataAnswered?: number;
  /** The records bytes of each Produce request, when given. */
  sent?: Buffer[];
}

async function start(script: Script): Promise<number> {
  let port = 0;
  const broker = await scriptedBroker((header, frame, socket) => {
    if (header.apiKey === ApiKey.ApiVersions) {
      answerApiVersions(socket, header, [{ apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 11 }]);
    } else if (header.apiKey === ApiKey.Metadata) {
      script.metadataRequests += 1;
      const answer = (): void => { script.metadataAnswered = (script.metadataAnswered ?? 0) + 1; respond(socket, header, ApiKey.Metadata, oneBrokerMetadata(port, 'orders')); };
      if (script.metadataRequests > 1 && (script.metadataDelayMs ?? 0) > 0) setTimeout(answer, script.metadataDelayMs);
      else answer();
    } else if (header.apiKey === ApiKey.Produce) {
      const request = decodeRequestBody(ApiKey.Produce, header.apiVersion, frame, header.bodyOffset);
      const records = request.topicData[0]?.partitionData[0]?.records as Buffer;
      const batch = decodeBatch(records);
      script.sent?.push(Buffer.from(records));
      script.produced.push({ records: batch.records.length, values: batch.records.map((record) => record.value?.toString() ?? '') });
      script.metadataAnsweredAtProduce?.push(script.metadataAnswered ?? 0);
      const errorCode = script.produceErrors[script.produced.length - 1] ?? 0;
      respond(socket, header, ApiKey.Produce, { responses: [{ name: 'orders', partitionResponses: [{ index: 0, errorCode, baseOffset: errorCode === 0 ? 40n : -1n, logAppendTimeMs: -1n, logStartOffset: 0n }] }] });
    }
  });
  port = broker.port;
  brokers.push(broker);
  return port;
}

function producer(port: number, retries: number, compression: 'none' | 'gzip' = 'none'): Producer {
  return new Producer({ bootstrapServers: `127.0.0.1:${port}`, lingerMs: 0, retries, retryBackoffMs: 10, compression });
}

describe('producer retries', () => {
  it('retries NOT_LEADER_OR_FOLLOWER with the same batch after refreshing metadata', async () => {
    const script: Script = { produceErrors: [6, 6], produced: [], metadataRequests: 0 };
    const client = producer(await start(script), 5);
    const metadata = await client.send({ topic: 'orders', messages: [{ value: 'a' }, { value: 'b' }] });
    expect(metadata.map((entry) => entry.offset)).toEqual([40n, 41n]);
    expect(script.produced).toEqual([{ records: 2, values: ['a', 'b'] }, { records: 2, values: ['a', 'b'] }, { records: 2, values: ['a', 'b'] }]);
    expect(script.metadataRequests).toBeGreaterThanOrEqual(3);
    await client.close();
  });

  it('sends a batch refused with NOT_LEADER_OR_FOLLOWER again only after metadata fetched since, even from a slow broker', async () => {
    const script: Script = { produceErrors: [6, 6], produced: [], metadataRequests: 0, metadataDelayMs: 150, metadataAnsweredAtProduce: [] };
    const client = producer(await start(script), 5);
    const metadata = await client.send({ topic: 'orders', messages: [{ value: 'a' }] });
    expect(metadata.map((entry) => entry.offset)).toEqual([40n]);
    // Each retry waited for a Metadata answer that came after the error it followed.
    const answered = script.metadataAnsweredAtProduce as number[];
    expect(answered).toHaveLength(3);
    expect(answered[1]).toBeGreaterThan(answered[0] as number);
    expect(answered[2]).toBeGreaterThan(answered[1] as number);
    await client.close();
  });

  it('resends a compressed batch with the bytes and CRC of its first send', async () => {
    const script: Script = { produceErrors: [6, 6], produced: [], metadataRequests: 0, sent: [] };
    const client = producer(await start(script), 5, 'gzip');
    await client.send({ topic: 'orders', messages: [{ value: 'a' }, { value: 'b' }] });
    // decodeBatch checked each send's CRC; the retries are the first send's bytes.
    expect(script.produced).toEqual([{ records: 2, values: ['a', 'b'] }, { records: 2, values: ['a', 'b'] }, { records: 2, values: ['a', 'b'] }]);
    const [first, ...retries] = script.sent as Buffer[];
    expect(compressionOf(decodeBatch(first as Buffer).header.attributes)).toBe(CompressionCodec.Gzip);
    expect(retries).toEqual([first, first]);
    await client.close();
  });

  it('fails at once on an error that is not retriable', async () => {
    const script: Script = { produceErrors: [87], produced: [], metadataRequests: 0 };
    const client = producer(await start(script), 5);
    const failure = await client.send({ topic: 'orders', messages: [{ value: 'x' }] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KafkaProtocolError);
    expect(failure).toMatchObject({ kafkaName: 'INVALID_RECORD', code: 87, retriable: false });
    expect(script.produced).toHaveLength(1);
    await client.close();
  });

  it('gives up after the configured number of retries', async () => {
    const script: Script = { produceErrors: [6, 6, 6, 6, 6], produced: [], metadataRequests: 0 };
    const client = producer(await start(script), 2);
    const failure = await client.send({ topic: 'orders', messages: [{ value: 'x' }] }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ kafkaName: 'NOT_LEADER_OR_FOLLOWER', retriable: true });
    expect(script.produced).toHaveLength(3);
    await client.close();
  });

  it('rejects a partition the topic does not have before sending anything', async () => {
    const script: Script = { produceErrors: [], produced: [], metadataRequests: 0 };
    const client = producer(await start(script), 0);
    await expect(client.send({ topic: 'orders', messages: [{ value: 'ok' }, { value: 'bad', partition: 3 }] })).rejects.toThrow(/partitions 0-0; partition 3 does not exist/);
    await client.flush();
    expect(script.produced).toHaveLength(0);
    await client.close();
  });
});
