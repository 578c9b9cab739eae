// Reads changelog partitions from a start offset to their end offset at the time of the call,
// with a consumer of its own that belongs to no group. The end is fixed first, so a busy
// changelog cannot keep a restore going for ever. Compacted changelogs have gaps in their
// offsets, so "done" means the consumer's position reached the end, not a record count.
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import type { RecordMaker } from '../../client/consumer.ts';
import type { Consumer, TopicPartition } from '../../client/index.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

export interface ChangelogRange extends TopicPartition {
  /** First offset to read; 0n (or anything below the log start) reads from the start. */
  readonly from: bigint;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** End offsets (next offset to be written) of the partitions. */
export async function endOffsets(consumer: Consumer, partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
  if (partitions.length === 0) return new Map();
  return consumer.listOffsets(partitions, -1n);
}

export function offsetKey(topic: string, partition: number): string {
  return key(topic, partition);
}

/**
 * Calls onRecords with each fetched chunk, in offset order per partition, until every partition
 * reaches its end offset. Returns the end offsets reached.
 */
export async function readChangelogs(
  consumer: Consumer,
  ranges: readonly ChangelogRange[],
  onRecords: (topic: string, partition: number, records: ChangelogRecord[]) => Promise<void> | void,
): Promise<Map<string, bigint>> {
  let chunks = new Map<string, { topic: string; partition: number; records: ChangelogRecord[] }>();
  const sink: ChangelogSink = {
    add(topic, partition, recordKey, value) {
      let chunk = chunks.get(key(topic, partition));
      if (chunk === undefined) chunks.set(key(topic, partition), (chunk = { topic, partition, records: [] }));
      chunk.records.push({ key: recordKey, value });
    },
    async flush() {
      const full = chunks;
      chunks = new Map();
      for (const chunk of full.values()) await onRecords(chunk.topic, chunk.partition, chunk.records);
    },
  };
  return readChangelogsInto(consumer, ranges, sink);
}

/** One partition's restored records packed for the RocksDB worker (see worker/protocol.ts). */
export interface PackedChangelogChunk {
  readonly topic: string;
  readonly partition: number;
  readonly count: number;
  readonly packed: ArrayBuffer;
}

/**
 * readChangelogs for the RocksDB worker: each fetched record is copied from the fetch response
 * straight into the packed form the worker takes (count, then key and value lengths and bytes
 * per record), so restoration makes no object per record on this thread.
 */
export async function readChangelogsPacked(
  consumer: Consumer,
  ranges: readonly ChangelogRange[],
  onChunk: (chunk: PackedChangelogChunk) => Promise<void> | void,
): Promise<Map<string, bigint>> {
  const writers = new Map<string, PackedWriter>();
  let lastTopic = '';
  let lastPartition = -1;
  let last: PackedWriter | null = null;
  const sink: ChangelogSink = {
    add(topic, partition, recordKey, value) {
      if (last === null || topic !== lastTopic || partition !== lastPartition) {
        last = writers.get(key(topic, partition)) ?? null;
        if (last === null) writers.set(key(topic, partition), (last = new PackedWriter(topic, partition)));
        lastTopic = topic;
        lastPartition = partition;
      }
      last.add(recordKey, value);
    },
    async flush() {
      for (const writer of writers.values()) {
        if (writer.count === 0) continue;
        const count = writer.count;
        await onChunk({ topic: writer.topic, partition: writer.partition, count, packed: writer.take() });
      }
    },
  };
  return readChangelogsInto(consumer, ranges, sink);
}

/** Where readChangelogsInto puts records: add per record, flush after each poll. */
interface ChangelogSink {
  add(topic: string, partition: number, key: Uint8Array, value: Uint8Array | null): void;
  flush(): Promise<void>;
}

async function readChangelogsInto(consumer: Consumer, ranges: readonly ChangelogRange[], sink: ChangelogSink): Promise<Map<string, bigint>> {
  const ends = await endOffsets(consumer, ranges);
  const pending = ranges.filter((range) => range.from < (ends.get(key(range.topic, range.partition)) ?? 0n));
  if (pending.length === 0) return ends;
  consumer.assign(pending.map((range) => ({ topic: range.topic, partition: range.partition, offset: range.from })));
  // The maker sees records in runs of one partition and batches of one base offset, so the end
  // offset is looked up once per partition run and turned into an offset delta once per batch.
  let runTopic = '';
  let runPartition = -1;
  let runEnd = 0n;
  let batchBase = -1n;
  let batchDeltaEnd = 0;
  const maker: RecordMaker<number> = (topic, partition, recordKey, value, _timestampMs, _headers, baseOffset, offsetDelta) => {
    if (topic !== runTopic || partition !== runPartition) {
      runTopic = topic;
      runPartition = partition;
      runEnd = ends.get(key(topic, partition)) ?? 0n;
      batchBase = -1n;
    }
    if (baseOffset !== batchBase) {
      batchBase = baseOffset;
      const deltaEnd = runEnd - baseOffset;
      batchDeltaEnd = deltaEnd > 0x7fffffffn ? 0x7fffffff : Number(deltaEnd);
    }
    if (offsetDelta >= batchDeltaEnd) return 0;
    if (recordKey === null) throw new Error(`changelog ${topic}-${partition} holds a record without a key at offset ${baseOffset + BigInt(offsetDelta)}`);
    sink.add(topic, partition, recordKey, value);
    return 1;
  };
  let lastProgressMs = Date.now();
  for (;;) {
    const runs = await consumer.pollRuns(maker, { timeoutMs: 200, maxRecords: STREAMS_APP_LIMITS.restoreBatchRecords });
    if (runs.length > 0) lastProgressMs = Date.now();
    await sink.flush();
    const positions = consumer.positions();
    const done = positions.every((position) => position.offset !== null && position.offset >= (ends.get(key(position.topic, position.partition)) ?? 0n));
    if (done) break;
    if (Date.now() - lastProgressMs > STREAMS_APP_LIMITS.restoreStallMsMax) throw new Error(`restoring ${pending.map((range) => `${range.topic}-${range.partition}`).join(', ')} made no progress for ${STREAMS_APP_LIMITS.restoreStallMsMax} ms`);
  }
  consumer.assign([]);
  return ends;
}

/** Initial bytes of a packed chunk; it doubles when a poll's records do not fit. */
const PACKED_BYTES_INITIAL = 2 * 1024 * 1024;

/**
 * Builds packed record buffers (worker/protocol.ts's layout) in one reused buffer; take() hands
 * out an exact copy to transfer to the worker and starts the next.
 */
class PackedWriter {
  count = 0;
  private bytes = new Uint8Array(PACKED_BYTES_INITIAL);
  private view = new DataView(this.bytes.buffer);
  private position = 4;

  constructor(readonly topic: string, readonly partition: number) {}

  add(key: Uint8Array, value: Uint8Array | null): void {
    const valueBytes = value === null ? 0 : value.byteLength;
    const needed = this.position + 8 + key.byteLength + valueBytes;
    if (needed > this.bytes.byteLength) this.grow(needed);
    const view = this.view;
    view.setUint32(this.position, key.byteLength);
    view.setInt32(this.position + 4, value === null ? -1 : valueBytes);
    this.position += 8;
    this.bytes.set(key, this.position);
    this.position += key.byteLength;
    if (value !== null) {
      this.bytes.set(value, this.position);
      this.position += valueBytes;
    }
    this.count++;
  }

  take(): ArrayBuffer {
    this.view.setUint32(0, this.count);
    const packed = this.bytes.buffer.slice(0, this.position);
    this.count = 0;
    this.position = 4;
    return packed;
  }

  private grow(needed: number): void {
    let size = this.bytes.byteLength * 2;
    while (size < needed) size *= 2;
    const bytes = new Uint8Array(size);
    bytes.set(this.bytes.subarray(0, this.position));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }
}
