// Idempotence under a crash: the broker is SIGKILLed and restarted while the Runnel producer has
// up to five requests in flight per connection. Requests whose answers were lost are retried
// with their original sequences; the broker, which rebuilt its producer state from the log,
// drops the ones it had written. A raw read of every partition afterwards must show each record
// exactly once and, within a partition, in the order it was sent.
import { afterAll, describe, expect, it } from 'vitest';
import { Admin } from '../../runtime/client/admin.ts';
import { Consumer } from '../../runtime/client/consumer.ts';
import { Producer, type RecordMetadata } from '../../runtime/client/producer.ts';
import { cleanup, startBroker } from '../helpers/broker.ts';

afterAll(cleanup);

const PARTITIONS = 3;
const RECORDS = 60_000;
const PER_SEND = 100;

async function readPartition(bootstrapServers: string, topic: string, partition: number, end: bigint): Promise<{ offset: bigint; value: string }[]> {
  const reader = new Consumer({ bootstrapServers, fetchMaxWaitMs: 100, maxPollRecords: 100_000 });
  reader.assign([{ topic, partition, offset: 0n }]);
  const records: { offset: bigint; value: string }[] = [];
  const deadline = Date.now() + 30_000;
  while ((records.at(-1)?.offset ?? -1n) < end - 1n && Date.now() < deadline) {
    for (const record of await reader.poll({ timeoutMs: 500 })) records.push({ offset: record.offset, value: record.value?.toString() ?? '' });
  }
  await reader.close();
  return records;
}

describe('idempotent producer across a broker SIGKILL', () => {
  it('writes every record exactly once and in order while requests are pipelined', async () => {
    let broker = await startBroker();
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic: 'crash', numPartitions: PARTITIONS }]);
    await admin.close();
    const producer = new Producer({
      bootstrapServers: broker.bootstrap, lingerMs: 1, batchSize: 4_096, maxInFlightRequests: 5,
      retryBackoffMs: 50, requestTimeoutMs: 5_000, deliveryTimeoutMs: 90_000,
    });
    await producer.connect();
    expect(producer.producerIdentity.producerId).toBeGreaterThanOrEqual(0n);

    let acknowledged = 0;
    const sends: Promise<RecordMetadata[]>[] = [];
    for (let start = 0; start < RECORDS; start += PER_SEND) {
      const messages = Array.from({ length: PER_SEND }, (_, index) => ({ value: String(start + index).padStart(100, '0'), partition: (start + index) % PARTITIONS }));
      sends.push(producer.send({ topic: 'crash', messages }).then((metadata) => { acknowledged += metadata.length; return metadata; }));
    }
    // Crash the broker once a third of the records are acknowledged and the rest are on their way.
    while (acknowledged < RECORDS / 3) await new Promise((resolve) => setImmediate(resolve));
    const killedWith = acknowledged;
    await broker.kill();
    const killed = killedWith < RECORDS;
    broker = await broker.restart();
    expect(killed).toBe(true);
    const results = await Promise.all(sends);
    await producer.close();
    expect(results.flat()).toHaveLength(RECORDS);

    const inspector = new Admin({ bootstrapServers: broker.bootstrap });
    const ends = await inspector.listOffsets('crash', 'latest');
    await inspector.close();
    const seen: number[] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const end = ends.find((entry) => entry.partition === partition)?.offset ?? 0n;
      const records = await readPartition(broker.bootstrap, 'crash', partition, end);
      const values = records.map((record) => Number(record.value));
      // Within a partition the values were sent in increasing order, so they must read back so.
      expect(values.every((value, index) => index === 0 || value > (values[index - 1] as number))).toBe(true);
      expect(values.every((value) => value % PARTITIONS === partition)).toBe(true);
      seen.push(...values);
    }
    expect(seen).toHaveLength(RECORDS);
    expect(new Set(seen).size).toBe(RECORDS);
  });
});
