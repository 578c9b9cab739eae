import { describe, expect, it } from 'vitest';
import { StreamsBuilder, Serdes } from '../../../dsl/index.ts';
import { StreamTask } from '../../../runtime/streams/task.ts';

describe('StreamTask commit', () => {
  it('returns the next offset of each input partition, skipped records included', () => {
    const builder = new StreamsBuilder();
    builder.stream(['a', 'b'], { key: Serdes.string(), value: Serdes.int32() }).to('out', { key: Serdes.string(), value: Serdes.int32() });
    const sent: string[] = [];
    const task = new StreamTask({
      applicationId: 'app',
      topology: builder.build(),
      subtopologyId: 0,
      partition: 2,
      collector: { send: (record) => void sent.push(record.topic) },
      changelogWriter: null,
      clock: () => 0,
      deserializationErrorHandler: 'log-and-continue',
      globalStores: new Map(),
      log: () => undefined,
    });
    task.init();
    const record = (offset: bigint, value: Uint8Array) => ({ key: null, value, timestamp: 1, headers: [], partition: 2, offset });
    task.process('a', record(7n, Serdes.int32().serialize(1, 'a')));
    task.process('b', record(3n, new Uint8Array([1]))); // bad int32: skipped, but consumed
    task.process('a', record(8n, Serdes.int32().serialize(2, 'a')));
    expect(task.commit()).toEqual([
      { topic: 'a', partition: 2, offset: 9n },
      { topic: 'b', partition: 2, offset: 4n },
    ]);
    expect(sent).toEqual(['out', 'out']);
    expect(task.metrics.skippedRecords).toBe(1);
    expect(task.id).toBe('0_2');
  });
});
