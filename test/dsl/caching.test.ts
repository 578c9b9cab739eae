import { describe as suite, expect, it } from 'vitest';
import { Serdes, StreamsBuilder, TimeWindows } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();

/** Word counts, and the total of all counts computed from the counts table with a subtractor. */
function counts(caching: boolean) {
  const builder = new StreamsBuilder();
  const table = builder
    .stream('lines', { key: strings, value: strings })
    .flatMapValues((line) => line.split(' '))
    .groupBy((word) => word, { key: strings, name: 'words' })
    .count({ name: 'counts', caching });
  table.toStream().to('counts-out', { key: strings, value: Serdes.long() });
  table
    .groupBy((count) => ['all', count] as const, { key: strings, value: Serdes.long(), name: 'totals' })
    .reduce((total, count) => total + count, (total, count) => total - count, { name: 'total', caching })
    .toStream()
    .to('total-out', { key: strings, value: Serdes.long() });
  const driver = new TopologyTestDriver(builder.build());
  return {
    lines: driver.createInputTopic('lines', strings, strings),
    countsOut: driver.createOutputTopic('counts-out', strings, Serdes.long()),
    totalOut: driver.createOutputTopic('total-out', strings, Serdes.long()),
  };
}

suite('record cache for table updates', () => {
  it('with caching (the default) a key updated several times before a commit goes downstream once', () => {
    const { lines, countsOut, totalOut } = counts(true);
    lines.pipeInput(null, 'kafka streams kafka kafka', 1);
    expect(countsOut.readKeyValuesToList()).toEqual([
      { key: 'kafka', value: 3 },
      { key: 'streams', value: 1 },
    ]);
    // The merged changes carry the value of the previous flush as the old value, so the
    // subtractor downstream removes exactly what it added before.
    expect(totalOut.readValuesToList()).toEqual([4]);
    lines.pipeInput(null, 'streams kafka', 2);
    expect(countsOut.readKeyValuesToList()).toEqual([
      { key: 'streams', value: 2 },
      { key: 'kafka', value: 4 },
    ]);
    expect(totalOut.readValuesToList()).toEqual([6]);
  });

  it('caching: false in Materialized sends every update on at once', () => {
    const { lines, countsOut, totalOut } = counts(false);
    lines.pipeInput(null, 'kafka streams kafka kafka', 1);
    expect(countsOut.readKeyValuesToList()).toEqual([
      { key: 'kafka', value: 1 },
      { key: 'streams', value: 1 },
      { key: 'kafka', value: 2 },
      { key: 'kafka', value: 3 },
    ]);
    // Each count change is a subtract and an add for the total, each sent on at once.
    const totals = totalOut.readValuesToList();
    expect(totals.at(-1)).toBe(4);
    expect(totals.length).toBeGreaterThan(4);
  });

  it('a table source that is deleted and re-added within one commit sends only the net change', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('events', { key: strings, value: strings })
      .flatMap((value, key) => value.split(',').map((part) => [key, part === '-' ? null : part] as const))
      .toTable({ name: 'latest', key: strings, value: strings })
      .toStream()
      .to('out', { key: strings, value: strings });
    const driver = new TopologyTestDriver(builder.build());
    const events = driver.createInputTopic('events', strings, strings);
    const out = driver.createOutputTopic('out', strings, strings);
    events.pipeInput('k', 'a,b,c', 1);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'k', value: 'c' }]);
    events.pipeInput('k', '-', 2);
    const deleted = out.readRecordsToList();
    expect(deleted.map((record) => [record.key, record.value, record.timestamp])).toEqual([['k', null, 2]]);
    events.pipeInput('k', 'x,-', 3); // added and deleted again: nothing changed since the last flush
    expect(out.isEmpty()).toBe(true);
  });

  for (const caching of [true, false]) {
    it(`windowed counts with caching ${caching ? 'on' : 'off'} send ${caching ? 'one merged update per window' : 'every update'}`, () => {
      const builder = new StreamsBuilder();
      builder
        .stream('lines', { key: strings, value: strings })
        .flatMap((line) => line.split(' ').map((word) => [word, word] as const))
        .groupByKey({ key: strings, value: strings })
        .windowedBy(TimeWindows.ofSizeAndGrace(10, 0).advanceBy(5))
        .count({ name: 'windowed', caching })
        .toStream()
        .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}`, count])
        .to('out', { key: strings, value: Serdes.long() });
      const driver = new TopologyTestDriver(builder.build());
      driver.createInputTopic('lines', strings, strings).pipeInput(null, 'a b a', 7);
      const out = driver.createOutputTopic('out', strings, Serdes.long()).readKeyValuesToList();
      if (caching) {
        expect(out).toEqual([
          { key: 'a@0', value: 2 },
          { key: 'a@5', value: 2 },
          { key: 'b@0', value: 1 },
          { key: 'b@5', value: 1 },
        ]);
      } else {
        expect(out).toEqual([
          { key: 'a@0', value: 1 },
          { key: 'a@5', value: 1 },
          { key: 'b@0', value: 1 },
          { key: 'b@5', value: 1 },
          { key: 'a@0', value: 2 },
          { key: 'a@5', value: 2 },
        ]);
      }
      expect(driver.getWindowStore<string, number>('windowed').fetch('a', 5)).toBe(2);
    });
  }
});
