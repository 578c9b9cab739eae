import { describe as suite, expect, it } from 'vitest';
import { z } from 'zod';
import { Duration } from 'luxon';
import { StreamsBuilder, Serdes, serde, TimeWindows, type Processor, type ProcessorContext } from '../../../dsl/index.ts';
import { StreamsProcessingError, TopologyTestDriver } from '../../../runtime/streams/index.ts';
import type { KeyValueStore } from '../../../state/stores/index.ts';

const strings = Serdes.string();

suite('processor API through the test driver', () => {
  it('stream-time punctuators fire as records advance stream time; wall-clock ones as the clock advances', () => {
    const fired: string[] = [];
    const builder = new StreamsBuilder();
    builder.addStateStore({ kind: 'key-value', name: 'totals', key: strings, value: Serdes.int32() });
    builder
      .stream('in', { key: strings, value: Serdes.int32() })
      .process((): Processor<string, number, string, number> => {
        let context: ProcessorContext<string, number>;
        let store: KeyValueStore<string, number>;
        return {
          init: (processorContext) => {
            context = processorContext;
            store = context.getStateStore<KeyValueStore<string, number>>('totals');
            context.schedule(10, 'stream-time', (time) => {
              fired.push(`stream@${time}`);
              for (const entry of store.all()) context.forward({ key: entry.key, value: entry.value, timestamp: time, headers: [] });
            });
            context.schedule(1000, 'wall-clock', (time) => fired.push(`wall@${time}`));
          },
          process: (record) => {
            store.put(record.key, (store.get(record.key) ?? 0) + record.value);
          },
        };
      }, { stores: ['totals'] })
      .to('totals-out', { key: strings, value: Serdes.int32() });
    const driver = new TopologyTestDriver(builder.build(), { initialWallClockTimeMs: 5_000 });
    const input = driver.createInputTopic('in', strings, Serdes.int32());
    input.pipeInput('a', 1, 3); // first record: stream-time schedule fires at 3, next at 10
    input.pipeInput('a', 2, 7);
    input.pipeInput('b', 5, 25); // fires once at 25 (skipping missed intervals), next at 30
    driver.advanceWallClockTime(Duration.fromObject({ seconds: 1 }));
    driver.advanceWallClockTime(500);
    expect(fired).toEqual(['stream@3', 'stream@25', 'wall@6000']);
    const out = driver.createOutputTopic('totals-out', strings, Serdes.int32()).readRecordsToList();
    expect(out.map((record) => [record.key, record.value, record.timestamp])).toEqual([
      ['a', 1, 3],
      ['a', 3, 25],
      ['b', 5, 25],
    ]);
  });

  it('processValues sees the record context of the input record', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .processValues((): Processor<string, string, string, string> => {
        let context: ProcessorContext<string, string>;
        return {
          init: (processorContext) => {
            context = processorContext;
          },
          process: (record) => {
            const source = context.recordContext();
            context.forward({ ...record, value: `${record.value}@${source.topic}/${source.partition}/${source.offset}/${context.taskId}` });
          },
        };
      })
      .to('out', { value: strings });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    input.pipeInput('k', 'a', 1);
    input.pipeInput('k', 'b', 2);
    expect(driver.createOutputTopic('out', strings, strings).readValuesToList()).toEqual(['a@in/0/0/0_0', 'b@in/0/1/0_0']);
  });

  it('zod serdes type the stream; invalid records go to the deserialization handler', () => {
    const Order = z.object({ id: z.string(), amount: z.number().positive() });
    const build = () => {
      const builder = new StreamsBuilder();
      builder
        .stream('orders', { key: strings, value: serde(Order) })
        .mapValues((order) => order.amount * 2)
        .to('doubled', { value: Serdes.float64() });
      return builder.build();
    };
    const logged: string[] = [];
    const lenient = new TopologyTestDriver(build(), { log: (message) => logged.push(message) });
    const raw = lenient.createInputTopic('orders', strings, Serdes.json<unknown>());
    raw.pipeInput('1', { id: 'a', amount: 5 }, 1);
    raw.pipeInput('2', { id: 'b', amount: -1 }, 2);
    raw.pipeInput('3', 'not an order', 3);
    expect(lenient.createOutputTopic('doubled', strings, Serdes.float64()).readValuesToList()).toEqual([10]);
    expect(lenient.metrics().skippedRecords).toBe(2);
    expect(logged.join('\n')).toMatch(/orders@1: .*fails its schema/);
    const strict = new TopologyTestDriver(build(), { deserializationErrorHandler: 'fail' });
    expect(() => strict.createInputTopic('orders', strings, Serdes.json<unknown>()).pipeInput('2', { id: 'b' }, 2)).toThrow(StreamsProcessingError);
    const custom = new TopologyTestDriver(build(), { deserializationErrorHandler: (error) => (error.message.includes('JSON') ? 'continue' : 'fail') });
    const customInput = custom.createInputTopic('orders', strings, strings);
    customInput.pipeInput('x', '{broken', 1);
    expect(custom.metrics().skippedRecords).toBe(1);
  });

  it('timestamp extractors choose event time; negative timestamps are skipped', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: Serdes.json<{ at: number }>(), timestampExtractor: (record) => (record.value as { at: number }).at })
      .to('out', { key: strings, value: Serdes.json<{ at: number }>() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, Serdes.json<{ at: number }>());
    input.pipeInput('k', { at: 1234 }, 1);
    input.pipeInput('k', { at: -5 }, 2);
    expect(driver.createOutputTopic('out', strings, Serdes.json<{ at: number }>()).readRecordsToList().map((record) => record.timestamp)).toEqual([1234]);
    expect(driver.metrics().skippedRecords).toBe(1);
  });

  it('toTable and cogroup build tables in stores', () => {
    const builder = new StreamsBuilder();
    const clicks = builder.stream('clicks', { key: strings, value: Serdes.int32() }).groupByKey();
    const views = builder.stream('views', { key: strings, value: strings }).groupByKey();
    clicks
      .cogroup<{ clicks: number; views: number }>((_key, value, agg) => ({ ...agg, clicks: agg.clicks + value }))
      .cogroup(views, (_key, _value, agg) => ({ ...agg, views: agg.views + 1 }))
      .aggregate(() => ({ clicks: 0, views: 0 }), { name: 'activity' });
    builder.stream('latest', { key: strings, value: strings }).toTable({ name: 'latest' });
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('clicks', strings, Serdes.int32()).pipeInput('u', 3, 1);
    driver.createInputTopic('views', strings, strings).pipeInput('u', '/home', 2);
    driver.createInputTopic('views', strings, strings).pipeInput('u', '/about', 3);
    expect(driver.getKeyValueStore('activity').get('u')).toEqual({ clicks: 3, views: 2 });
    const latest = driver.createInputTopic('latest', strings, strings);
    latest.pipeInput('k', 'v1', 1);
    latest.pipeInput('k', 'v2', 2);
    expect(driver.getKeyValueStore('latest').get('k')).toBe('v2');
    latest.pipeInput('k', null, 3);
    expect(driver.getKeyValueStore('latest').get('k')).toBeNull();
  });
});

suite('windowed cogroup', () => {
  it('aggregates several grouped streams into shared time windows', () => {
    const builder = new StreamsBuilder();
    const buys = builder.stream('buys', { key: strings, value: Serdes.int32() }).groupByKey();
    const refunds = builder.stream('refunds', { key: strings, value: Serdes.int32() }).groupByKey();
    buys
      .cogroup<number>((_key, amount, total) => total + amount)
      .cogroup(refunds, (_key, amount, total) => total - amount)
      .windowedBy(TimeWindows.ofSizeWithNoGrace(100))
      .aggregate(() => 0, { name: 'net', value: Serdes.int32(), retention: 1000 }); // keep closed windows queryable
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('buys', strings, Serdes.int32()).pipeInput('u', 50, 10);
    driver.createInputTopic('refunds', strings, Serdes.int32()).pipeInput('u', 20, 20);
    driver.createInputTopic('buys', strings, Serdes.int32()).pipeInput('u', 5, 120);
    const store = driver.getWindowStore<string, number>('net');
    expect(store.fetchRange('u', 0, 200)).toEqual([
      { windowStartMs: 0, value: 30 },
      { windowStartMs: 100, value: 5 },
    ]);
  });
});
