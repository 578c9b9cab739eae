// Reads changelog partitions from a start offset to their end offset at the time of the call,
// with a consumer of its own that belongs to no group. The end is fixed first, so a busy
// changelog cannot keep a restore going for ever. Compacted changelogs have gaps in their
// offsets, so "done" means the consumer's position reached the end, not a record count.
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import type { RecordMaker } from '../../client/consumer.ts';
import type { Consumer, TopicPartition } from '../../client/index.ts';
import { RecordPacker } from '../../../state/stores/rocksdb/worker/protocol.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

export interface ChangelogRange extends TopicPartition {
  /** First offset to read; 0n (or anything below the log start) reads from the start. */
  readonly from: bigint;
  /** The end offset to read up to, when the caller has listed it already; else listed by restore(). */
  readonly to?: bigint;
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
  consumer: Consumer | ChangelogRestorer,
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
 * per record), so restoration makes no object per record on this thread. A partition's records
 * gather over polls into write batches of up to restoreWriteBatchRecords records or
 * restoreWriteBatchBytes bytes (the rest goes when the partition reaches its end): fewer, larger
 * batches for RocksDB, and a window or session store skips every record a later one in its batch
 * puts past the retention period, so a larger batch writes fewer (one partition of the windowed
 * count benchmark's changelog, 125,000 records: 41 % written in 10,000-record batches, 9 % in
 * 50,000-record ones).
 */
export async function readChangelogsPacked(
  consumer: Consumer | ChangelogRestorer,
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
    flush: () => handOver(false),
    finish: () => handOver(true),
  };
  /** Hands the writers' records to onChunk: those of a full write batch, or with `all` every one. */
  const handOver = async (all: boolean): Promise<void> => {
    for (const writer of writers.values()) {
      if (writer.count === 0) continue;
      if (!all && writer.count < STREAMS_APP_LIMITS.restoreWriteBatchRecords && writer.byteLength < STREAMS_APP_LIMITS.restoreWriteBatchBytes) continue;
      const count = writer.count;
      await onChunk({ topic: writer.topic, partition: writer.partition, count, packed: writer.take() });
    }
  };
  return readChangelogsInto(consumer, ranges, sink);
}

/**
 * Where a restoration puts records: add per record, flush after each poll (it may keep records
 * for a larger batch), finish once all of the caller's partitions reached their ends (it hands
 * over everything it kept) before the caller's restore resolves.
 */
export interface ChangelogSink {
  add(topic: string, partition: number, key: Uint8Array, value: Uint8Array | null): void;
  flush(): Promise<void>;
  finish?(): Promise<void>;
}

/** A consumer alone restores through a restorer of its own. */
function readChangelogsInto(source: Consumer | ChangelogRestorer, ranges: readonly ChangelogRange[], sink: ChangelogSink): Promise<Map<string, bigint>> {
  return (source instanceof ChangelogRestorer ? source : new ChangelogRestorer(source)).restore(ranges, sink);
}

/** One caller's changelog ranges inside a ChangelogRestorer. */
interface Registration {
  readonly ranges: readonly ChangelogRange[];
  readonly sink: ChangelogSink;
  readonly ends: Map<string, bigint>;
  readonly resolve: (ends: Map<string, bigint>) => void;
  readonly reject: (error: unknown) => void;
}

/** What the maker needs per partition: whose sink takes its records and where it ends. */
interface PartitionRestore {
  readonly registration: Registration;
  readonly end: bigint;
  done: boolean;
}

/**
 * Restores the changelog partitions of every caller through one consumer, interleaved, as Kafka
 * Streams' restore consumer does for all the tasks of an instance: tasks created together call
 * restore() concurrently and their partitions share each fetch. Restoring task after task instead
 * left the consumer with one partition, whose next fetch goes out only once the records of the
 * last one are handed out, so fetching and decoding took turns; with several partitions one is
 * fetched while another is decoded. A caller's promise resolves once each of its partitions has
 * reached the end offset it had when restore() was called and its sink has taken every record;
 * finished partitions are paused, so they cost no more fetching. Callers that join while a
 * restoration runs are added to the consumer's assignment at the next poll (records already
 * buffered for the others are fetched again: the consumer drops them on a new assignment).
 */
export class ChangelogRestorer {
  private readonly joining: Registration[] = [];
  private readonly restoring: Registration[] = [];
  private readonly partitions = new Map<string, PartitionRestore>();
  /** Whether the poll loop runs; it stops once no caller is left. */
  private running = false;

  constructor(private readonly consumer: Consumer) {}

  /** Reads ranges into sink from their start to their end offsets now; resolves with those ends. */
  async restore(ranges: readonly ChangelogRange[], sink: ChangelogSink): Promise<Map<string, bigint>> {
    const ends = ranges.every((range) => range.to !== undefined)
      ? new Map(ranges.map((range) => [key(range.topic, range.partition), range.to as bigint]))
      : await endOffsets(this.consumer, ranges);
    const pending = ranges.filter((range) => range.from < (ends.get(key(range.topic, range.partition)) ?? 0n));
    if (pending.length === 0) return ends;
    for (const range of pending) {
      if (this.partitions.has(key(range.topic, range.partition))) throw new Error(`changelog ${range.topic}-${range.partition} is already being restored`);
    }
    return new Promise((resolve, reject) => {
      const registration: Registration = { ranges: pending, sink, ends, resolve, reject };
      this.joining.push(registration);
      for (const range of pending) this.partitions.set(key(range.topic, range.partition), { registration, end: ends.get(key(range.topic, range.partition)) ?? 0n, done: false });
      if (this.running) return;
      this.running = true;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    try {
      await this.loop();
    } catch (error) {
      for (const registration of [...this.restoring, ...this.joining]) registration.reject(error);
      this.restoring.length = 0;
      this.joining.length = 0;
      this.partitions.clear();
    } finally {
      // Set in the same turn as the loop's last look at the callers, so none can join unseen.
      this.running = false;
      this.consumer.assign([]);
    }
  }

  private async loop(): Promise<void> {
    let lastProgressMs = Date.now();
    for (;;) {
      if (this.joining.length > 0) this.assignJoining();
      if (this.restoring.length === 0) return;
      // A maker per poll: its cached partition must not outlive a caller that finished.
      const runs = await this.consumer.pollRuns(this.maker(), { timeoutMs: 200, maxRecords: STREAMS_APP_LIMITS.restoreBatchRecords });
      if (runs.length > 0) lastProgressMs = Date.now();
      for (const registration of this.restoring) await registration.sink.flush();
      await this.settleFinished();
      if (Date.now() - lastProgressMs > STREAMS_APP_LIMITS.restoreStallMsMax) {
        const stalled = [...this.partitions.entries()].filter(([, partition]) => !partition.done).map(([name]) => name.replace('\u0000', '-'));
        throw new Error(`restoring ${stalled.join(', ')} made no progress for ${STREAMS_APP_LIMITS.restoreStallMsMax} ms`);
      }
    }
  }

  /** Adds the joining callers' partitions; partitions already restoring continue from their positions. */
  private assignJoining(): void {
    const positions = new Map(this.consumer.positions().map((position) => [key(position.topic, position.partition), position.offset]));
    this.restoring.push(...this.joining.splice(0));
    const assignment: { topic: string; partition: number; offset: bigint }[] = [];
    for (const registration of this.restoring) {
      for (const range of registration.ranges) {
        const name = key(range.topic, range.partition);
        if (this.partitions.get(name)?.done === true) continue;
        assignment.push({ topic: range.topic, partition: range.partition, offset: positions.get(name) ?? range.from });
      }
    }
    this.consumer.assign(assignment);
  }

  /** Resolves the callers whose partitions all reached their ends; pauses finished partitions. */
  private async settleFinished(): Promise<void> {
    const finished: TopicPartition[] = [];
    for (const position of this.consumer.positions()) {
      const partition = this.partitions.get(key(position.topic, position.partition));
      if (partition === undefined || partition.done || position.offset === null || position.offset < partition.end) continue;
      partition.done = true;
      finished.push({ topic: position.topic, partition: position.partition });
    }
    if (finished.length === 0) return;
    this.consumer.pause(finished);
    for (let index = this.restoring.length - 1; index >= 0; index--) {
      const registration = this.restoring[index] as Registration;
      if (!registration.ranges.every((range) => this.partitions.get(key(range.topic, range.partition))?.done === true)) continue;
      this.restoring.splice(index, 1);
      for (const range of registration.ranges) this.partitions.delete(key(range.topic, range.partition));
      await registration.sink.finish?.();
      registration.resolve(registration.ends);
    }
  }

  /**
   * The maker sees records in runs of one partition and batches of one base offset, so the
   * partition is looked up once per run and its end turned into an offset delta once per batch.
   */
  private maker(): RecordMaker<number> {
    let runTopic = '';
    let runPartition = -1;
    let runEnd = 0n;
    let runSink: ChangelogSink | null = null;
    let batchBase = -1n;
    let batchDeltaEnd = 0;
    return (topic, partition, recordKey, value, _timestampMs, _headers, baseOffset, offsetDelta) => {
      if (topic !== runTopic || partition !== runPartition) {
        const restoring = this.partitions.get(key(topic, partition));
        runTopic = topic;
        runPartition = partition;
        runEnd = restoring?.end ?? 0n;
        runSink = restoring?.registration.sink ?? null;
        batchBase = -1n;
      }
      if (baseOffset !== batchBase) {
        batchBase = baseOffset;
        const deltaEnd = runEnd - baseOffset;
        batchDeltaEnd = deltaEnd > 0x7fffffffn ? 0x7fffffff : deltaEnd < 0n ? 0 : Number(deltaEnd);
      }
      if (offsetDelta >= batchDeltaEnd || runSink === null) return 0;
      if (recordKey === null) throw new Error(`changelog ${topic}-${partition} holds a record without a key at offset ${baseOffset + BigInt(offsetDelta)}`);
      runSink.add(topic, partition, recordKey, value);
      return 1;
    };
  }
}

/** Initial bytes of a packed chunk (one per restoring partition); it doubles when a poll's records do not fit. */
const PACKED_BYTES_INITIAL = 256 * 1024;

/** The RecordPacker of one restoring changelog partition. */
class PackedWriter extends RecordPacker {
  constructor(readonly topic: string, readonly partition: number) {
    super(PACKED_BYTES_INITIAL);
  }
}
