// linger.ms with one timer for every open batch: each batch goes out once it has lingered,
// whichever batch the timer was set for, also a batch opened while the timer was already set
// for an older one, and batches that filled up before their linger ran out.
import { afterAll, describe, expect, it } from 'vitest';
import { Consumer, Producer } from '../../../runtime/client/index.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';
import { createTopics } from '../../helpers/streams.ts';

afterAll(cleanup);

describe('producer linger', () => {
  it('sends every lingering batch, those opened after the timer was set included, without a flush', async () => {
    const broker = await startBroker();
    await createTopics(broker.bootstrap, [{ topic: 'lingering', partitions: 3 }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 150, batchSize: 200 });
    try {
      // Partition 0 opens the batch the timer is set for; partition 1 opens one later, which the
      // timer reaches only by being set again; partition 2 fills batches of 200 bytes on the way.
      const first = producer.send({ topic: 'lingering', messages: [{ value: 'a', partition: 0 }] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = producer.send({ topic: 'lingering', messages: [{ value: 'b', partition: 1 }] });
      const full = producer.send({ topic: 'lingering', messages: Array.from({ length: 20 }, (_, index) => ({ value: `c${index}`.padEnd(40, '.'), partition: 2 })) });
      const results = await Promise.all([first, second, full]);
      expect(results.map((metadata) => metadata.map(({ partition, offset }) => `${partition}@${offset}`))).toEqual([
        ['0@0'], ['1@0'], Array.from({ length: 20 }, (_, index) => `2@${index}`),
      ]);
    } finally {
      await producer.close();
    }
    const consumer = new Consumer({ bootstrapServers: broker.bootstrap, groupId: 'linger-check', autoOffsetReset: 'earliest' });
    try {
      consumer.subscribe({ topics: ['lingering'] });
      const values: string[] = [];
      while (values.length < 22) for (const record of await consumer.poll({ timeoutMs: 1000 })) values.push(record.value?.toString() ?? '');
      expect(values.filter((value) => value.length === 1).sort()).toEqual(['a', 'b']);
    } finally {
      await consumer.close();
    }
  });
});
