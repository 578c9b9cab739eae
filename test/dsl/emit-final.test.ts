import { describe as suite, expect, it } from 'vitest';
import { StreamsBuilder, Serdes, SessionWindows, Suppressed, TimeWindows } from '../../dsl/index.ts';
import type { KTable, Windowed } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();

function label(windowed: Windowed<string>): string {
  return `${windowed.key}@${windowed.window.startMs}-${windowed.window.endMs}`;
}

function sessionCount(emitFinal: 'operator' | 'suppress', gapMs: number, graceMs: number) {
  const builder = new StreamsBuilder();
  const grouped = builder.stream('in', { key: strings, value: strings }).groupByKey();
  let table: KTable<Windowed<string>, number>;
  if (emitFinal === 'operator') {
    table = grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(gapMs, graceMs)).count({ name: 'sessions', emit: 'on-window-close' });
  } else {
    table = grouped.windowedBy(SessionWindows.ofInactivityGapAndGrace(gapMs, graceMs)).count({ name: 'sessions' }).suppress(Suppressed.untilWindowCloses());
  }
  table
    .toStream()
    .map((count, windowed) => [label(windowed), count])
    .to('out', { key: strings, value: Serdes.long() });
  const driver = new TopologyTestDriver(builder.build());
  return { driver, input: driver.createInputTopic('in', strings, strings), out: driver.createOutputTopic('out', strings, Serdes.long()) };
}

suite('emit-final for session windows', () => {
  // Both ways to get final results must agree: a session is final once its end plus the gap is
  // below stream time minus grace, because until then a record that is not late can extend it.
  for (const mode of ['operator', 'suppress'] as const) {
    it(`${mode}: each session goes out once, after end + gap + grace, never a merged-away one`, () => {
      const { input, out } = sessionCount(mode, 10, 5);
      input.pipeInput('u', 'a', 0);
      input.pipeInput('u', 'b', 5); // merges [0,0] into [0,5]; neither goes out yet
      input.pipeInput('v', 'c', 8);
      input.pipeInput('w', 'd', 20); // a record at 15 would still extend [0,5]
      expect(out.isEmpty()).toBe(true);
      input.pipeInput('w', 'e', 30); // w's [20,20] grows into [20,30]
      expect(out.readKeyValuesToList()).toEqual([
        { key: 'u@0-5', value: 2 },
        { key: 'v@8-8', value: 1 },
      ]);
      input.pipeInput('u', 'f', 36);
      expect(out.isEmpty()).toBe(true);
      input.pipeInput('x', 'g', 50);
      expect(out.readKeyValuesToList()).toEqual([{ key: 'w@20-30', value: 2 }]);
      input.pipeInput('x', 'h', 60);
      expect(out.readKeyValuesToList()).toEqual([{ key: 'u@36-36', value: 1 }]);
    });

    it(`${mode}: a session within one gap of the close time is still extended, then emitted merged`, () => {
      const { input, out } = sessionCount(mode, 10, 0);
      input.pipeInput('u', 'a', 0);
      input.pipeInput('v', 'b', 10); // [0,0] has ended, but a record at 10 may still join it
      expect(out.isEmpty()).toBe(true);
      input.pipeInput('u', 'c', 10);
      input.pipeInput('v', 'd', 21);
      expect(out.readKeyValuesToList()).toEqual([
        { key: 'u@0-10', value: 2 },
        { key: 'v@10-10', value: 1 },
      ]);
    });
  }

  it('late records are dropped and counted, and nothing closed is emitted twice', () => {
    const { driver, input, out } = sessionCount('operator', 10, 5);
    input.pipeInput('u', 'a', 0);
    input.pipeInput('x', 'b', 60);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'u@0-0', value: 1 }]);
    input.pipeInput('u', 'late', 20);
    expect(driver.metrics().droppedLateRecords).toBe(1);
    input.pipeInput('x', 'c', 61);
    input.pipeInput('y', 'd', 62);
    expect(out.isEmpty()).toBe(true);
  });
});

function cogroupCount(emit: 'on-window-close' | 'suppress') {
  const builder = new StreamsBuilder();
  const clicks = builder.stream('clicks', { key: strings, value: strings }).groupByKey();
  const views = builder.stream('views', { key: strings, value: strings }).groupByKey();
  const windowed = clicks
    .cogroup<string>((_key, _value, total) => `${total}c`)
    .cogroup(views, (_key, _value, total) => `${total}v`)
    .windowedBy(TimeWindows.ofSizeAndGrace(10, 2));
  const table = emit === 'suppress' ? windowed.aggregate(() => '', { name: 'activity', value: strings }).suppress(Suppressed.untilWindowCloses()) : windowed.aggregate(() => '', { name: 'activity', value: strings, emit });
  table
    .toStream()
    .map((value, key) => [label(key), value])
    .to('out', { key: strings, value: strings });
  const driver = new TopologyTestDriver(builder.build());
  return {
    driver,
    clicks: driver.createInputTopic('clicks', strings, strings),
    views: driver.createInputTopic('views', strings, strings),
    out: driver.createOutputTopic('out', strings, strings),
  };
}

suite('emit-final for windowed cogroup', () => {
  for (const mode of ['on-window-close', 'suppress'] as const) {
    it(`${mode}: one final result per window, holding both inputs, whichever input advanced stream time`, () => {
      const { driver, clicks, views, out } = cogroupCount(mode);
      clicks.pipeInput('a', 'x', 1);
      views.pipeInput('a', 'y', 3);
      clicks.pipeInput('b', 'x', 9);
      views.pipeInput('b', 'y', 11); // close time 9: window [0,10) stays open for grace
      expect(out.isEmpty()).toBe(true);
      views.pipeInput('a', 'y', 12); // close time 10, advanced by the views input
      expect(out.readKeyValuesToList()).toEqual([
        { key: 'a@0-10', value: 'cv' },
        { key: 'b@0-10', value: 'c' },
      ]);
      clicks.pipeInput('a', 'late', 5); // window [0,10) closed: dropped, nothing re-emitted
      clicks.pipeInput('a', 'x', 25); // closes [10,20) on the clicks side
      expect(out.readKeyValuesToList()).toEqual([
        { key: 'a@10-20', value: 'v' },
        { key: 'b@10-20', value: 'v' },
      ]);
      expect(driver.metrics().droppedLateRecords).toBe(1);
      expect(driver.getWindowStore<string, string>('activity').fetch('a', 10)).toBe('v');
    });
  }
});

suite('emit-final across a restart', () => {
  function build() {
    const builder = new StreamsBuilder();
    const grouped = builder.stream('in', { key: strings, value: strings }).groupByKey();
    grouped
      .windowedBy(TimeWindows.ofSizeAndGrace(10, 2))
      .count({ name: 'final', emit: 'on-window-close' })
      .toStream()
      .map((count, windowed) => [label(windowed), count])
      .to('out', { key: strings, value: Serdes.long() });
    grouped
      .windowedBy(SessionWindows.ofInactivityGapAndGrace(5, 0))
      .count({ name: 'final-sessions', emit: 'on-window-close' })
      .toStream()
      .map((count, windowed) => [label(windowed), count])
      .to('out', { key: strings, value: Serdes.long() });
    return builder.build();
  }

  it('a restored task does not emit windows and sessions it emitted before the restart', () => {
    const topology = build();
    expect(topology.stores.map((store) => store.name)).toContain('final-emit-final');
    const first = new TopologyTestDriver(topology, { applicationId: 'ef' });
    const input = first.createInputTopic('in', strings, strings);
    input.pipeInput('a', 'x', 1);
    input.pipeInput('b', 'y', 12);
    expect(first.createOutputTopic('out', strings, Serdes.long()).readKeyValuesToList()).toEqual([
      { key: 'a@0-10', value: 1 },
      { key: 'a@1-1', value: 1 },
    ]);
    const changelogs = first.changelogRecords();
    first.close();
    const second = new TopologyTestDriver(topology, { applicationId: 'ef', changelogs });
    second.createInputTopic('in', strings, strings).pipeInput('b', 'z', 13);
    expect(second.createOutputTopic('out', strings, Serdes.long()).isEmpty()).toBe(true);
    second.createInputTopic('in', strings, strings).pipeInput('c', 'w', 30);
    expect(second.createOutputTopic('out', strings, Serdes.long()).readKeyValuesToList()).toEqual([
      { key: 'b@10-20', value: 2 },
      { key: 'b@12-13', value: 2 },
    ]);
  });
});
