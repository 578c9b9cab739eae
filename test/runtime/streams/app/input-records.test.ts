// A task's input buffer over packed runs: the PartitionGroup order, one cursor per partition
// that stays on the partition's last record taken (the commit reads its offset), and records
// an error handler may keep.
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../../../core/records/batch.ts';
import { CompressionCodec } from '../../../../core/records/compression.ts';
import type { PackedRun } from '../../../../runtime/client/consumer.ts';
import { scanFetch } from '../../../../runtime/client/fetch-records.ts';
import type { TopicRecord } from '../../../../core/topology/record.ts';
import { Serdes, StreamsBuilder } from '../../../../dsl/index.ts';
import { InputQueue, type InputCursor } from '../../../../runtime/streams/app/input-records.ts';
import { StreamTask } from '../../../../runtime/streams/task.ts';

/** A run of one fetched response holding one batch of `timestamps.length` records from `baseOffset`. */
function run(topic: string, partition: number, baseOffset: bigint, timestamps: readonly number[], from = 0, to = timestamps.length): PackedRun {
  const data = encodeBatch({
    baseOffset,
    records: timestamps.map((timestamp, index) => ({ key: `k${index}`, value: `${topic}-${partition}@${baseOffset + BigInt(index)}`, timestamp, headers: index === 0 ? [{ key: 'first', value: Buffer.from('yes') }] : [] })),
    compression: CompressionCodec.None,
  });
  return { topic, partition, records: scanFetch(topic, partition, baseOffset, data, null).records, from, to };
}

const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString());

function drain(queue: InputQueue): string[] {
  const taken: string[] = [];
  for (let record = queue.takeRecord(); record !== null; record = queue.takeRecord()) taken.push(`${queue.takenTopic}:${text(record.value)}:${record.timestamp}`);
  return taken;
}

describe('InputQueue', () => {
  it('hands out records in timestamp order across partitions, each partition in offset order, runs one after another', () => {
    const queue = new InputQueue(100);
    expect(queue.addRun(run('left', 0, 0n, [5, 1, 9]))).toBe(true);
    expect(queue.addRun(run('right', 0, 10n, [3, 4]))).toBe(true);
    expect(queue.addRun(run('left', 0, 3n, [2]))).toBe(true);
    expect(queue.bufferedCount()).toBe(6);
    // The head of left is 5, so right goes first; within left, 1 comes after 5; a tie goes to the partition added first.
    expect(drain(queue)).toEqual(['right:right-0@10:3', 'right:right-0@11:4', 'left:left-0@0:5', 'left:left-0@1:1', 'left:left-0@2:9', 'left:left-0@3:2']);
    expect(queue.bufferedCount()).toBe(0);
    expect(queue.takeRecord()).toBeNull();
  });

  it('reads only the run’s range and refuses runs beyond its bound', () => {
    const queue = new InputQueue(3);
    expect(queue.addRun(run('t', 0, 0n, [1, 2, 3, 4], 1, 3))).toBe(true);
    expect(queue.addRun(run('t', 1, 0n, [1, 2]))).toBe(false);
    expect(queue.bufferedCount()).toBe(2);
    expect(drain(queue)).toEqual(['t:t-0@1:2', 't:t-0@2:3']);
  });

  it('keeps one cursor per partition on the last record taken from it, with its offset, key and headers', () => {
    const queue = new InputQueue(100);
    queue.addRun(run('t', 0, 100n, [1, 2]));
    queue.addRun(run('t', 1, 7n, [3]));
    const first = queue.takeRecord() as InputCursor;
    expect([first.partition, first.offset, text(first.key), first.headers.map((header) => header.key)]).toEqual([0, 100n, 'k0', ['first']]);
    expect(queue.takeRecord()).toBe(first);
    // The same object, now on the partition's second record.
    expect([first.offset, text(first.key), first.headers]).toEqual([101n, 'k1', []]);
    const other = queue.takeRecord() as InputCursor;
    expect(other).not.toBe(first);
    expect([other.partition, other.offset]).toEqual([1, 7n]);
    // Partition 0's cursor still stands on its last record, whose offset a commit reads.
    expect(first.offset).toBe(101n);
  });

  it('gives a detached copy that does not move with the cursor', () => {
    const queue = new InputQueue(100);
    queue.addRun(run('t', 0, 0n, [1, 2]));
    const cursor = queue.takeRecord() as InputCursor;
    const kept = cursor.detached();
    queue.takeRecord();
    expect({ ...kept, key: text(kept.key), value: text(kept.value) }).toEqual({ key: 'k0', value: 't-0@0', timestamp: 1, headers: [{ key: 'first', value: Buffer.from('yes') }], partition: 0, offset: 0n });
    expect(cursor.offset).toBe(1n);
  });

  it('feeds a task whose commit is each partition\'s next offset after a partial run and a skipped record, and whose error handler keeps a record that does not move', () => {
    const builder = new StreamsBuilder();
    const sent: number[] = [];
    builder.stream(['a', 'b'], { key: Serdes.string(), value: Serdes.int32() }).foreach((value) => void sent.push(value));
    const kept: TopicRecord[] = [];
    const task = new StreamTask({
      applicationId: 'app', topology: builder.build(), subtopologyId: 0, partition: 2,
      collector: { send: () => undefined }, changelogWriter: null, clock: () => 0,
      deserializationErrorHandler: (_error, _topic, record) => { kept.push(record); return 'continue'; },
      globalStores: new Map(), log: () => undefined,
    });
    task.init();
    const int32 = (value: number): Buffer => Buffer.from(Serdes.int32().serialize(value, 'a'));
    const scanned = (topic: string, baseOffset: bigint, values: Buffer[]) => scanFetch(topic, 2, baseOffset, encodeBatch({ baseOffset, records: values.map((value) => ({ key: 'k', value, timestamp: 1 })), compression: CompressionCodec.None }), null).records;
    // Offset 8 of a is not an int32; the consumer hands a's response out in two runs.
    const a = scanned('a', 7n, [int32(1), Buffer.from([1]), int32(2)]);
    const queue = new InputQueue(100);
    const drain = (): void => {
      for (let record = queue.takeRecord(); record !== null; record = queue.takeRecord()) task.processPacked(queue.takenTopic, record);
    };
    queue.addRun({ topic: 'a', partition: 2, records: a, from: 0, to: 2 });
    drain();
    expect(task.commit()).toEqual([{ topic: 'a', partition: 2, offset: 9n }]);
    queue.addRun({ topic: 'a', partition: 2, records: a, from: 2, to: 3 });
    queue.addRun({ topic: 'b', partition: 2, records: scanned('b', 3n, [int32(5)]), from: 0, to: 1 });
    drain();
    expect(task.commit()).toEqual([
      { topic: 'a', partition: 2, offset: 10n },
      { topic: 'b', partition: 2, offset: 4n },
    ]);
    // Exactly the bad record was skipped, and the handler's record still is that record.
    expect(sent).toEqual([1, 2, 5]);
    expect(task.metrics.skippedRecords).toBe(1);
    expect(kept.map((record) => [record.offset, [...(record.value ?? [])]])).toEqual([[8n, [1]]]);
  });
});

describe('input strings through the batch text', () => {
  // Values of every kind a string serde meets: ASCII short and long (a slice of the batch text
  // from 13 characters), multi-byte UTF-8, invalid sequences, empty, and null.
  const values: (Buffer | null)[] = [
    Buffer.from('0000000000012|' + 'x'.repeat(80)), Buffer.from('short'), Buffer.from(''), null,
    Buffer.from('déjà vu, a value of more than thirteen characters'), Buffer.from('😀 and 東京'), Buffer.from([0x61, 0xc3]),
    Buffer.from([0xff, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d]), Buffer.from('{"n":1}'),
    Buffer.concat([Buffer.from('a'.repeat(40)), Buffer.from([0xed, 0xa0, 0x80])]), Buffer.from('b'.repeat(200)),
  ];
  const keys = values.map((_, index) => (index === 3 ? null : Buffer.from(index % 2 === 0 ? `key-${index}` : `a longer key number ${index}, é`)));

  /** Feeds the records through an InputQueue to a task; returns what it saw and what its string serde was asked. */
  function feed(withStore: boolean): { seen: (string | null)[]; skipped: number; asciiReads: number } {
    const strings = Serdes.string();
    let asciiReads = 0;
    const counting = { ...strings, name: 'counting-string' } as typeof strings;
    Object.defineProperty(counting, 'deserializeAscii', { value: (text: string, topic: string) => (asciiReads++, strings.deserializeAscii?.(text, topic)), enumerable: false });
    const builder = new StreamsBuilder();
    const seen: (string | null)[] = [];
    const stream = builder.stream('in', { key: counting, value: counting });
    if (withStore) stream.groupByKey().count({ name: 'counts' });
    stream.foreach((value, key) => void seen.push(`${key}=${value}`));
    let skipped = 0;
    const task = new StreamTask({
      applicationId: 'app', topology: builder.build(), subtopologyId: 0, partition: 0,
      collector: { send: () => undefined }, changelogWriter: null, clock: () => 0,
      deserializationErrorHandler: () => (skipped++, 'continue'), globalStores: new Map(), log: () => undefined,
    });
    task.init();
    // Two batches, the second at an odd place in its buffer, so each gets a text of its own.
    for (const [baseOffset, slice] of [[0n, values.slice(0, 6)], [6n, values.slice(6)]] as const) {
      const data = encodeBatch({ baseOffset, records: slice.map((value, index) => ({ key: keys[Number(baseOffset) + index] ?? null, value, timestamp: 1 })), compression: CompressionCodec.None });
      const shifted = Buffer.alloc(data.length + 3).subarray(3);
      data.copy(shifted);
      const queue = new InputQueue(100);
      queue.addRun({ topic: 'in', partition: 0, records: scanFetch('in', 0, baseOffset, shifted, null).records, from: 0, to: slice.length });
      for (let record = queue.takeRecord(); record !== null; record = queue.takeRecord()) task.processPacked(queue.takenTopic, record);
    }
    return { seen, skipped, asciiReads };
  }

  it('gives every key and value the string UTF-8 decoding gives, and skips invalid UTF-8, with and without the slices', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const decode = (bytes: Buffer | null | undefined): string | null | undefined => {
      if (bytes === null || bytes === undefined) return null;
      try {
        return decoder.decode(bytes);
      } catch {
        return undefined;
      }
    };
    const expected: string[] = [];
    let invalid = 0;
    values.forEach((value, index) => {
      const key = decode(keys[index]);
      const decoded = decode(value);
      if (key === undefined || decoded === undefined) invalid++;
      else expected.push(`${key}=${decoded}`);
    });
    const stateless = feed(false);
    expect(stateless.seen).toEqual(expected);
    expect(stateless.skipped).toBe(invalid);
    // The ASCII keys and values were read as slices: the serde was asked for them, and only them.
    const asciiFields = [...keys, ...values].filter((bytes) => bytes !== null && bytes.every((byte) => byte < 0x80)).length;
    expect(stateless.asciiReads).toBe(asciiFields);
    // A sub-topology with a store never reads slices (one would keep its batch alive in the store).
    const stateful = feed(true);
    expect(stateful.seen).toEqual(expected);
    expect(stateful.skipped).toBe(invalid);
    expect(stateful.asciiReads).toBe(0);
  });
});
