// kafkajs 2.2's idempotent producer against a real broker process that is SIGKILLed and
// restarted while sends are in flight: kafkajs retries with the same sequence numbers, and a
// raw fetch afterwards finds every record exactly once.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startBroker } from '../helpers/broker.ts';
import { RawConnection } from '../helpers/raw-connection.ts';
import { fetchAll } from '../runtime/broker/transaction-requests.ts';

afterAll(cleanup);

const PARTITIONS = 3;
const SENDS = 300;
const RECORDS_PER_SEND = 5;

describe('kafkajs idempotent producer', () => {
  it('stores every record once when the broker dies during pipelined sends', async () => {
    let broker = await startBroker();
    const kafka = new Kafka({
      clientId: 'idempotence-test', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING,
      retry: { retries: 40, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic: 'idempotent-orders', numPartitions: PARTITIONS }], waitForLeaders: true })).toBe(true);
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let acknowledged = 0;
    const sends = Array.from({ length: SENDS }, (_, send) => producer.send({
      topic: 'idempotent-orders',
      acks: -1,
      messages: Array.from({ length: RECORDS_PER_SEND }, (_, index) => ({ key: `key-${send % 17}`, value: `value-${send * RECORDS_PER_SEND + index}` })),
    }).then(() => { acknowledged += 1; }));
    // Kill the broker once part of the sends are through, so others are in flight or queued.
    while (acknowledged < SENDS / 4) await new Promise((resolve) => setTimeout(resolve, 5));
    await broker.kill();
    expect(acknowledged).toBeLessThan(SENDS);
    broker = await broker.restart();
    await Promise.all(sends);
    await producer.disconnect();

    const connection = await RawConnection.connect(broker.port);
    const seen = new Map<string, number>();
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const fetched = await fetchAll(connection, 'idempotent-orders', partition, 0);
      for (const record of fetched.records) seen.set(record.value, (seen.get(record.value) ?? 0) + 1);
    }
    connection.destroy();
    expect(seen.size).toBe(SENDS * RECORDS_PER_SEND);
    expect([...seen.values()].filter((count) => count !== 1)).toEqual([]);
    await broker.stop();
  }, 120_000);
});
