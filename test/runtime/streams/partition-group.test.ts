import { describe, expect, it } from 'vitest';
import { PartitionGroup } from '../../../runtime/streams/partition-group.ts';
import type { TopicRecord } from '../../../core/topology/record.ts';
import { StreamsBuilder, Serdes } from '../../../dsl/index.ts';
import { StreamTask } from '../../../runtime/streams/task.ts';

function records(partition: number, timestamps: readonly number[]): TopicRecord[] {
  return timestamps.map((timestamp, index) => ({ key: null, value: null, timestamp, headers: [], partition, offset: BigInt(index) }));
}

describe('PartitionGroup', () => {
  it('hands out records in timestamp order across partitions and keeps per-partition order', () => {
    const group = new PartitionGroup(100);
    group.addRecords('left', 0, records(0, [5, 1, 9]));
    group.addRecords('right', 0, records(0, [3, 4]));
    const order: string[] = [];
    for (let next = group.nextRecord(); next !== null; next = group.nextRecord()) order.push(`${next.topic}@${next.record.timestamp}`);
    // The head of 'left' is 5, so 'right' goes first; within 'left', offsets stay in order (1 after 5).
    expect(order).toEqual(['right@3', 'right@4', 'left@5', 'left@1', 'left@9']);
    expect(group.emptyPartitions()).toEqual([
      { topic: 'left', partition: 0 },
      { topic: 'right', partition: 0 },
    ]);
  });

  it('refuses records beyond its bound', () => {
    const group = new PartitionGroup(3);
    expect(group.addRecords('t', 0, records(0, [1, 2]))).toBe(true);
    expect(group.addRecords('t', 1, records(1, [1, 2]))).toBe(false);
    expect(group.bufferedCount()).toBe(2);
  });

  it('compacts long queues without losing records', () => {
    const group = new PartitionGroup(10_000);
    group.addRecords('t', 0, records(0, Array.from({ length: 3000 }, (_, index) => index)));
    let count = 0;
    let last = -1;
    for (let next = group.nextRecord(); next !== null; next = group.nextRecord()) {
      expect(next.record.timestamp).toBe(last + 1);
      last = next.record.timestamp;
      count++;
    }
    expect(count).toBe(3000);
  });

  it('keeps its own copy of the records an empty queue takes, and appends to a queue that holds some', () => {
    const group = new PartitionGroup(100);
    const first = records(0, [1, 2]);
    group.addRecords('t', 0, first);
    // The caller's array may be reused once handed over.
    first.length = 0;
    group.addRecords('t', 0, records(0, [3]));
    expect(group.nextRecord()?.record.timestamp).toBe(1);
    const drained: number[] = [];
    for (let next = group.nextRecord(); next !== null; next = group.nextRecord()) drained.push(next.record.timestamp);
    expect(drained).toEqual([2, 3]);
    const again = records(0, [7, 8]);
    group.addRecords('t', 0, again);
    again.pop();
    expect([group.nextRecord()?.record.timestamp, group.nextRecord()?.record.timestamp, group.nextRecord()]).toEqual([7, 8, null]);
    expect(group.bufferedCount()).toBe(0);
  });
});


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

describe('PartitionGroup with large fetches', () => {
  it('takes a fetch larger than a call can spread and counts what it hands out', () => {
    const group = new PartitionGroup(5_000_000);
    // One record object repeated: the group keeps order by position, not identity.
    const fetched = new Array<TopicRecord>(3_000_000).fill({ key: null, value: null, timestamp: 1, headers: [], partition: 0, offset: 0n });
    expect(group.addRecords('t', 0, fetched)).toBe(true);
    expect(group.addRecords('u', 0, records(0, [0]))).toBe(true);
    expect(group.bufferedCount()).toBe(3_000_001);
    expect(group.nextRecord()?.topic).toBe('u');
    let taken = 0;
    while (group.nextRecord() !== null) taken++;
    expect(taken).toBe(3_000_000);
    expect(group.bufferedCount()).toBe(0);
  });
});
