import { describe as suite, expect, it } from 'vitest';
import { StreamsBuilder, Serdes, TimeWindows, SessionWindows, JoinWindows, Suppressed, type Topology } from '../../../dsl/index.ts';
import { TopologyTestDriver } from '../../../runtime/streams/index.ts';

const strings = Serdes.string();

function topology(): Topology {
  const builder = new StreamsBuilder();
  const words = builder.stream('words', { key: strings, value: strings });
  words.groupBy((word) => word, { key: strings }).count({ name: 'counts' });
  words.groupByKey().windowedBy(TimeWindows.ofSizeAndGrace(100, 50)).count({ name: 'windowed' });
  words.groupByKey().windowedBy(SessionWindows.ofInactivityGapWithNoGrace(10)).count({ name: 'sessions' });
  const other = builder.stream('other', { key: strings, value: strings });
  words.join(other, (a, b) => `${a}+${b}`, JoinWindows.ofTimeDifferenceWithNoGrace(1000), { name: 'pairs' }).to('pairs-out', { key: strings, value: strings });
  return builder.build();
}

suite('restoring stores from changelogs', () => {
  it('a new driver rebuilt from the changelogs continues where the old one stopped', () => {
    const first = new TopologyTestDriver(topology(), { applicationId: 'restore' });
    const words = first.createInputTopic('words', strings, strings);
    words.pipeInput('u1', 'apple', 10);
    words.pipeInput('u1', 'pear', 20);
    words.pipeInput('u2', 'apple', 30);
    // Only stores that were written have changelog records; nothing was piped to 'other' yet.
    const changelogs = first.changelogRecords();
    expect([...changelogs.keys()].sort()).toEqual([
      'restore-counts-changelog',
      'restore-pairs-this-join-store-changelog',
      'restore-sessions-changelog',
      'restore-windowed-changelog',
    ]);
    first.close();

    const second = new TopologyTestDriver(topology(), { applicationId: 'restore', changelogs });
    expect(second.getKeyValueStore<string, number>('counts').get('apple')).toBe(2);
    expect(second.getWindowStore<string, number>('windowed').fetch('u1', 0)).toBe(2);
    expect(second.getSessionStore<string, number>('sessions').fetch('u1').map((entry) => [entry.key.window.startMs, entry.key.window.endMs, entry.value])).toEqual([[10, 20, 2]]);
    const moreWords = second.createInputTopic('words', strings, strings);
    moreWords.pipeInput('u1', 'apple', 40);
    expect(second.getKeyValueStore<string, number>('counts').get('apple')).toBe(3);
    expect(second.getWindowStore<string, number>('windowed').fetch('u1', 0)).toBe(3);
    // The join buffer came back too: a right record joins the left records piped before the restart.
    second.createInputTopic('other', strings, strings).pipeInput('u1', 'x', 50);
    expect(second.createOutputTopic('pairs-out', strings, strings).readValuesToList()).toEqual(['apple+x', 'pear+x', 'apple+x']);
  });
});

suite('suppress after a restart', () => {
  it('updates held by suppress survive in its logged buffer', () => {
    const build = () => {
      const builder = new StreamsBuilder();
      builder
        .stream('in', { key: strings, value: strings })
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeWithNoGrace(10))
        .count({ name: 'counts' })
        .suppress(Suppressed.untilWindowCloses({ maxRecords: 100 }))
        .toStream()
        .map((count, windowed) => [`${windowed.key}@${windowed.window.startMs}`, count])
        .to('final', { key: strings, value: Serdes.long() });
      return builder.build();
    };
    const first = new TopologyTestDriver(build(), { applicationId: 'sup' });
    first.createInputTopic('in', strings, strings).pipeInput('a', 'x', 1);
    first.createInputTopic('in', strings, strings).pipeInput('a', 'y', 2);
    expect(first.createOutputTopic('final', strings, Serdes.long()).isEmpty()).toBe(true);
    const second = new TopologyTestDriver(build(), { applicationId: 'sup', changelogs: first.changelogRecords() });
    second.createInputTopic('in', strings, strings).pipeInput('b', 'z', 15);
    expect(second.createOutputTopic('final', strings, Serdes.long()).readKeyValuesToList()).toEqual([{ key: 'a@0', value: 2 }]);
  });
});
