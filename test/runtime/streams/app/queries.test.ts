// Interactive queries across two instances: each answers from its own task stores only, and
// metadataForKey, which both compute from the group's assignment, names the instance
// (application.server) whose store holds the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder } from '../../../../dsl/index.ts';
import { StreamsApp } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

function topology() {
  const builder = new StreamsBuilder();
  builder.stream('iq-events', { key: Serdes.string(), value: Serdes.string() }).groupByKey().count({ name: 'iq-counts' });
  return builder.build();
}

describe('StreamsApp interactive queries', () => {
  it('routes each key to the instance that holds it', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'iq-events', partitions: 4 }]);
    const config = (server: string) => ({
      'application.id': 'iq-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-iq-'),
      'application.server': server, 'commit.interval.ms': 100, 'session.timeout.ms': 6_000, 'heartbeat.interval.ms': 500,
    });
    const first = new StreamsApp(topology(), config('host-a:8001'));
    const second = new StreamsApp(topology(), config('host-b:8002'));
    const keys = Array.from({ length: 40 }, (_, index) => `user-${index}`);
    const serialize = (key: string): Uint8Array => Serdes.string().serialize(key, 'iq-events');
    try {
      await first.start();
      await first.waitUntilRunning();
      await second.start();
      await waitFor(() => first.state === 'RUNNING' && second.state === 'RUNNING' && first.activeTaskIds().length === 2 && second.activeTaskIds().length === 2, 'the instances to hold two tasks each');
      await produceRecords(broker.bootstrap, 'iq-events', keys.flatMap((key, index) => Array.from({ length: (index % 3) + 1 }, () => ({ key, value: 'x' }))));
      const byHost = new Map([['host-a:8001', first], ['host-b:8002', second]]);
      await waitFor(() => keys.every((key, index) => {
        const metadata = first.metadataForKey('iq-counts', key, serialize);
        return byHost.get(metadata.activeHost ?? '')?.keyValueStore<string, number>('iq-counts').get(key) === (index % 3) + 1;
      }), 'every key to be counted on the instance metadataForKey names');
      let onFirst = 0;
      for (const key of keys) {
        const fromFirst = first.metadataForKey('iq-counts', key, serialize);
        expect(second.metadataForKey('iq-counts', key, serialize)).toEqual(fromFirst);
        const holder = byHost.get(fromFirst.activeHost ?? '') as StreamsApp;
        const other = holder === first ? second : first;
        expect(other.keyValueStore<string, number>('iq-counts').get(key)).toBeNull();
        expect(holder.activeTaskIds()).toContain(fromFirst.taskId);
        if (holder === first) onFirst++;
      }
      expect(onFirst).toBeGreaterThan(0);
      expect(onFirst).toBeLessThan(keys.length);
      expect(() => first.keyValueStore('iq-events')).toThrow(/no store named iq-events/);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
