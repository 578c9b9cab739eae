// The producer: records are appended to a batch per partition, a batch is closed when it
// reaches batch.size or has waited linger.ms, and closed batches are sent in one Produce request
// per leader. A partition has at most one batch in flight, so a retried batch can never land
// behind a later one; that is also the order idempotence (the next step) needs, where each
// batch gets its producer id, epoch and sequence when it is first encoded.
import { z } from 'zod';
import { ApiKey } from '../../core/protocol/index.ts';
import { encodeBatch, type RecordHeaderInput, type RecordInput } from '../../core/records/batch.ts';
import { CompressionCodec } from '../../core/records/compression.ts';
import { Cluster } from './cluster.ts';
import { KafkaClientError, KafkaConfigError, KafkaProtocolError, KafkaStateError, isRetriableError } from './errors.ts';
import { clusterOptions, commonOptionsShape, integer, parseOptions, type KafkaStyleOptions } from './options.ts';
import { StickyPartitions, partitionForKey } from './partitioner.ts';

const CODECS: Readonly<Record<string, CompressionCodec>> = {
  none: CompressionCodec.None, gzip: CompressionCodec.Gzip, snappy: CompressionCodec.Snappy, lz4: CompressionCodec.Lz4, zstd: CompressionCodec.Zstd,
};

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const acksSchema = z
  .union([z.literal('all'), z.literal('-1'), z.literal('0'), z.literal('1'), z.literal(-1), z.literal(0), z.literal(1)])
  .transform((value) => (value === 'all' ? -1 : Number(value)) as -1 | 0 | 1);

export const producerOptionsSchema = z.strictObject({
  ...commonOptionsShape,
  /** 0: no answer; 1: the leader wrote it; -1 or 'all': every in-sync replica has it. */
  acks: acksSchema.default(-1),
  lingerMs: integer(0, 60_000).default(5),
  batchSize: integer(1, 64 * 1024 * 1024).default(16_384),
  maxRequestSize: integer(1, 100 * 1024 * 1024).default(1_048_576),
  compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
  allowAutoTopicCreation: z.boolean().default(true),
});

export type ProducerOptions = Partial<z.input<typeof producerOptionsSchema>> & KafkaStyleOptions;
type ResolvedOptions = z.output<typeof producerOptionsSchema>;

export interface ProducerMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** A map, or a list when a key repeats. */
  headers?: Readonly<Record<string, Buffer | string | null>> | readonly RecordHeaderInput[];
  partition?: number;
  /** Milliseconds since the epoch (or a Date); defaults to now. */
  timestamp?: number | bigint | Date;
}

export interface ProducerRecord {
  topic: string;
  messages: readonly ProducerMessage[];
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 when acks=0, since the broker does not answer. */
  offset: bigint;
  /** The broker's append time under LogAppendTime, else the record's own timestamp. */
  timestamp: bigint;
}

interface Deferred {
  timestamp: bigint;
  resolve(metadata: RecordMetadata): void;
  reject(error: Error): void;
}

interface Batch {
  topic: string;
  partition: number;
  records: RecordInput[];
  deferreds: Deferred[];
  bytes: number;
  attempts: number;
  encoded: Buffer | null;
  lingerTimer: NodeJS.Timeout | null;
}

interface PartitionQueue {
  open: Batch | null;
  ready: Batch[];
  inFlight: boolean;
}

/** Per-record overhead of the v2 format (length, attributes, deltas, lengths), an estimate. */
const RECORD_OVERHEAD_BYTES = 21;
const BATCH_OVERHEAD_BYTES = 61;

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

function headerList(headers: ProducerMessage['headers']): RecordHeaderInput[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return [...(headers as readonly RecordHeaderInput[])];
  return Object.entries(headers as Record<string, Buffer | string | null>).map(([key, value]) => ({ key, value }));
}

function recordBytes(record: RecordInput): number {
  let bytes = RECORD_OVERHEAD_BYTES + (toBuffer(record.key)?.length ?? 0) + (toBuffer(record.value)?.length ?? 0);
  for (const header of record.headers ?? []) bytes += Buffer.byteLength(header.key) + (toBuffer(header.value)?.length ?? 0) + 4;
  return bytes;
}

export class Producer {
  readonly options: ResolvedOptions;
  private readonly cluster: Cluster;
  private readonly queues = new Map<string, PartitionQueue>();
  private readonly sticky = new StickyPartitions();
  private readonly outstanding = new Set<Promise<unknown>>();
  private drainScheduled = false;
  private closed = false;

  constructor(options: ProducerOptions) {
    this.options = parseOptions(producerOptionsSchema, options, 'producer');
    this.cluster = new Cluster(clusterOptions(this.options, this.options.allowAutoTopicCreation));
  }

  /** Fetches cluster metadata now, so a broker that cannot be reached fails here. */
  async connect(): Promise<void> {
    await this.cluster.refreshMetadata([]);
  }

  /** Appends the messages to their partitions' batches; resolves once every one is acknowledged. */
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.closed) throw new KafkaStateError('the producer is closed');
    if (record.messages.length === 0) return [];
    const topic = await this.cluster.topic(record.topic);
    const partitionCount = topic.partitions.length;
    // Every partition is chosen before anything is appended, so a bad message fails the whole
    // call without leaving the others half-sent.
    const partitions = record.messages.map((message) => this.choosePartition(record.topic, message, partitionCount));
    const results: Promise<RecordMetadata>[] = [];
    for (const [index, message] of record.messages.entries()) {
      const partition = partitions[index] as number;
      const input: RecordInput = {
        key: toBuffer(message.key),
        value: toBuffer(message.value),
        headers: headerList(message.headers),
        timestamp: message.timestamp instanceof Date ? message.timestamp.getTime() : (message.timestamp ?? Date.now()),
      };
      results.push(this.append(record.topic, partition, input));
    }
    const all = Promise.all(results);
    this.track(all);
    return all;
  }

  private choosePartition(topic: string, message: ProducerMessage, partitionCount: number): number {
    if (message.partition !== undefined) {
      if (!Number.isInteger(message.partition) || message.partition < 0 || message.partition >= partitionCount) {
        throw new KafkaConfigError(`topic ${topic} has partitions 0-${partitionCount - 1}; partition ${message.partition} does not exist`);
      }
      return message.partition;
    }
    const key = toBuffer(message.key);
    return key === null ? this.sticky.partition(topic, partitionCount) : partitionForKey(key, partitionCount);
  }

  private append(topic: string, partition: number, record: RecordInput): Promise<RecordMetadata> {
    const size = recordBytes(record);
    if (size + BATCH_OVERHEAD_BYTES > this.options.maxRequestSize) {
      return Promise.reject(new KafkaProtocolError(10, `record of about ${size} bytes for ${topic}-${partition}`, `it exceeds max.request.size ${this.options.maxRequestSize}`));
    }
    const queue = this.queueFor(topic, partition);
    if (queue.open !== null && queue.open.bytes + size > this.options.batchSize) this.closeBatch(queue);
    const batch = queue.open ?? this.openBatch(queue, topic, partition);
    const promise = new Promise<RecordMetadata>((resolve, reject) => {
      batch.deferreds.push({ timestamp: BigInt(record.timestamp ?? 0), resolve, reject });
    });
    batch.records.push(record);
    batch.bytes += size;
    if (batch.bytes >= this.options.batchSize) this.closeBatch(queue);
    else if (this.options.lingerMs === 0) this.scheduleDrain(true);
    return promise;
  }

  private queueFor(topic: string, partition: number): PartitionQueue {
    const id = `${topic}\u0000${partition}`;
    let queue = this.queues.get(id);
    if (queue === undefined) {
      queue = { open: null, ready: [], inFlight: false };
      this.queues.set(id, queue);
    }
    return queue;
  }

  private openBatch(queue: PartitionQueue, topic: string, partition: number): Batch {
    const batch: Batch = { topic, partition, records: [], deferreds: [], bytes: BATCH_OVERHEAD_BYTES, attempts: 0, encoded: null, lingerTimer: null };
    if (this.options.lingerMs > 0) {
      batch.lingerTimer = setTimeout(() => { if (queue.open === batch) this.closeBatch(queue); }, this.options.lingerMs);
    }
    queue.open = batch;
    return batch;
  }

  /** Moves the open batch to the ready list and lets a keyless topic move to a new partition. */
  private closeBatch(queue: PartitionQueue): void {
    const batch = queue.open;
    if (batch === null) return;
    if (batch.lingerTimer !== null) clearTimeout(batch.lingerTimer);
    queue.open = null;
    queue.ready.push(batch);
    if (this.sticky.isCurrent(batch.topic, batch.partition)) {
      const count = this.cluster.cachedTopic(batch.topic)?.partitions.length ?? 1;
      this.sticky.next(batch.topic, count);
    }
    this.scheduleDrain(false);
  }

  /** Drains on the next turn of the event loop, so one send() call fills one batch. */
  private scheduleDrain(closeOpen: boolean): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      if (closeOpen || this.options.lingerMs === 0) for (const queue of this.queues.values()) this.closeOpenQuietly(queue);
      void this.drain();
    });
  }

  private closeOpenQuietly(queue: PartitionQueue): void {
    const batch = queue.open;
    if (batch === null) return;
    if (batch.lingerTimer !== null) clearTimeout(batch.lingerTimer);
    queue.open = null;
    queue.ready.push(batch);
  }

  /** Sends the first ready batch of every idle partition, one request per leader. */
  private async drain(): Promise<void> {
    const byLeader = new Map<number, { batches: Batch[]; queues: PartitionQueue[] }>();
    for (const queue of this.queues.values()) {
      const batch = queue.ready[0];
      if (queue.inFlight || batch === undefined) continue;
      queue.inFlight = true;
      queue.ready.shift();
      const leader = this.cluster.cachedTopic(batch.topic)?.partitions[batch.partition]?.leader ?? -1;
      const group = byLeader.get(leader) ?? { batches: [], queues: [] };
      group.batches.push(batch);
      group.queues.push(queue);
      byLeader.set(leader, group);
    }
    await Promise.all([...byLeader].map(([leader, group]) => this.sendToLeader(leader, group.batches, group.queues)));
  }

  private async sendToLeader(leader: number, batches: Batch[], queues: PartitionQueue[]): Promise<void> {
    // Batches are grouped into requests that stay under max.request.size.
    let request: Batch[] = [];
    let requestBytes = 0;
    const requests: Batch[][] = [];
    for (const batch of batches) {
      batch.encoded ??= encodeBatch({ records: batch.records, compression: CODECS[this.options.compression] ?? CompressionCodec.None });
      if (request.length > 0 && requestBytes + batch.encoded.length > this.options.maxRequestSize) {
        requests.push(request);
        request = [];
        requestBytes = 0;
      }
      request.push(batch);
      requestBytes += batch.encoded.length;
    }
    if (request.length > 0) requests.push(request);
    await Promise.all(requests.map((part) => this.produce(leader, part)));
    for (const queue of queues) queue.inFlight = false;
    if ([...this.queues.values()].some((queue) => queue.ready.length > 0 && !queue.inFlight)) void this.drain();
  }

  private async produce(leader: number, batches: Batch[]): Promise<void> {
    let outcome: Map<Batch, { errorCode: number; baseOffset: bigint; logAppendTimeMs: bigint; errorMessage: string | null }>;
    try {
      if (leader < 0) throw new KafkaProtocolError(5, `partition ${batches[0]?.topic}-${batches[0]?.partition}`);
      outcome = await this.produceRequest(leader, batches);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      await Promise.all(batches.map((batch) => this.retryOrFail(batch, failure)));
      return;
    }
    await Promise.all(batches.map(async (batch) => {
      const result = outcome.get(batch);
      if (result === undefined) return this.retryOrFail(batch, new KafkaClientError(`no answer for ${batch.topic}-${batch.partition}`, true));
      if (result.errorCode !== 0) return this.retryOrFail(batch, new KafkaProtocolError(result.errorCode, `produce to ${batch.topic}-${batch.partition}`, result.errorMessage));
      batch.deferreds.forEach((deferred, index) => deferred.resolve({
        topic: batch.topic,
        partition: batch.partition,
        offset: this.options.acks === 0 ? -1n : result.baseOffset + BigInt(index),
        timestamp: result.logAppendTimeMs >= 0n ? result.logAppendTimeMs : deferred.timestamp,
      }));
    }));
  }

  private async produceRequest(leader: number, batches: Batch[]): Promise<Map<Batch, { errorCode: number; baseOffset: bigint; logAppendTimeMs: bigint; errorMessage: string | null }>> {
    const connection = await this.cluster.connectionTo(leader);
    const topics = new Map<string, { index: number; records: Buffer }[]>();
    for (const batch of batches) {
      const list = topics.get(batch.topic) ?? [];
      list.push({ index: batch.partition, records: batch.encoded as Buffer });
      topics.set(batch.topic, list);
    }
    const body = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: this.options.requestTimeoutMs,
      topicData: [...topics].map(([name, partitionData]) => ({ name, partitionData })),
    };
    const outcome = new Map<Batch, { errorCode: number; baseOffset: bigint; logAppendTimeMs: bigint; errorMessage: string | null }>();
    if (this.options.acks === 0) {
      await connection.send(ApiKey.Produce, body, { expectResponse: false });
      for (const batch of batches) outcome.set(batch, { errorCode: 0, baseOffset: -1n, logAppendTimeMs: -1n, errorMessage: null });
      return outcome;
    }
    const { body: response } = await connection.send(ApiKey.Produce, body);
    for (const topic of response.responses) {
      for (const partition of topic.partitionResponses) {
        const batch = batches.find((candidate) => candidate.topic === topic.name && candidate.partition === partition.index);
        if (batch !== undefined) outcome.set(batch, partition);
      }
    }
    return outcome;
  }

  private async retryOrFail(batch: Batch, error: Error): Promise<void> {
    batch.attempts += 1;
    if (!isRetriableError(error) || batch.attempts > this.options.retries || this.closed) {
      for (const deferred of batch.deferreds) deferred.reject(error);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, this.options.retryBackoffMs * Math.min(2 ** (batch.attempts - 1), 32)));
    await this.cluster.topic(batch.topic, true).catch(() => undefined);
    this.queueFor(batch.topic, batch.partition).ready.unshift(batch);
  }

  private track(promise: Promise<unknown>): void {
    const settled = promise.then(() => undefined, () => undefined);
    this.outstanding.add(settled);
    void settled.then(() => this.outstanding.delete(settled));
  }

  /** Sends every buffered record now and waits until all of them are answered. */
  async flush(): Promise<void> {
    for (const queue of this.queues.values()) this.closeOpenQuietly(queue);
    void this.drain();
    while (this.outstanding.size > 0) await Promise.all([...this.outstanding]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.cluster.close();
  }
}
