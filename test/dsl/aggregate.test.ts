import { describe as suite, expect, it } from 'vitest';
import { Duration } from 'luxon';
import { StreamsBuilder, Serdes, describe, TimeWindows, SessionWindows, Suppressed, windowedSerde } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();

function wordCount(materialized: boolean) {
  const builder = new StreamsBuilder();
  builder
    .stream('streams-plaintext-input', { key: strings, value: strings })
    .flatMapValues((line) => line.toLowerCase().split(/\W+/))
    .groupBy((word) => word, { key: strings })
    .count(materialized ? { name: 'counts-store' } : {})
    .toStream()
    .to('streams-wordcount-output', { key: strings, value: Serdes.long() });
  return builder;
}

suite('grouping and aggregation', () => {
  it('describe() prints word count the way Kafka Streams does', () => {
    const text = describe(wordCount(true).build());
    expect(text).toBe(
      [
        'Topologies:',
        '   Sub-topology: 0',
        '    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])',
        '      --> KSTREAM-FLATMAPVALUES-0000000001',
        '    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])',
        '      --> KSTREAM-KEY-SELECT-0000000002',
        '      <-- KSTREAM-SOURCE-0000000000',
        '    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])',
        '      --> KSTREAM-FILTER-0000000005',
        '      <-- KSTREAM-FLATMAPVALUES-0000000001',
        '    Processor: KSTREAM-FILTER-0000000005 (stores: [])',
        '      --> KSTREAM-SINK-0000000004',
        '      <-- KSTREAM-KEY-SELECT-0000000002',
        '    Sink: KSTREAM-SINK-0000000004 (topic: counts-store-repartition)',
        '      <-- KSTREAM-FILTER-0000000005',
        '',
        '  Sub-topology: 1',
        '    Source: KSTREAM-SOURCE-0000000006 (topics: [counts-store-repartition])',
        '      --> KSTREAM-AGGREGATE-0000000003',
        '    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])',
        '      --> KTABLE-TOSTREAM-0000000007',
        '      <-- KSTREAM-SOURCE-0000000006',
        '    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])',
        '      --> KSTREAM-SINK-0000000008',
        '      <-- KSTREAM-AGGREGATE-0000000003',
        '    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)',
        '      <-- KTABLE-TOSTREAM-0000000007',
        '',
        '',
      ].join('\n'),
    );
  });

  it('generated store names follow Kafka Streams and name the internal topics', () => {
    const builder = wordCount(false);
    const topology = builder.build();
    expect(topology.stores.map((store) => store.name)).toEqual(['KSTREAM-AGGREGATE-STATE-STORE-0000000003']);
    expect(topology.internalTopics.map((topic) => `${topic.kind}:${topic.name}`)).toEqual([
      'repartition:KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition',
      'changelog:KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog',
    ]);
    expect(builder.warnings.join('\n')).toMatch(/count uses the generated name/);
    expect(() => {
      const strict = new StreamsBuilder({ strictNames: true });
      strict.stream('in', { key: strings, value: strings }).groupByKey().count();
    }).toThrow(/strict naming/);
  });

  it('counts words through the repartition topic and keeps the store and changelog current', () => {
    const driver = new TopologyTestDriver(wordCount(true).build(), { applicationId: 'wc' });
    const input = driver.createInputTopic('streams-plaintext-input', strings, strings);
    input.pipeInput(null, 'all streams lead to kafka', 1);
    input.pipeInput(null, 'hello kafka streams', 2);
    const output = driver.createOutputTopic('streams-wordcount-output', strings, Serdes.long());
    expect(output.readKeyValuesToList()).toEqual([
      { key: 'all', value: 1 },
      { key: 'streams', value: 1 },
      { key: 'lead', value: 1 },
      { key: 'to', value: 1 },
      { key: 'kafka', value: 1 },
      { key: 'hello', value: 1 },
      { key: 'kafka', value: 2 },
      { key: 'streams', value: 2 },
    ]);
    expect(driver.getKeyValueStore<string, number>('counts-store').get('kafka')).toBe(2);
    expect(driver.getTimestampedKeyValueStore<string, number>('counts-store').get('kafka')).toEqual({ value: 2, timestamp: 2 });
    // Records really went through the (prefixed) repartition topic, keyed by word.
    const repartition = driver.createOutputTopic(driver.internalTopicName('counts-store-repartition'), strings, strings);
    expect(repartition.getQueueSize()).toBe(8);
    expect(repartition.readKeyValue().key).toBe('all');
    const changelog = driver.createOutputTopic('wc-counts-store-changelog', strings, Serdes.bytes());
    expect(changelog.readKeyValuesToList().filter((entry) => entry.key === 'kafka')).toHaveLength(2);
  });

  it('does not repartition when the key is unchanged', () => {
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).mapValues((value) => value.length).groupByKey().reduce((a, b) => a + b, { name: 'sum', value: Serdes.int32() });
    const topology = builder.build();
    expect(topology.subtopologies).toHaveLength(1);
    expect(topology.internalTopics.map((topic) => topic.kind)).toEqual(['changelog']);
    const driver = new TopologyTestDriver(topology);
    const input = driver.createInputTopic('in', strings, strings);
    input.pipeInput('a', 'xx', 1);
    input.pipeInput('a', 'yyy', 2);
    input.pipeInput(null, 'dropped', 3);
    expect(driver.getKeyValueStore<string, number>('sum').get('a')).toBe(5);
    expect(driver.metrics().droppedRecords).toBe(1);
  });

  it('merges repartition topics fed by the same key change when optimizing', () => {
    const build = (optimize: boolean) => {
      const builder = new StreamsBuilder({ optimize });
      const grouped = builder.stream('in', { key: strings, value: strings }).selectKey((value) => value).groupByKey({ key: strings, value: strings });
      grouped.count({ name: 'one' });
      grouped.count({ name: 'two' });
      return builder.build();
    };
    expect(build(false).internalTopics.filter((topic) => topic.kind === 'repartition')).toHaveLength(2);
    const optimized = build(true);
    expect(optimized.internalTopics.filter((topic) => topic.kind === 'repartition').map((topic) => topic.name)).toEqual(['one-repartition']);
    const driver = new TopologyTestDriver(optimized);
    driver.createInputTopic('in', strings, strings).pipeInput('k', 'v', 1);
    expect(driver.getKeyValueStore('one').get('v')).toBe(1);
    expect(driver.getKeyValueStore('two').get('v')).toBe(1);
  });

  it('aggregate builds typed values from a zero', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: Serdes.int32() })
      .groupByKey()
      .aggregate(() => ({ count: 0, total: 0 }), (_key, value, agg) => ({ count: agg.count + 1, total: agg.total + value }), { name: 'stats' })
      .toStream()
      .mapValues((stats) => stats.total / stats.count)
      .to('averages', { value: Serdes.float64() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, Serdes.int32());
    input.pipeInput('a', 2, 1);
    input.pipeInput('a', 4, 2);
    expect(driver.createOutputTopic('averages', strings, Serdes.float64()).readValuesToList()).toEqual([2, 3]);
  });

  it('KTable groupBy subtracts from the old group and adds to the new one when a key moves', () => {
    const builder = new StreamsBuilder();
    builder
      .table('users', { key: strings, value: strings }, { name: 'users-store' })
      .groupBy((region, user) => [region, user], { key: strings, value: strings })
      .count({ name: 'users-per-region' })
      .toStream()
      .to('region-counts', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    const users = driver.createInputTopic('users', strings, strings);
    users.pipeInput('alice', 'eu', 1);
    users.pipeInput('bob', 'eu', 2);
    users.pipeInput('alice', 'us', 3);
    users.pipeInput('bob', null, 4);
    const counts = driver.getKeyValueStore<string, number>('users-per-region');
    expect(counts.get('eu')).toBe(0);
    expect(counts.get('us')).toBe(1);
    expect(driver.createOutputTopic('region-counts', strings, Serdes.long()).readKeyValuesToList()).toEqual([
      { key: 'eu', value: 1 },
      { key: 'eu', value: 2 },
      { key: 'eu', value: 1 },
      { key: 'us', value: 1 },
      { key: 'eu', value: 0 },
    ]);
  });

  it('KTable reduce with adder and subtractor, filter and mapValues', () => {
    const builder = new StreamsBuilder();
    const prices = builder.table('prices', { key: strings, value: Serdes.int32() }, { name: 'prices' });
    prices.filter((price) => price > 0, { name: 'positive' });
    prices
      .mapValues((price) => price * 2)
      .groupBy((price, item) => [item.split('-')[0] ?? '', price], { key: strings, value: Serdes.int32() })
      .reduce((a, b) => a + b, (a, b) => a - b, { name: 'category-totals', value: Serdes.int32() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('prices', strings, Serdes.int32());
    input.pipeInput('fruit-apple', 3, 1);
    input.pipeInput('fruit-pear', 5, 2);
    input.pipeInput('fruit-apple', -1, 3);
    expect(driver.getKeyValueStore('category-totals').get('fruit')).toBe(8);
    expect(driver.getKeyValueStore('positive').get('fruit-apple')).toBeNull();
    expect(driver.getKeyValueStore('positive').get('fruit-pear')).toBe(5);
  });
});

suite('windowed aggregation', () => {
  it('tumbling windows with grace: late records are dropped and counted', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('clicks', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(Duration.fromObject({ seconds: 10 }), Duration.fromObject({ seconds: 5 })))
      .count({ name: 'click-counts' })
      .toStream()
      .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}`, count])
      .to('counts', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    const clicks = driver.createInputTopic('clicks', strings, strings);
    clicks.pipeInput('u', 'a', 1_000);
    clicks.pipeInput('u', 'b', 9_000);
    clicks.pipeInput('u', 'c', 12_000);
    clicks.pipeInput('u', 'late but within grace', 8_000); // stream time 12s, window [0,10s) closes at 15s
    clicks.pipeInput('u', 'd', 16_000); // stream time 16s: window [0,10s) is now closed
    clicks.pipeInput('u', 'too late', 3_000);
    const counts = driver.createOutputTopic('counts', strings, Serdes.long()).readKeyValuesToList();
    expect(counts).toEqual([
      { key: 'u@0', value: 1 },
      { key: 'u@0', value: 2 },
      { key: 'u@10000', value: 1 },
      { key: 'u@0', value: 3 },
      { key: 'u@10000', value: 2 },
    ]);
    expect(driver.metrics().droppedLateRecords).toBe(1);
    const store = driver.getWindowStore<string, number>('click-counts');
    expect(store.fetch('u', 0)).toBe(3);
    expect(store.fetchRange('u', 0, 20_000)).toEqual([
      { windowStartMs: 0, value: 3 },
      { windowStartMs: 10_000, value: 2 },
    ]);
  });

  it('hopping windows: a record lands in every window it belongs to', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(10).advanceBy(5))
      .count({ name: 'hops' })
      .toStream()
      .to('out', { key: windowedSerde(strings), value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('in', strings, strings).pipeInput('k', 'v', 12);
    const out = driver.createOutputTopic('out', windowedSerde(strings), Serdes.long()).readKeyValuesToList();
    expect(out.map((entry) => [entry.key?.window.startMs, entry.key?.window.endMs, entry.value])).toEqual([
      [5, 15, 1],
      [10, 20, 1],
    ]);
  });

  it('emit on window close emits one final result per window, only after it closes', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(10, 2))
      .count({ name: 'final', emit: 'on-window-close' })
      .toStream()
      .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}`, count])
      .to('out', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    const out = driver.createOutputTopic('out', strings, Serdes.long());
    input.pipeInput('a', '1', 1);
    input.pipeInput('a', '2', 5);
    input.pipeInput('b', '3', 11);
    expect(out.isEmpty()).toBe(true); // stream time 11 < 10 + 2
    input.pipeInput('a', '4', 12);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'a@0', value: 2 }]);
    input.pipeInput('b', '5', 30);
    expect(out.readKeyValuesToList()).toEqual([
      { key: 'a@10', value: 1 },
      { key: 'b@10', value: 1 },
    ]);
  });

  it('suppress(untilWindowCloses) holds updates until the window closes', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(10, 0))
      .count({ name: 'suppressed-counts' })
      .suppress(Suppressed.untilWindowCloses())
      .toStream()
      .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}`, count])
      .to('out', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    const out = driver.createOutputTopic('out', strings, Serdes.long());
    input.pipeInput('a', '1', 1);
    input.pipeInput('a', '2', 2);
    input.pipeInput('a', '3', 9);
    expect(out.isEmpty()).toBe(true);
    input.pipeInput('x', 'advance', 10);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'a@0', value: 3 }]);
  });

  it('suppress(untilTimeLimit) emits the latest value per key once the limit passes', () => {
    const builder = new StreamsBuilder();
    builder
      .table('in', { key: strings, value: strings }, { name: 'latest' })
      .suppress(Suppressed.untilTimeLimit(Duration.fromMillis(100)))
      .toStream()
      .to('out', { key: strings, value: strings });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    const out = driver.createOutputTopic('out', strings, strings);
    input.pipeInput('k', 'v1', 0);
    input.pipeInput('k', 'v2', 50);
    expect(out.isEmpty()).toBe(true);
    input.pipeInput('other', 'w', 100);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'k', value: 'v2' }]);
  });

  // Grace keeps the first session alive; without it, Kafka Streams would have expired it too.
  it('session windows merge when a record bridges two sessions, and the old sessions are deleted', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 30))
      .count({ name: 'sessions' })
      .toStream()
      .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}-${windowed.window.endMs}`, count])
      .to('out', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    input.pipeInput('u', 'a', 0);
    input.pipeInput('u', 'b', 30);
    input.pipeInput('u', 'c', 20); // within 10 of 30 but not of 0: joins the second session
    input.pipeInput('u', 'd', 10); // bridges [0,0] and [20,30]
    const out = driver.createOutputTopic('out', strings, Serdes.long()).readKeyValuesToList();
    expect(out).toEqual([
      { key: 'u@0-0', value: 1 },
      { key: 'u@30-30', value: 1 },
      { key: 'u@30-30', value: null },
      { key: 'u@20-30', value: 2 },
      { key: 'u@0-0', value: null },
      { key: 'u@20-30', value: null },
      { key: 'u@0-30', value: 4 },
    ]);
    const sessions = driver.getSessionStore<string, number>('sessions').fetch('u');
    expect(sessions.map((entry) => [entry.key.window.startMs, entry.key.window.endMs, entry.value])).toEqual([[0, 30, 4]]);
  });

  it('session windows drop records whose session closed long ago', () => {
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).groupByKey().windowedBy(SessionWindows.ofInactivityGapAndGrace(5, 5)).count({ name: 's' });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    input.pipeInput('u', 'a', 100);
    input.pipeInput('u', 'late', 10);
    expect(driver.metrics().droppedLateRecords).toBe(1);
    expect(driver.getSessionStore<string, number>('s').fetch('u')).toHaveLength(1);
  });
});

suite('describe() of joins and global stores', () => {
  it('prints a global store as its own sub-topology that generates no tasks', () => {
    const builder = new StreamsBuilder();
    const products = builder.globalTable('products', { key: strings, value: strings }, { name: 'products' });
    builder.stream('orders', { key: strings, value: strings }).join(products, (value) => value, (order, product) => `${order}:${product}`).to('out');
    const text = describe(builder.build());
    expect(text).toContain(
      [
        '  Sub-topology: 1 for global store (will not generate tasks)',
        '    Source: KSTREAM-SOURCE-0000000000 (topics: [products])',
        '      --> KTABLE-SOURCE-0000000001',
        '    Processor: KTABLE-SOURCE-0000000001 (stores: [products])',
        '      --> none',
        '      <-- KSTREAM-SOURCE-0000000000',
      ].join('\n'),
    );
    expect(text).toContain('    Processor: KSTREAM-JOIN-0000000003 (stores: [])\n      --> KSTREAM-SINK-0000000004\n      <-- KSTREAM-SOURCE-0000000002\n');
  });

  it('headers travel with records from input to output', () => {
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).mapValues((value) => value.toUpperCase()).to('out', { key: strings, value: strings });
    const driver = new TopologyTestDriver(builder.build());
    const headers = [{ key: 'trace', value: new Uint8Array([1, 2]) }];
    driver.createInputTopic('in', strings, strings).pipeInput('k', 'v', 7, headers);
    expect(driver.createOutputTopic('out', strings, strings).readRecord()).toEqual({ key: 'k', value: 'V', timestamp: 7, headers, partition: 0 });
  });
});
