import { describe as suite, expect, it } from 'vitest';
import { partitionForKey } from '../../../core/partitioner.ts';
import { JoinWindows, Serdes, StreamsBuilder, TimeWindows, type Topology } from '../../../dsl/index.ts';
import type { KeyValueStore } from '../../../state/stores/types.ts';
import type { ValueAndTimestamp } from '../../../core/topology/record.ts';
import { TopologyTestDriver } from '../../../runtime/streams/index.ts';

const strings = Serdes.string();
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function wordCount(): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream('lines', { key: strings, value: strings })
    .flatMapValues((line) => line.split(' '))
    .groupBy((word) => word, { key: strings, name: 'words' })
    .count({ name: 'counts' })
    .toStream()
    .to('counts-out', { key: strings, value: Serdes.long() });
  return builder.build();
}

/** Keys whose murmur2 partitions differ, so tests do not depend on luck. */
function keysOnDistinctPartitions(count: number): string[] {
  const byPartition = new Map<number, string>();
  for (let index = 0; byPartition.size < count; index++) {
    const key = `key-${index}`;
    const partition = partitionForKey(utf8(key), count);
    if (!byPartition.has(partition)) byPartition.set(partition, key);
  }
  return [...byPartition.entries()].sort((a, b) => a[0] - b[0]).map(([, key]) => key);
}

suite('test driver with several partitions per topic', () => {
  it('runs one task per sub-topology and partition; repartition topics follow their writer', () => {
    const driver = new TopologyTestDriver(wordCount(), { applicationId: 'wc', partitions: { lines: 3, 'counts-out': 2 } });
    expect(driver.taskIds()).toEqual(['0_0', '0_1', '0_2', '1_0', '1_1', '1_2']);
    expect(driver.partitionCount('wc-words-repartition')).toBe(3);
    expect(driver.partitionCount('wc-counts-changelog')).toBe(3);
    expect(driver.partitionCount('counts-out')).toBe(2);
  });

  it('keys land on murmur2 partitions, stores are per task, outputs carry their partition', () => {
    const driver = new TopologyTestDriver(wordCount(), { applicationId: 'wc', partitions: { lines: 3, 'counts-out': 2 } });
    const lines = driver.createInputTopic('lines', strings, strings);
    lines.pipeInput('l1', 'kafka streams kafka', 1);
    lines.pipeInput('l2', 'runnel streams', 2);
    lines.pipeInput(null, 'kafka', 3);
    const out = driver.createOutputTopic('counts-out', strings, Serdes.long()).readRecordsToList();
    for (const record of out) expect(record.partition).toBe(partitionForKey(utf8(record.key ?? ''), 2));
    const latest = new Map(out.map((record) => [record.key, record.value]));
    expect(latest).toEqual(new Map([['kafka', 3], ['streams', 2], ['runnel', 1]]));
    // Each word's count lives only in the task of the repartition partition its key hashes to.
    for (const word of ['kafka', 'streams', 'runnel']) {
      const home = partitionForKey(utf8(word), 3);
      for (let partition = 0; partition < 3; partition++) {
        const store = driver.getStateStore('counts', partition) as KeyValueStore<string, ValueAndTimestamp<number>>;
        expect(store.get(word) !== null).toBe(partition === home);
      }
    }
    // Queries see every task's instance.
    expect(driver.getKeyValueStore<string, number>('counts').get('streams')).toBe(2);
    expect(driver.getKeyValueStore<string, number>('counts').all()).toHaveLength(3);
    // Changelog records go to the partition of the task that wrote them.
    for (const record of driver.changelogRecords().get('wc-counts-changelog') ?? []) {
      expect(record.partition).toBe(partitionForKey(record.key ?? new Uint8Array(), 3));
    }
  });

  it('stream time is per task: a late key on one partition does not close windows on another', () => {
    const [onZero, onOne] = keysOnDistinctPartitions(2) as [string, string];
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(10, 0))
      .count({ name: 'windows', emit: 'on-window-close' })
      .toStream()
      .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}`, count])
      .to('out', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: 2 });
    const input = driver.createInputTopic('in', strings, strings);
    const out = driver.createOutputTopic('out', strings, Serdes.long());
    input.pipeInput(onZero, 'a', 1);
    input.pipeInput(onOne, 'b', 100); // advances only partition 1's task
    expect(out.isEmpty()).toBe(true);
    input.pipeInput(onZero, 'c', 5); // not late: partition 0's stream time is 1
    input.pipeInput(onZero, 'd', 20);
    expect(out.readKeyValuesToList()).toEqual([{ key: `${onZero}@0`, value: 2 }]);
    expect(driver.metrics().droppedLateRecords).toBe(0);
  });

  it('null keys go round-robin and a record may name its partition', () => {
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).peek(() => undefined).to('out', { key: strings, value: strings });
    const driver = new TopologyTestDriver(builder.build(), { partitions: { in: 3, out: 3 } });
    const input = driver.createInputTopic('in', strings, strings);
    for (const value of ['a', 'b', 'c', 'd']) input.pipeInput(null, value, 1);
    input.pipeInput('k', 'chosen', 1, [], 2);
    const out = driver.createOutputTopic('out', strings, strings).readRecordsToList();
    expect(out.map((record) => [record.value, record.partition])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
      ['d', 0],
      ['chosen', partitionForKey(utf8('k'), 3)],
    ]);
    expect(() => input.pipeInput('k', 'nowhere', 1, [], 3)).toThrow(/partition 3 of topic in does not exist/);
  });

  it('repartition() honours a fixed partition count, and downstream tasks follow it', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .repartition({ name: 'spread', partitions: 5, key: strings, value: strings })
      .groupByKey()
      .count({ name: 'spread-counts' });
    const driver = new TopologyTestDriver(builder.build(), { applicationId: 'app', partitions: { in: 2 } });
    expect(driver.partitionCount('app-spread-repartition')).toBe(5);
    expect(driver.taskIds()).toEqual(['0_0', '0_1', '1_0', '1_1', '1_2', '1_3', '1_4']);
    const input = driver.createInputTopic('in', strings, strings);
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) input.pipeInput(key, 'x', 1);
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const store = driver.getStateStore('spread-counts', partitionForKey(utf8(key), 5)) as KeyValueStore<string, ValueAndTimestamp<number>>;
      expect(store.get(key)?.value).toBe(1);
    }
  });

  it('co-partitioned user topics must agree; a repartition topic joins with the count of the other side', () => {
    const join = (leftRekey: boolean) => {
      const builder = new StreamsBuilder();
      const left = builder.stream('left', { key: strings, value: strings });
      const right = builder.stream('right', { key: strings, value: strings });
      const keyed = leftRekey ? left.selectKey((value) => value) : left;
      keyed.join(right, (a, b) => `${a}+${b}`, JoinWindows.ofTimeDifferenceWithNoGrace(100), { name: 'pairs', key: strings, value: strings, otherValue: strings }).to('joined', { key: strings, value: strings });
      return builder.build();
    };
    expect(() => new TopologyTestDriver(join(false), { partitions: { left: 2, right: 3 } })).toThrow(/co-partitioned topics \[left, right\] have different partition counts/);
    const driver = new TopologyTestDriver(join(true), { applicationId: 'app', partitions: { left: 2, right: 4 } });
    expect(driver.partitionCount('app-pairs-left-repartition')).toBe(4);
    driver.createInputTopic('left', strings, strings).pipeInput('ignored', 'k7', 1);
    driver.createInputTopic('right', strings, strings).pipeInput('k7', 'r', 2);
    const joined = driver.createOutputTopic('joined', strings, strings).readRecordsToList();
    expect(joined.map((record) => [record.key, record.value])).toEqual([['k7', 'k7+r']]);
  });

  it('a restart from the changelogs restores each partition into its own task', () => {
    const options = { applicationId: 'wc', partitions: { lines: 3 } };
    const first = new TopologyTestDriver(wordCount(), options);
    first.createInputTopic('lines', strings, strings).pipeInput('l', 'a b c d e f a', 1);
    const changelogs = first.changelogRecords();
    first.close();
    const second = new TopologyTestDriver(wordCount(), { ...options, changelogs });
    for (const word of ['a', 'b', 'f']) {
      const store = second.getStateStore('counts', partitionForKey(utf8(word), 3)) as KeyValueStore<string, ValueAndTimestamp<number>>;
      expect(store.get(word)?.value).toBe(word === 'a' ? 2 : 1);
    }
    second.createInputTopic('lines', strings, strings).pipeInput('l', 'a', 2);
    expect(second.getKeyValueStore<string, number>('counts').get('a')).toBe(3);
  });
});
