// The consumer's prefetching, against a scripted broker that answers each Fetch with one batch
// of three records at the offset asked for: while the application still holds records of one
// response, the partition's next fetch is already out (two responses per partition at most),
// and records come out whole and in order.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody } from '../../../core/protocol/index.ts';
import { encodeBatch } from '../../../core/records/batch.ts';
import { Consumer } from '../../../runtime/client/consumer.ts';
import { eventually } from '../../helpers/cluster.ts';
import { answerApiVersions, oneBrokerMetadata, respond, scriptedBroker, type ScriptedBroker } from './scripted-broker.ts';

const TOPIC = 'clicks';
const BATCH_RECORDS = 3;
const brokers: ScriptedBroker[] = [];
afterEach(async () => { await Promise.all(brokers.splice(0).map((broker) => broker.close())); });

/** A broker whose partition 0 holds 100 records; returns its port and the fetch offsets asked for. */
async function batchPerFetchBroker(fetchOffsets: bigint[]): Promise<number> {
  let port = 0;
  const broker = await scriptedBroker((header, frame, socket) => {
    if (header.apiKey === ApiKey.ApiVersions) {
      answerApiVersions(socket, header, [{ apiKey: ApiKey.Fetch, minVersion: 4, maxVersion: 12 }]);
    } else if (header.apiKey === ApiKey.Metadata) {
      respond(socket, header, ApiKey.Metadata, oneBrokerMetadata(port, TOPIC));
    } else if (header.apiKey === ApiKey.Fetch) {
      const request = decodeRequestBody(ApiKey.Fetch, header.apiVersion, frame, header.bodyOffset);
      const offset = request.topics[0]?.partitions[0]?.fetchOffset as bigint;
      fetchOffsets.push(offset);
      const records = Array.from({ length: BATCH_RECORDS }, (_, index) => ({ value: `record-${offset + BigInt(index)}` }));
      respond(socket, header, ApiKey.Fetch, {
        throttleTimeMs: 0, errorCode: 0, sessionId: 0,
        responses: [{ topic: TOPIC, partitions: [{
          partitionIndex: 0, errorCode: 0, highWatermark: 100n, lastStableOffset: 100n, logStartOffset: 0n,
          abortedTransactions: null, preferredReadReplica: -1, records: encodeBatch({ baseOffset: offset, records }),
        }] }],
      });
    }
  });
  port = broker.port;
  brokers.push(broker);
  return port;
}

describe('consumer prefetch', () => {
  it('fetches the next response while records of one are still held, and at most two ahead', async () => {
    const fetchOffsets: bigint[] = [];
    const consumer = new Consumer({ bootstrapServers: `127.0.0.1:${await batchPerFetchBroker(fetchOffsets)}`, fetchMaxWaitMs: 100 });
    try {
      consumer.assign([{ topic: TOPIC, partition: 0, offset: 0n }]);
      const first = await consumer.poll({ maxRecords: 1, timeoutMs: 5_000 });
      expect(first.map((record) => record.value?.toString())).toEqual(['record-0']);
      // Two of the first response's records are still held, and the second response is fetched.
      await eventually('a fetch at offset 3', () => (fetchOffsets.includes(3n) ? true : undefined), 5_000);
      // Holding two responses, the partition fetches no further until one is handed out.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(fetchOffsets).toEqual([0n, 3n]);
      const values: string[] = ['record-0'];
      while (values.length < 12) {
        const records = await consumer.poll({ maxRecords: 2, timeoutMs: 5_000 });
        values.push(...records.map((record) => record.value?.toString() ?? ''));
      }
      expect(values.slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, index) => `record-${index}`));
      expect(fetchOffsets.slice(0, 4)).toEqual([0n, 3n, 6n, 9n]);
    } finally {
      await consumer.close();
    }
  });
});
