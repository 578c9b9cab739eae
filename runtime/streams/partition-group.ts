// The input buffer of one task, Kafka Streams' PartitionGroup: fetched records wait in one queue
// per input partition, and the task always processes the head with the smallest timestamp, so a
// join or merge sees its inputs in event-time order whatever order the fetches arrived in. A
// task with an empty queue may wait (max.task.idle.ms) for that partition before moving on.
import type { TopicRecord } from '../../core/topology/record.ts';

export interface QueuedRecord<R extends TopicRecord = TopicRecord> {
  readonly topic: string;
  readonly record: R;
}

interface PartitionQueue<R extends TopicRecord> {
  readonly topic: string;
  readonly partition: number;
  records: R[];
  /** Index of the head record; records before it were taken. */
  head: number;
}

/** Queues records of type R (the poll loop's PackedTopicRecords) and hands back the same type. */
export class PartitionGroup<R extends TopicRecord = TopicRecord> {
  private readonly queues = new Map<string, PartitionQueue<R>>();
  /** The same queues in the order they were added, for the per-record scan. */
  private readonly queueList: PartitionQueue<R>[] = [];
  private buffered = 0;
  /** The topic of the record takeRecord() returned last. */
  takenTopic = '';

  constructor(private readonly bufferedRecordsMax: number) {}

  /** Queues fetched records; returns false (and queues nothing) when the buffer is full. */
  addRecords(topic: string, partition: number, records: readonly R[]): boolean {
    if (this.buffered + records.length > this.bufferedRecordsMax) return false;
    const id = `${topic}\u0000${partition}`;
    let queue = this.queues.get(id);
    if (queue === undefined) {
      queue = { topic, partition, records: [], head: 0 };
      this.queues.set(id, queue);
      this.queueList.push(queue);
    }
    if (queue.head >= queue.records.length) {
      // An empty queue (the usual case: the poll loop drains every queue) takes a copy of the
      // exact size, where pushing into the emptied array would grow it step by step.
      queue.records = records.slice();
      queue.head = 0;
    } else {
      // A loop, not push(...records): a fetch can bring more records than a call takes arguments.
      for (let index = 0; index < records.length; index++) queue.records.push(records[index] as R);
    }
    this.buffered += records.length;
    return true;
  }

  bufferedCount(): number {
    return this.buffered;
  }

  /** Partitions known to the group whose queues are empty: the task may wait for them. */
  emptyPartitions(): { topic: string; partition: number }[] {
    return this.queueList.filter((queue) => queue.head >= queue.records.length).map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Takes the buffered record with the smallest timestamp (ties: the earliest added partition). */
  nextRecord(): QueuedRecord<R> | null {
    const record = this.takeRecord();
    return record === null ? null : { topic: this.takenTopic, record };
  }

  /**
   * nextRecord() without the pair object, for the poll loop, which takes every record: the
   * topic of the record returned is in `takenTopic` until the next call.
   */
  takeRecord(): R | null {
    let best: PartitionQueue<R> | null = null;
    let bestTimestamp = 0;
    for (let index = 0; index < this.queueList.length; index++) {
      const queue = this.queueList[index] as PartitionQueue<R>;
      const candidate = queue.records[queue.head];
      if (candidate === undefined) continue;
      if (best === null || candidate.timestamp < bestTimestamp) {
        best = queue;
        bestTimestamp = candidate.timestamp;
      }
    }
    if (best === null) return null;
    const record = best.records[best.head++] as R;
    this.buffered--;
    // A drained queue lets go of its records at once, so they can die young; a long-lived
    // queue is compacted now and then for the same reason.
    if (best.head === best.records.length) {
      best.records.length = 0;
      best.head = 0;
    } else if (best.head > 1024 && best.head * 2 > best.records.length) {
      best.records.splice(0, best.head);
      best.head = 0;
    }
    this.takenTopic = best.topic;
    return record;
  }
}
