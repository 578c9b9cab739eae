// Word count end to end on a real broker process: known lines in, the counts on the output
// topic and in the queryable store must equal the counts computed here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder } from '../../../../dsl/index.ts';
import { Admin } from '../../../../runtime/client/index.ts';
import { StreamsApp } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, decodeLong, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

function wordCountTopology() {
  const builder = new StreamsBuilder();
  builder
    .stream('text-lines', { key: Serdes.string(), value: Serdes.string() })
    .flatMapValues((line) => line.toLowerCase().split(/\s+/).filter((word) => word !== ''))
    .groupBy((word) => word, { name: 'words', key: Serdes.string(), value: Serdes.string() })
    .count({ name: 'counts' })
    .toStream()
    .to('word-counts', { key: Serdes.string(), value: Serdes.long() });
  return builder.build();
}

function expectedCounts(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) for (const word of line.toLowerCase().split(/\s+/).filter((entry) => entry !== '')) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

describe('StreamsApp word count', () => {
  it('counts words from a real broker into the output topic and the queryable store', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'text-lines', partitions: 3 }, { topic: 'word-counts', partitions: 3 }]);
    const lines = Array.from({ length: 300 }, (_, index) => `the quick brown fox ${index % 7 === 0 ? 'jumps' : 'sleeps'} over dog${index % 5}`);
    await produceRecords(broker.bootstrap, 'text-lines', lines.map((line, index) => ({ key: `line-${index}`, value: line })));
    const app = new StreamsApp(wordCountTopology(), {
      'application.id': 'word-count',
      'bootstrap.servers': broker.bootstrap,
      'state.dir': temporaryDirectory('runnel-streams-wc-'),
      'commit.interval.ms': 200,
      'repartition.purge.interval.ms': 0,
    });
    const states: string[] = [];
    app.onStateChange((next) => states.push(next));
    const reader = new TopicReader(broker.bootstrap, 'word-counts', 3);
    try {
      await app.start();
      await app.waitUntilRunning();
      const expected = expectedCounts(lines);
      await waitFor(async () => {
        await reader.poll();
        const latest = reader.latest(decodeLong);
        return [...expected].every(([word, count]) => latest.get(word) === count);
      }, 'the output topic to carry the final counts');
      expect(reader.latest(decodeLong)).toEqual(expected);
      const store = app.keyValueStore<string, number>('counts');
      for (const [word, count] of expected) expect(store.get(word)).toBe(count);
      expect(store.all().length).toBe(expected.size);
      const generic = app.store<string, number>('counts');
      expect(generic.kind === 'key-value' ? generic.view.get('the') : null).toBe(expected.get('the'));
      expect(app.activeTaskIds()).toEqual(['0_0', '0_1', '0_2', '1_0', '1_1', '1_2']);
      // Consumed repartition records are purged once committed.
      const admin = new Admin({ bootstrapServers: broker.bootstrap });
      try {
        await waitFor(async () => (await admin.listOffsets('word-count-words-repartition', 'earliest')).some((entry) => entry.offset > 0n), 'the repartition topic to be purged');
      } finally {
        await admin.close();
      }
    } finally {
      await reader.close();
      await app.close();
    }
    expect(states).toEqual(['REBALANCING', 'RUNNING', 'PENDING_SHUTDOWN', 'NOT_RUNNING']);
    expect(app.state).toBe('NOT_RUNNING');
  });
});
