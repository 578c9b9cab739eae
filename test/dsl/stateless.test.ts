import { describe as suite, expect, it } from 'vitest';
import { isMatching, P } from 'ts-pattern';
import { StreamsBuilder, Serdes } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();

function drive(build: (builder: StreamsBuilder) => void) {
  const builder = new StreamsBuilder();
  build(builder);
  const driver = new TopologyTestDriver(builder.build());
  return { driver, input: driver.createInputTopic('input', strings, strings) };
}

suite('stateless operators through the test driver', () => {
  it('filter, mapValues and map transform records in order with their timestamps', () => {
    const { driver, input } = drive((builder) => {
      builder
        .stream('input', { key: strings, value: strings })
        .filter((value) => value.length > 1)
        .mapValues((value) => value.toUpperCase())
        .map((value, key) => [`${key}!`, `${value}:${key}`])
        .to('output', { key: strings, value: strings });
    });
    input.pipeInput('a', 'x', 10);
    input.pipeInput('b', 'hello', 20);
    input.pipeInput('c', 'world', 30);
    const output = driver.createOutputTopic('output', strings, strings);
    expect(output.readRecordsToList().map((record) => [record.key, record.value, record.timestamp])).toEqual([
      ['b!', 'HELLO:b', 20],
      ['c!', 'WORLD:c', 30],
    ]);
  });

  it('flatMapValues, flatMap, selectKey, filterNot, peek and foreach', () => {
    const seen: string[] = [];
    const { driver, input } = drive((builder) => {
      const words = builder.stream('input', { key: strings, value: strings }).flatMapValues((value) => value.split(' '));
      words.filterNot((word) => word === 'skip').peek((word) => seen.push(`peek:${word}`)).selectKey((word) => word.length).to('lengths', { key: Serdes.int32(), value: strings });
      words.flatMap((word, key) => [[key, word], [key, word.toUpperCase()]] as const).foreach((value, key) => seen.push(`${key}=${value}`));
    });
    input.pipeInput('k', 'ab skip c', 1);
    const lengths = driver.createOutputTopic('lengths', Serdes.int32(), strings).readKeyValuesToList();
    expect(lengths).toEqual([
      { key: 2, value: 'ab' },
      { key: 1, value: 'c' },
    ]);
    expect(seen).toEqual(['peek:ab', 'k=ab', 'k=AB', 'k=skip', 'k=SKIP', 'peek:c', 'k=c', 'k=C']);
  });

  it('split sends each record to the first matching branch, with ts-pattern predicates', () => {
    type Event = { kind: 'click'; x: number } | { kind: 'view'; page: string };
    const builder = new StreamsBuilder();
    const branches = builder
      .stream('events', { key: strings, value: Serdes.json<Event>() })
      .split({ name: 'route-' })
      .branch(isMatching({ kind: 'click' }), { name: 'clicks' })
      .branch(isMatching({ kind: 'view', page: P.string.startsWith('/admin') }), { name: 'admin' })
      .defaultBranch({ name: 'other' });
    expect(Object.keys(branches).sort()).toEqual(['route-admin', 'route-clicks', 'route-other']);
    branches['route-clicks']?.mapValues((event) => JSON.stringify(event)).to('clicks', { value: strings });
    branches['route-admin']?.to('admin');
    branches['route-other']?.to('other');
    const driver = new TopologyTestDriver(builder.build());
    const input = driver.createInputTopic('events', strings, Serdes.json<Event>());
    input.pipeInput('1', { kind: 'click', x: 3 }, 1);
    input.pipeInput('2', { kind: 'view', page: '/admin/users' }, 2);
    input.pipeInput('3', { kind: 'view', page: '/home' }, 3);
    expect(driver.createOutputTopic('clicks', strings, strings).readValuesToList()).toEqual(['{"kind":"click","x":3}']);
    expect(driver.createOutputTopic('admin', strings, Serdes.json<Event>()).readKeyValuesToList()).toEqual([{ key: '2', value: { kind: 'view', page: '/admin/users' } }]);
    expect(driver.createOutputTopic('other', strings, Serdes.json<Event>()).readKeyValuesToList()).toEqual([{ key: '3', value: { kind: 'view', page: '/home' } }]);
  });

  it('merge combines two streams and to() can pick the topic per record', () => {
    const builder = new StreamsBuilder();
    const a = builder.stream('a', { key: strings, value: strings });
    const b = builder.stream('b', { key: strings, value: strings });
    a.merge(b).to((_key, value) => (value.startsWith('x') ? 'xs' : 'others'), { key: strings, value: strings });
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('a', strings, strings).pipeInput('1', 'x1', 5);
    driver.createInputTopic('b', strings, strings).pipeInput('2', 'y2', 6);
    driver.createInputTopic('b', strings, strings).pipeInput('3', 'x3', 7);
    expect(driver.createOutputTopic('xs', strings, strings).readValuesToList()).toEqual(['x1', 'x3']);
    expect(driver.createOutputTopic('others', strings, strings).readValuesToList()).toEqual(['y2']);
  });

  it('a stream read from a pattern sees every matching topic', () => {
    const builder = new StreamsBuilder();
    builder.stream(/^logs-.*/, { key: strings, value: strings }).mapValues((value, key) => `${key}:${value}`).to('all-logs', { value: strings });
    const driver = new TopologyTestDriver(builder.build());
    driver.createInputTopic('logs-a', strings, strings).pipeInput('k1', 'v1', 1);
    driver.createInputTopic('logs-b', strings, strings).pipeInput('k2', 'v2', 2);
    expect(() => driver.createInputTopic('metrics', strings, strings).pipeInput('k', 'v', 3)).toThrow(/no source/);
    expect(driver.createOutputTopic('all-logs', strings, strings).readValuesToList()).toEqual(['k1:v1', 'k2:v2']);
  });
});

suite('source merging', () => {
  it('a topic read twice with the same serdes becomes one source; different serdes are refused', () => {
    const builder = new StreamsBuilder();
    builder.stream('shared', { key: strings, value: Serdes.json<{ n: number }>() }).to('a', { key: strings, value: Serdes.json() });
    builder.stream('shared', { key: strings, value: Serdes.json<{ n: number }>() }).to('b', { key: strings, value: Serdes.json() });
    const topology = builder.build();
    expect(topology.subtopologies).toHaveLength(1);
    expect(topology.subtopologies[0]?.nodes.filter((node) => node.kind === 'source')).toHaveLength(1);
    const driver = new TopologyTestDriver(topology);
    driver.createInputTopic('shared', strings, Serdes.json<{ n: number }>()).pipeInput('k', { n: 1 }, 1);
    expect(driver.createOutputTopic('a', strings, Serdes.json()).getQueueSize()).toBe(1);
    expect(driver.createOutputTopic('b', strings, Serdes.json()).getQueueSize()).toBe(1);
    const conflicting = new StreamsBuilder();
    conflicting.stream('t', { key: strings, value: strings });
    conflicting.stream('t', { key: strings, value: Serdes.bytes() });
    expect(() => conflicting.build()).toThrow(/different serdes/);
  });
});
