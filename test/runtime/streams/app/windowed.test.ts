// A windowed count on a real broker process: page views with event timestamps are counted per
// page in tumbling one-minute windows; the output topic's latest value per (page, window) and
// the queryable window store must equal the counts computed here. A second test runs the same
// kind of app against an embedded broker (`bootstrap.servers: 'embedded'`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder, TimeWindows } from '../../../../dsl/index.ts';
import { StreamsApp } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, decodeLong, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

const MINUTE_MS = 60_000;
const BASE_MS = Date.UTC(2026, 0, 1);

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

function windowedTopology() {
  const builder = new StreamsBuilder();
  builder
    .stream('page-views', { key: Serdes.string(), value: Serdes.string() })
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(MINUTE_MS, 10 * MINUTE_MS))
    .count({ name: 'views-per-minute' })
    .toStream()
    .map((count, windowed): readonly [string, number] => [`${windowed.key}@${windowed.window.startMs - BASE_MS}`, count])
    .to('views-per-minute-out', { key: Serdes.string(), value: Serdes.long() });
  return builder.build();
}

/** Views of five pages over four minutes, in an order that is not sorted by time. */
function views(): { key: string; value: string; timestamp: number }[] {
  return Array.from({ length: 600 }, (_, index) => ({ key: `page-${index % 5}`, value: `view-${index}`, timestamp: BASE_MS + ((index * 7919) % (4 * MINUTE_MS)) }));
}

function expected(records: readonly { key: string; timestamp: number }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) {
    const id = `${record.key}@${Math.floor((record.timestamp - BASE_MS) / MINUTE_MS) * MINUTE_MS}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('StreamsApp windowed count', () => {
  it('counts page views per page and minute into the output topic and the window store', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'page-views', partitions: 2 }, { topic: 'views-per-minute-out', partitions: 2 }]);
    const input = views();
    await produceRecords(broker.bootstrap, 'page-views', input);
    const app = new StreamsApp(windowedTopology(), { 'application.id': 'windowed-views', 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-window-'), 'commit.interval.ms': 200 });
    const reader = new TopicReader(broker.bootstrap, 'views-per-minute-out', 2);
    const counts = expected(input);
    try {
      await app.start();
      await waitFor(async () => {
        await reader.poll();
        const latest = reader.latest(decodeLong);
        return [...counts].every(([id, count]) => latest.get(id) === count);
      }, 'final window counts on the output topic');
      expect(reader.latest(decodeLong)).toEqual(counts);
      const store = app.windowStore<string, number>('views-per-minute');
      for (const [id, count] of counts) {
        const [page, offset] = id.split('@') as [string, string];
        expect(store.fetch(page, BASE_MS + Number(offset))).toBe(count);
      }
      const generic = app.store<string, number>('views-per-minute');
      expect(generic.kind).toBe('window');
      if (generic.kind === 'window') expect(generic.view.fetch('page-1', BASE_MS)).toBe(counts.get('page-1@0'));
      expect(store.fetchRange('page-0', BASE_MS, BASE_MS + 3 * MINUTE_MS).map((entry) => entry.windowStartMs - BASE_MS)).toEqual([0, MINUTE_MS, 2 * MINUTE_MS, 3 * MINUTE_MS]);
    } finally {
      await reader.close();
      await app.close();
    }
  });

  it('runs against an embedded broker started in the process, creating missing user topics', async () => {
    const directory = temporaryDirectory('runnel-streams-embedded-');
    const builder = new StreamsBuilder();
    builder.stream('clicks', { key: Serdes.string(), value: Serdes.string() }).groupByKey().count({ name: 'clicks-per-user' }).toStream().to('clicks-out', { key: Serdes.string(), value: Serdes.long() });
    const app = new StreamsApp(builder.build(), {
      'application.id': 'embedded-clicks', 'bootstrap.servers': 'embedded', 'embedded.data.dir': `${directory}/broker`, 'embedded.topic.partitions': 2, 'state.dir': `${directory}/state`, 'commit.interval.ms': 100,
    });
    try {
      await app.start();
      await app.waitUntilRunning();
      expect(app.activeTaskIds()).toEqual(['0_0', '0_1']);
      await produceRecords(app.bootstrapServers, 'clicks', Array.from({ length: 90 }, (_, index) => ({ key: `user-${index % 3}`, value: 'click' })));
      const store = app.keyValueStore<string, number>('clicks-per-user');
      await waitFor(() => ['user-0', 'user-1', 'user-2'].every((user) => store.get(user) === 30), 'thirty clicks per user');
    } finally {
      await app.close();
    }
    expect(app.state).toBe('NOT_RUNNING');
  });
});
