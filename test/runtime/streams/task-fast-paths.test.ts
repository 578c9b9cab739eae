// StreamTask skips work per record (punctuation checks, offset bookkeeping, source lookups);
// these tests pin down that the skipped work was never needed, and the offsets a commit returns.
import { describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder, type Processor, type ProcessorContext, type Topology } from '../../../dsl/index.ts';
import type { Cancellable } from '../../../core/topology/processor.ts';
import type { TopicRecord } from '../../../core/topology/record.ts';
import { StreamTask, type OutgoingRecord, type PackedTopicRecord } from '../../../runtime/streams/task.ts';

const strings = Serdes.string();

function taskFor(topology: Topology, sent: OutgoingRecord[] = [], partition = 0): StreamTask {
  const task = new StreamTask({
    applicationId: 'app',
    topology,
    subtopologyId: 0,
    partition,
    collector: { send: (record) => void sent.push(record) },
    changelogWriter: null,
    clock: () => 0,
    deserializationErrorHandler: 'log-and-continue',
    globalStores: new Map(),
    log: () => undefined,
  });
  task.init();
  return task;
}

function record(key: string, timestamp: number, offset: bigint, partition = 0): TopicRecord {
  return { key: strings.serialize(key, 't'), value: strings.serialize(key, 't'), timestamp, headers: [], partition, offset };
}

/** A packed record as the runtime makes them: key and value inside one array with bytes around them. */
function packed(key: Uint8Array | null, value: Uint8Array | null, offset: bigint): PackedTopicRecord {
  const bytes = Uint8Array.from([0xff, ...(key ?? []), 0xfe, ...(value ?? []), 0xff]);
  const valueStart = 2 + (key?.length ?? 0);
  return {
    bytes, keyStart: 1, keyLength: key === null ? -1 : key.length, valueStart, valueLength: value === null ? -1 : value.length,
    key: key === null ? null : bytes.subarray(1, 1 + key.length), value: value === null ? null : bytes.subarray(valueStart, valueStart + value.length),
    timestamp: 5, headers: [], partition: 0, offset,
  };
}

describe('stream task fast paths', () => {
  it('processPacked reads key and value where they lie, with serdes that can and through views with those that cannot, and hands bad bytes to the error handler', () => {
    const seen: unknown[] = [];
    const stringsBuilder = new StreamsBuilder();
    stringsBuilder.stream('strings', { key: strings, value: Serdes.json<{ n: number }>() }).foreach((value, key) => void seen.push([key, value]));
    const stringsTask = taskFor(stringsBuilder.build());
    stringsTask.processPacked('strings', packed(strings.serialize('k', 't'), strings.serialize('{"n":1}', 't'), 0n));
    stringsTask.processPacked('strings', packed(null, strings.serialize('{"n":2}', 't'), 1n));
    stringsTask.processPacked('strings', packed(Uint8Array.from([0xc3]), strings.serialize('{"n":3}', 't'), 2n));
    // Serdes.bytes() has no deserializeAt: it is handed a view.
    const bytesBuilder = new StreamsBuilder();
    bytesBuilder.stream('bytes', { key: Serdes.bytes(), value: Serdes.long() }).foreach((value, key) => void seen.push([key === null ? null : [...key], value]));
    const bytesTask = taskFor(bytesBuilder.build());
    bytesTask.processPacked('bytes', packed(Uint8Array.from([1, 2]), Serdes.long().serialize(9, 't'), 0n));
    bytesTask.processPacked('bytes', packed(Uint8Array.from([3]), null, 1n));
    expect(seen).toEqual([['k', { n: 1 }], [null, { n: 2 }], [[1, 2], 9], [[3], null]]);
    // The bad key was skipped by log-and-continue, and its offset still counts as consumed.
    expect(stringsTask.metrics.skippedRecords).toBe(1);
    expect(stringsTask.commit()).toEqual([{ topic: 'strings', partition: 0, offset: 3n }]);
    expect(bytesTask.commit()).toEqual([{ topic: 'bytes', partition: 0, offset: 2n }]);
  });

  it('stream-time punctuations made during processing, cancelled, or made inside a punctuation (firing from the next record on) fire when due', () => {
    const fired: string[] = [];
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).process((): Processor<string, string, string, string> => {
      let context: ProcessorContext<string, string>;
      let late: Cancellable | null = null;
      return {
        init: (processorContext) => {
          context = processorContext;
        },
        process: (input) => {
          if (input.key === 'start') {
            context.schedule(10, 'stream-time', (time) => {
              fired.push(`every10@${time}`);
              if (time >= 20 && late === null) late = context.schedule(100, 'stream-time', (lateTime) => fired.push(`every100@${lateTime}`));
            });
            const cancelled = context.schedule(5, 'stream-time', (time) => fired.push(`cancelled@${time}`));
            cancelled.cancel();
          }
          if (input.key === 'stop') late?.cancel();
        },
      };
    });
    const task = taskFor(builder.build());
    task.process('in', record('start', 3, 0n));
    task.process('in', record('x', 9, 1n));
    task.process('in', record('x', 12, 2n));
    task.process('in', record('x', 25, 3n));
    task.process('in', record('x', 26, 4n));
    task.process('in', record('stop', 31, 5n));
    task.process('in', record('x', 140, 6n));
    expect(fired).toEqual(['every10@3', 'every10@12', 'every10@25', 'every100@26', 'every10@31', 'every10@140']);
  });

  it('commits the next offset of every input partition, in the order partitions were first seen', () => {
    const builder = new StreamsBuilder();
    builder.stream(['a', 'b'], { key: strings, value: strings }).to('out', { key: strings, value: strings });
    const sent: OutgoingRecord[] = [];
    const task = taskFor(builder.build(), sent);
    task.process('a', record('k', 1, 10n, 0));
    task.process('b', record('k', 2, 5n, 0));
    task.process('a', record('k', 3, 11n, 0));
    task.process('a', record('k', 4, 3n, 1));
    task.process('b', record('k', 5, 6n, 0));
    const first = task.commit();
    expect(first).toEqual([
      { topic: 'a', partition: 0, offset: 12n },
      { topic: 'b', partition: 0, offset: 7n },
      { topic: 'a', partition: 1, offset: 4n },
    ]);
    // The committed list is a copy: later records do not change what was handed out.
    task.process('a', record('k', 6, 12n, 0));
    expect(first[0]?.offset).toBe(12n);
    expect(task.commit()[0]?.offset).toBe(13n);
    expect(sent.map((output) => output.topic)).toEqual(['out', 'out', 'out', 'out', 'out', 'out']);
  });

  it('routes records of several topics to their own sources when topics alternate', () => {
    const builder = new StreamsBuilder();
    builder.stream('left', { key: strings, value: strings }).mapValues((value) => `L:${value}`).to('out', { key: strings, value: strings });
    builder.stream('right', { key: strings, value: strings }).mapValues((value) => `R:${value}`).to('out', { key: strings, value: strings });
    const topology = builder.build();
    expect(topology.subtopologies).toHaveLength(2);
    const sent: OutgoingRecord[] = [];
    const left = new StreamTask({ applicationId: 'app', topology, subtopologyId: 0, partition: 0, collector: { send: (output) => void sent.push(output) }, changelogWriter: null, clock: () => 0, deserializationErrorHandler: 'fail', globalStores: new Map(), log: () => undefined });
    left.init();
    left.process('left', record('1', 1, 0n));
    expect(() => left.process('right', record('2', 2, 0n))).toThrow(/does not consume topic right/);
    left.process('left', record('3', 3, 1n));
    // A string serde's output goes as text (see OutgoingRecord).
    expect(sent.map((output) => output.value)).toEqual(['L:1', 'L:3']);
  });

  it('calls the process function a processor has after init, even one init put there', () => {
    const seen: string[] = [];
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).process((): Processor<string, string, string, string> => {
      const processor: Processor<string, string, string, string> = {
        init: () => {
          processor.process = (input) => void seen.push(`late:${input.key}`);
        },
        process: (input) => void seen.push(`early:${input.key}`),
      };
      return processor;
    });
    const task = taskFor(builder.build());
    task.process('in', record('a', 1, 0n));
    expect(seen).toEqual(['late:a']);
  });

  it('sinks to internal topics prefix the application id once and keep it for every record', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('in', { key: strings, value: strings })
      .repartition({ name: 'by-key', key: strings, value: strings });
    const sent: OutgoingRecord[] = [];
    const task = taskFor(builder.build(), sent);
    task.process('in', record('a', 1, 0n));
    task.process('in', record('b', 2, 1n));
    expect(sent.map((output) => output.topic)).toEqual(['app-by-key-repartition', 'app-by-key-repartition']);
  });
});

describe('StreamTask commit', () => {
  it('returns the next offset of each input partition, skipped records included', () => {
    const builder = new StreamsBuilder();
    builder.stream(['a', 'b'], { key: Serdes.string(), value: Serdes.int32() }).to('out', { key: Serdes.string(), value: Serdes.int32() });
    const sent: OutgoingRecord[] = [];
    const task = taskFor(builder.build(), sent, 2);
    const input = (offset: bigint, value: Uint8Array): TopicRecord => ({ key: null, value, timestamp: 1, headers: [], partition: 2, offset });
    task.process('a', input(7n, Serdes.int32().serialize(1, 'a')));
    task.process('b', input(3n, new Uint8Array([1]))); // bad int32: skipped, but consumed
    task.process('a', input(8n, Serdes.int32().serialize(2, 'a')));
    expect(task.commit()).toEqual([
      { topic: 'a', partition: 2, offset: 9n },
      { topic: 'b', partition: 2, offset: 4n },
    ]);
    expect(sent.map((output) => output.topic)).toEqual(['out', 'out']);
    expect(task.metrics.skippedRecords).toBe(1);
    expect(task.id).toBe('0_2');
  });
});
