// Input records as the poll loop hands them to tasks. The consumer hands over fetched records
// without making them objects (PackedRun: a range of a scanned response), and each task reads
// them in timestamp order through one object per input partition, an InputCursor, which is moved
// from record to record: a record costs no object of its own. Its key and value stay where they
// lie in the fetched batch and the task's serdes decode them from there (PackedTopicRecord); a
// view of either is made only when something asks for `key` or `value` (an error handler). The
// offset, a bigint, is computed only when asked for: the engine keeps the last record of each
// partition and asks once per commit, and the cursor of a partition is the last record taken
// from it until the next is taken. Each batch's bytes come with a BatchText, through which the
// string and JSON serdes read ASCII keys and values as slices of one decode of the batch.
import { BatchText } from '../../../core/serdes/batch-text.ts';
import { NO_HEADERS, type Headers, type TopicRecord } from '../../../core/topology/record.ts';
import type { PackedRun, RecordPlace, ScannedRecords } from '../../client/consumer.ts';
import type { PackedTopicRecord } from '../task.ts';

const EMPTY_TEXT = new BatchText(new Uint8Array(0));

/** The record of one input partition being processed (see the top of this file). */
export class InputCursor implements PackedTopicRecord, RecordPlace {
  bytes: Uint8Array = new Uint8Array(0);
  keyStart = 0;
  keyLength = -1;
  valueStart = 0;
  valueLength = -1;
  timestamp = -1;
  headers: Headers = NO_HEADERS;
  /** `bytes` as text, made with each new batch; it reads the text only when a serde asks. */
  text: BatchText = EMPTY_TEXT;
  baseOffset = -1n;
  offsetDelta = 0;

  constructor(readonly partition: number) {}

  get key(): Uint8Array | null {
    return this.keyLength < 0 ? null : new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.keyStart, this.keyLength);
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0 ? null : new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.valueStart, this.valueLength);
  }

  get offset(): bigint {
    return this.baseOffset + BigInt(this.offsetDelta);
  }

  /** Moves to record `index` of `records`. */
  moveTo(records: ScannedRecords, index: number): void {
    const bytes = this.bytes;
    const headers = records.locate(index, this) ?? NO_HEADERS;
    if (this.bytes !== bytes) this.text = new BatchText(this.bytes);
    // As locate does: no write barrier for the usual record without headers after another.
    if (headers !== this.headers) this.headers = headers;
  }

  /** The record as it is now, in an object that does not move on. */
  detached(): TopicRecord {
    return { key: this.key, value: this.value, timestamp: this.timestamp, headers: this.headers, partition: this.partition, offset: this.offset };
  }
}

/** The runs of one input partition waiting in a task's InputQueue. */
interface PartitionRuns {
  readonly topic: string;
  readonly cursor: InputCursor;
  /** Runs after the current one. */
  readonly waiting: PackedRun[];
  /** The run being read (null when the partition has nothing buffered), its next record and its end. */
  records: ScannedRecords | null;
  next: number;
  to: number;
  /** The timestamp of records[next]. */
  headTimestamp: number;
}

/**
 * The input buffer of one task, Kafka Streams' PartitionGroup: the buffered record with the
 * smallest timestamp first (ties to the partition added first, each partition in offset order),
 * so a join or merge sees its inputs in event-time order whatever order the fetches arrived in.
 * It holds packed runs, with one InputCursor per partition in place of a record object each.
 */
export class InputQueue {
  private readonly partitions = new Map<string, PartitionRuns>();
  /** The same partitions in the order they were added, for the per-record scan. */
  private readonly partitionList: PartitionRuns[] = [];
  private buffered = 0;
  /** The topic of the record takeRecord() returned last. */
  takenTopic = '';

  constructor(private readonly bufferedRecordsMax: number) {}

  /** Queues a run; returns false (and queues nothing) when the buffer is full. */
  addRun(run: PackedRun): boolean {
    const count = run.to - run.from;
    if (count <= 0) return true;
    if (this.buffered + count > this.bufferedRecordsMax) return false;
    const id = `${run.topic}\u0000${run.partition}`;
    let partition = this.partitions.get(id);
    if (partition === undefined) {
      partition = { topic: run.topic, cursor: new InputCursor(run.partition), waiting: [], records: null, next: 0, to: 0, headTimestamp: 0 };
      this.partitions.set(id, partition);
      this.partitionList.push(partition);
    }
    if (partition.records === null) this.start(partition, run);
    else partition.waiting.push(run);
    this.buffered += count;
    return true;
  }

  bufferedCount(): number {
    return this.buffered;
  }

  /**
   * Moves the cursor of the partition whose next record has the smallest timestamp to that
   * record and returns the cursor, or null when nothing is buffered; the record's topic is in
   * `takenTopic` until the next call. The cursor stays on that record until its partition's
   * next record is taken.
   */
  takeRecord(): InputCursor | null {
    let best: PartitionRuns | null = null;
    const list = this.partitionList;
    for (let index = 0; index < list.length; index++) {
      const partition = list[index] as PartitionRuns;
      if (partition.records === null) continue;
      if (best === null || partition.headTimestamp < best.headTimestamp) best = partition;
    }
    if (best === null) return null;
    const records = best.records as ScannedRecords;
    const index = best.next++;
    this.buffered--;
    if (best.next < best.to) {
      best.headTimestamp = records.timestampAt(best.next);
    } else {
      // A drained run lets go of its response at once.
      const following = best.waiting.shift();
      if (following === undefined) best.records = null;
      else this.start(best, following);
    }
    best.cursor.moveTo(records, index);
    this.takenTopic = best.topic;
    return best.cursor;
  }

  private start(partition: PartitionRuns, run: PackedRun): void {
    partition.records = run.records;
    partition.next = run.from;
    partition.to = run.to;
    partition.headTimestamp = run.records.timestampAt(run.from);
  }
}
