import { describe as suite, expect, it } from 'vitest';
import { StreamsBuilder, Serdes, SlidingWindows } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();

suite('sliding windows', () => {
  function drive(graceMs: number) {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, graceMs))
      .count({ name: 'sliding' })
      .toStream()
      .map((count, windowed) => [`[${windowed.window.startMs},${windowed.window.endMs}]`, count])
      .to('out', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    return { driver, input: driver.createInputTopic('in', strings, strings), out: driver.createOutputTopic('out', strings, Serdes.long()) };
  }

  it('creates left windows per record and right windows once a later record is close', () => {
    const { driver, input, out } = drive(100);
    input.pipeInput('k', 'a', 5);
    expect(out.readKeyValuesToList()).toEqual([{ key: '[0,10]', value: 1 }]);
    input.pipeInput('k', 'b', 12);
    expect(out.readKeyValuesToList()).toEqual([
      { key: '[2,12]', value: 2 },
      { key: '[6,16]', value: 1 },
    ]);
    input.pipeInput('k', 'c', 30);
    expect(out.readKeyValuesToList()).toEqual([{ key: '[20,30]', value: 1 }]);
    input.pipeInput('k', 'out of order', 15);
    expect(out.readKeyValuesToList()).toEqual([
      { key: '[5,15]', value: 3 },
      { key: '[6,16]', value: 2 },
      { key: '[13,23]', value: 1 },
    ]);
    expect(driver.getWindowStore<string, number>('sliding').fetchRange('k', 0, 100).map((entry) => [entry.windowStartMs, entry.value])).toEqual([
      [0, 1],
      [2, 2],
      [5, 3],
      [6, 2],
      [13, 1],
      [20, 1],
    ]);
  });

  it('drops records whose every window has closed', () => {
    const { driver, input, out } = drive(0);
    input.pipeInput('k', 'a', 100);
    out.readKeyValuesToList();
    input.pipeInput('k', 'late', 80);
    expect(out.isEmpty()).toBe(true);
    expect(driver.metrics().droppedLateRecords).toBe(1);
  });
});

suite('sliding windows with emit on window close', () => {
  it('emits each window once, after stream time passes its end plus grace', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(10, 5))
      .count({ name: 'sliding-final', emit: 'on-window-close' })
      .toStream()
      .map((count, windowed) => [`[${windowed.window.startMs},${windowed.window.endMs}]`, count])
      .to('out', { key: strings, value: Serdes.long() });
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('in', strings, strings);
    const out = driver.createOutputTopic('out', strings, Serdes.long());
    input.pipeInput('k', 'a', 20);
    input.pipeInput('k', 'b', 25); // windows [10,20]=1, [15,25]=2, [21,31]=1
    input.pipeInput('k', 'c', 35); // close time 30: [10,20] and [15,25] are closed
    expect(out.readKeyValuesToList()).toEqual([
      { key: '[10,20]', value: 1 },
      { key: '[15,25]', value: 2 },
    ]);
    input.pipeInput('k', 'd', 100);
    expect(out.readKeyValuesToList()).toEqual([
      { key: '[21,31]', value: 1 },
      { key: '[25,35]', value: 2 },
      { key: '[26,36]', value: 1 },
    ]);
  });
});
