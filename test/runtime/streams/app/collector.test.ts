// The runtime's producer collector on a real broker: records of an aborted transaction fail
// their sends, and once the tasks are closed dirty those failures belong to discarded work, so
// the next transaction's dispatch must not raise them (it did, and the stream thread died).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Producer } from '../../../../runtime/client/index.ts';
import { ProducerCollector } from '../../../../runtime/streams/app/collector.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../../helpers/broker.ts';
import { TopicReader, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('ProducerCollector after a dirty close', () => {
  it('forgets the failures of an aborted transaction and sends the next one', async () => {
    const producer = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 5, 'transactional.id': 'collector-dirty-close' });
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    const logged: string[] = [];
    try {
      const collector = new ProducerCollector(producer, 'fail', (message) => logged.push(message));
      await producer.beginTransaction();
      // A topic the producer has no metadata for yet: the send is still waiting when the abort comes.
      await admin.createTopics([{ topic: 'collector-out', numPartitions: 1 }]);
      collector.send({ topic: 'collector-out', key: bytes('k'), value: bytes('aborted'), partition: 0, timestamp: Date.now(), headers: [] });
      await collector.dispatch();
      await producer.abortTransaction();
      await collector.settleDiscarded();
      await producer.beginTransaction();
      collector.send({ topic: 'collector-out', key: bytes('k'), value: bytes('committed'), partition: 0, timestamp: Date.now(), headers: [] });
      await collector.dispatch();
      await collector.flush();
      await producer.commitTransaction();
      const reader = new TopicReader(broker.bootstrap, 'collector-out', 1, 'read_committed');
      try {
        await waitFor(async () => (await reader.poll()).length > 0, 'the committed record');
        expect(reader.records.map((record) => record.value?.toString())).toEqual(['committed']);
      } finally {
        await reader.close();
      }
    } finally {
      await admin.close();
      await producer.close();
    }
  });
});
