// What the cluster tests write to a replicated partition and check it with: numbered records
// sent with acks=all, the partition's metadata once it has a leader, what a fresh kafkajs
// consumer reads back, and what a stopped replica's own files hold. A record's value is its
// number in decimal.
import path from 'node:path';
import type { Admin as KafkaAdmin, Kafka, PartitionMetadata, Producer } from 'kafkajs';
import { expect } from 'vitest';
import { consumerRecords, decodeBatch, iterateBatches } from '../../core/records/batch.ts';
import { DEFAULT_LOG_CONFIG } from '../../state/log/config.ts';
import { PartitionLog } from '../../state/log/partition-log.ts';
import { eventually } from './cluster.ts';

const BATCH_RECORDS = 5;

/**
 * Sends numbered records in batches with acks=all, round-robin over the partitions, and keeps
 * what was acknowledged. After a failed send the producer is replaced: kafkajs hands a failed
 * batch's sequence numbers to the next batch, so if the broker did write the failed one, the
 * next would be taken for its duplicate and acknowledged without being written (the Java client
 * bumps the producer epoch instead). A new producer id keeps acknowledgements honest.
 */
export class NumberedProducer {
  /** The values each partition acknowledged, in the order they were acknowledged. */
  readonly acknowledged: number[][];
  private next = 0;
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly options: { partitions?: number; retries?: number; timeoutMs?: number } = {},
  ) {
    this.acknowledged = Array.from({ length: options.partitions ?? 1 }, () => []);
  }

  /** Sends the next batch; false when it was not acknowledged (it may or may not be in the log). */
  async sendBatch(): Promise<boolean> {
    if (this.producer === null) {
      const candidate = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: this.options.retries ?? 30, initialRetryTime: 100, maxRetryTime: 1000 } });
      try {
        await candidate.connect();
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return false;
      }
      this.producer = candidate;
    }
    const partition = this.next % this.acknowledged.length;
    const values = Array.from({ length: BATCH_RECORDS }, (_, index) => this.next + index);
    this.next += BATCH_RECORDS;
    try {
      await this.producer.send({ topic: this.topic, acks: -1, timeout: this.options.timeoutMs ?? 5000, messages: values.map((value) => ({ partition, value: String(value) })) });
      this.acknowledged[partition]!.push(...values);
      return true;
    } catch {
      await this.close();
      return false;
    }
  }

  /** Sends batch after batch until stop() is called, which resolves once the producer is closed. */
  keepSending(): { stop: () => Promise<void> } {
    let running = true;
    const loop = (async () => {
      while (running) await this.sendBatch();
      await this.close();
    })();
    return { stop: async () => { running = false; await loop; } };
  }

  /** How many records were acknowledged over all partitions. */
  count(): number {
    return this.acknowledged.reduce((sum, values) => sum + values.length, 0);
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = null;
  }
}

/** A partition's metadata once it has a leader (brokers apply metadata a moment apart). */
export async function ledPartition(admin: KafkaAdmin, topic: string, partition: number): Promise<PartitionMetadata> {
  return eventually(`a leader for ${topic}-${partition}`, async () => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const found = metadata.topics[0]?.partitions.find((p) => p.partitionId === partition);
    return found !== undefined && found.leader >= 0 ? found : undefined;
  });
}

/**
 * Consumes `topic` from the start in a new group until every partition has shown its value in
 * `lastValues` (indexed by partition; undefined waits for nothing); the values of each
 * partition in log order.
 */
export async function readBack(kafka: Kafka, topic: string, lastValues: readonly (number | undefined)[], timeoutMs = 30_000): Promise<number[][]> {
  const consumer = kafka.consumer({ groupId: `${topic}-check-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: number[][] = lastValues.map(() => []);
    await consumer.run({ eachMessage: async ({ partition, message }) => { (seen[partition] ??= []).push(Number(message.value!.toString())); } });
    const allSeen = (): boolean => lastValues.every((last, partition) => last === undefined || seen[partition]!.includes(last));
    await eventually(`every last acknowledged record of ${topic}`, () => (allSeen() ? true : undefined), timeoutMs);
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * The values of one stopped replica's log of a partition, in offset order, read from its files.
 * Throws when an offset does not follow the one before: a replica's log has no gaps here.
 */
export function readReplica(dataDirectory: string, topic: string, partition: number): number[] {
  const log = PartitionLog.open(path.join(dataDirectory, `${topic}-${partition}`), { ...DEFAULT_LOG_CONFIG }, { log: () => {} });
  const values: number[] = [];
  try {
    let offset = log.logStartOffset;
    while (offset < log.logEndOffset) {
      const read = log.read(offset, 1024 * 1024);
      if (read.status !== 'ok' || read.records.length === 0) break;
      for (const { position } of iterateBatches(read.records)) {
        for (const record of consumerRecords(decodeBatch(read.records, position))) {
          const expected = log.logStartOffset + BigInt(values.length);
          if (record.offset !== expected) throw new Error(`${topic}-${partition}: offset ${record.offset} where ${expected} was due`);
          values.push(Number(record.value?.toString()));
        }
      }
      offset = read.nextOffset;
    }
  } finally {
    log.close();
  }
  return values;
}

/** Every acknowledged value was read exactly once and in the order it was acknowledged. */
export function expectEachOnceInOrder(read: readonly number[], acknowledged: readonly number[]): void {
  const acknowledgedSet = new Set(acknowledged);
  expect(read.filter((value) => acknowledgedSet.has(value))).toEqual(acknowledged);
}

/**
 * Stopped replicas of one partition hold the same value at every offset they have, and each
 * holds `lastAcknowledged`: a replica in the ISR has everything below the high watermark.
 */
export function expectReplicasAgree(replicas: readonly (readonly number[])[], lastAcknowledged: number | undefined): void {
  const shortest = Math.min(...replicas.map((values) => values.length));
  for (const values of replicas) {
    expect(values.slice(0, shortest)).toEqual(replicas[0]!.slice(0, shortest));
    if (lastAcknowledged !== undefined) expect(values).toContain(lastAcknowledged);
  }
}
