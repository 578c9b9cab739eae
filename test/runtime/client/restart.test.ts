// The client rides out a broker restart: connections drop, requests fail with retriable errors,
// and both producer and consumer carry on once the broker is back on the same port.
import { afterAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer, type ConsumerRecord } from '../../../runtime/client/consumer.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';

afterAll(cleanup);

describe('broker restart', () => {
  it('keeps producing and consuming across a restart without losing or repeating records', async () => {
    let broker = await startBroker();
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic: 'restarts', numPartitions: 1 }]);
    await admin.close();
    const producer = new Producer({ bootstrapServers: broker.bootstrap, retries: 50, retryBackoffMs: 100, lingerMs: 0 });
    const consumer = new Consumer({ bootstrapServers: broker.bootstrap, retries: 50, retryBackoffMs: 100, fetchMaxWaitMs: 100 });
    consumer.assign([{ topic: 'restarts', partition: 0, offset: 0n }]);
    await producer.send({ topic: 'restarts', messages: [0, 1, 2, 3, 4].map((index) => ({ value: `before-${index}` })) });
    const seen: ConsumerRecord[] = [];
    while (seen.length < 5) seen.push(...(await consumer.poll({ timeoutMs: 500 })));

    // The send starts while the broker is down, so it fails and is retried until the broker is back.
    await broker.kill();
    const sent = producer.send({ topic: 'restarts', messages: [0, 1, 2, 3, 4].map((index) => ({ value: `after-${index}` })) });
    expect(await consumer.poll({ timeoutMs: 300 })).toEqual([]);
    broker = await broker.restart();
    const deadline = Date.now() + 30_000;
    while (seen.length < 10 && Date.now() < deadline) seen.push(...(await consumer.poll({ timeoutMs: 500 })));
    expect((await sent).map((entry) => entry.offset)).toEqual([5n, 6n, 7n, 8n, 9n]);
    expect(seen.map((record) => record.value?.toString())).toEqual([
      ...[0, 1, 2, 3, 4].map((index) => `before-${index}`),
      ...[0, 1, 2, 3, 4].map((index) => `after-${index}`),
    ]);
    await producer.close();
    await consumer.close();
  });
});
