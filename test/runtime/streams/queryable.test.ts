import { describe as suite, expect, it } from 'vitest';
import { JoinWindows, Serdes, SessionWindows, SlidingWindows, StreamsBuilder, Suppressed, TimeWindows } from '../../../dsl/index.ts';
import { TopologyTestDriver } from '../../../runtime/streams/index.ts';

const strings = Serdes.string();

function counts(materialized: { name?: string; queryable?: boolean }) {
  const builder = new StreamsBuilder();
  const table = builder.stream('in', { key: strings, value: strings }).groupByKey().count(materialized);
  table.toStream().to('out', { key: strings, value: Serdes.long() });
  return { builder, table };
}

suite('Materialized queryable', () => {
  it('a store named in Materialized is queryable by name, as a read-only view', () => {
    const { builder, table } = counts({ name: 'counts' });
    expect(table.queryableStoreName).toBe('counts');
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    input.pipeInput('a', 'x', 1);
    input.pipeInput('a', 'y', 2);
    const store = driver.getKeyValueStore<string, number>('counts');
    expect(store.get('a')).toBe(2);
    expect(store.all()).toEqual([{ key: 'a', value: 2 }]);
    // The view is its own object: no write methods to reach by casting.
    expect('put' in store).toBe(false);
    expect('delete' in store).toBe(false);
    expect(driver.getTimestampedKeyValueStore<string, number>('counts').get('a')).toEqual({ value: 2, timestamp: 2 });
  });

  it('queryable: false hides a named store from queries, yet it still holds the state', () => {
    const { builder, table } = counts({ name: 'hidden', queryable: false });
    expect(table.queryableStoreName).toBeNull();
    const topology = builder.build();
    expect(topology.stores.find((store) => store.name === 'hidden')?.queryable).toBe(false);
    const driver = new TopologyTestDriver(topology);
    const input = driver.createInputTopic('in', strings, strings);
    input.pipeInput('a', 'x', 1);
    input.pipeInput('a', 'y', 2);
    expect(() => driver.getKeyValueStore('hidden')).toThrow(/not queryable/);
    expect(() => driver.getTimestampedKeyValueStore('hidden')).toThrow(/not queryable/);
    expect(driver.createOutputTopic('out', strings, Serdes.long()).readValuesToList()).toEqual([1, 2]);
  });

  it('stores with generated names are not queryable', () => {
    const { builder, table } = counts({});
    expect(table.queryableStoreName).toBeNull();
    const topology = builder.build();
    const [store] = topology.stores;
    expect(store?.name).toBe('KSTREAM-AGGREGATE-STATE-STORE-0000000001');
    expect(store?.queryable).toBe(false);
    const driver = new TopologyTestDriver(topology);
    driver.createInputTopic('in', strings, strings).pipeInput('a', 'x', 1);
    expect(() => driver.getKeyValueStore('KSTREAM-AGGREGATE-STATE-STORE-0000000001')).toThrow(/not queryable/);
  });

  it('window and session stores follow the same rule', () => {
    const builder = new StreamsBuilder();
    const grouped = builder.stream('in', { key: strings, value: strings }).groupByKey();
    grouped.windowedBy(TimeWindows.ofSizeAndGrace(10, 0)).count({ name: 'windows' });
    grouped.windowedBy(TimeWindows.ofSizeAndGrace(10, 0)).count({ name: 'windows-hidden', queryable: false });
    grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 0)).count({ name: 'sessions' });
    grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 0)).count({ name: 'sessions-hidden', queryable: false });
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('in', strings, strings).pipeInput('a', 'x', 3);
    expect(driver.getWindowStore<string, number>('windows').fetch('a', 0)).toBe(1);
    expect(driver.getSessionStore<string, number>('sessions').fetch('a').map((entry) => entry.value)).toEqual([1]);
    expect(() => driver.getWindowStore('windows-hidden')).toThrow(/not queryable/);
    expect(() => driver.getSessionStore('sessions-hidden')).toThrow(/not queryable/);
    expect(() => driver.getKeyValueStore('windows')).toThrow(/window store, not a key-value store/);
  });

  it('internal stores stay private even when their operator is named', () => {
    const builder = new StreamsBuilder();
    const left = builder.stream('left', { key: strings, value: strings });
    const right = builder.stream('right', { key: strings, value: strings });
    left.join(right, (a, b) => `${a}${b}`, JoinWindows.ofTimeDifferenceAndGrace(10, 0), { storeName: 'pairs' }).to('joined');
    left
      .groupByKey()
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, 0))
      .count({ name: 'sliding' });
    left
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(10, 0))
      .count({ name: 'final' })
      .suppress({ ...Suppressed.untilWindowCloses(), name: 'final-suppress' });
    const topology = builder.build();
    const queryable = topology.stores.filter((store) => store.queryable).map((store) => store.name);
    expect(queryable.sort()).toEqual(['final', 'sliding']);
    const driver = new TopologyTestDriver(topology);
    expect(() => driver.getWindowStore('pairs-this-join-store')).toThrow(/not queryable/);
    expect(() => driver.getWindowStore('sliding-records')).toThrow(/not queryable/);
    expect(() => driver.getKeyValueStore('final-suppress-store')).toThrow(/not queryable/);
    // Raw access for tests still reaches internal stores, as in Kafka's TopologyTestDriver.
    expect(driver.getStateStore('final-suppress-store').name).toBe('final-suppress-store');
  });

  it('named tables, global tables and addStateStore stores are queryable', () => {
    const builder = new StreamsBuilder();
    builder.table('users', { key: strings, value: strings }, { name: 'users' });
    builder.globalTable('products', { key: strings, value: strings }, { name: 'products' });
    builder.addStateStore({ kind: 'key-value', name: 'custom', key: strings, value: strings });
    builder.stream('in', { key: strings, value: strings }).process(() => ({ process: () => undefined }), { stores: ['custom'] });
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('users', strings, strings).pipeInput('u', 'ann', 1);
    driver.createInputTopic('products', strings, strings).pipeInput('p', 'pen', 1);
    expect(driver.getKeyValueStore('users').get('u')).toBe('ann');
    expect(driver.getKeyValueStore('products').get('p')).toBe('pen');
    expect(driver.getKeyValueStore('custom').get('nothing')).toBeNull();
  });
});
