// A Runnel transaction that is open while the broker is SIGKILLed and restarted: the producer
// reconnects, goes on with the same transaction (the coordinator recovered it from
// __transaction_state) and commits, and a read_committed consumer sees all of it.
import { afterAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer } from '../../../runtime/client/consumer.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';

afterAll(cleanup);

describe('transactional producer across a broker restart', () => {
  it('finishes a transaction that was open when the broker was SIGKILLed, all of it visible', async () => {
    let broker = await startBroker();
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic: 'restart-tx', numPartitions: 1 }]);
    await admin.close();
    const producer = new Producer({ bootstrapServers: broker.bootstrap, transactionalId: 'restart-producer', lingerMs: 2, retryBackoffMs: 50, requestTimeoutMs: 5_000 });
    const reader = new Consumer({ bootstrapServers: broker.bootstrap, isolationLevel: 'read_committed', fetchMaxWaitMs: 100, retryBackoffMs: 50 });
    try {
      await producer.beginTransaction();
      await producer.send({ topic: 'restart-tx', messages: [{ value: 's1' }, { value: 's2' }] });
      await broker.kill();
      broker = await broker.restart();
      await producer.send({ topic: 'restart-tx', messages: [{ value: 's3' }] });
      await producer.commitTransaction();
      reader.assign([{ topic: 'restart-tx', partition: 0, offset: 0n }]);
      const values: string[] = [];
      const deadline = Date.now() + 20_000;
      while (!values.includes('s3') && Date.now() < deadline) values.push(...(await reader.poll({ timeoutMs: 200 })).map((record) => record.value?.toString() ?? 'null'));
      expect(values).toEqual(['s1', 's2', 's3']);
    } finally {
      await Promise.allSettled([producer.close(), reader.close()]);
      await broker.stop();
    }
  }, 60_000);
});
