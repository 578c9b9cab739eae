// The producer: records are encoded straight into a batch per partition as send() is called; a
// batch is sealed when it reaches batch.size or has waited linger.ms, and the Sender ships
// sealed batches in Produce requests, up to max.in.flight.requests.per.connection per broker.
// One send() call is one promise, however many records it carries.
//
// Idempotence is on by default (as in Kafka 3+): the producer gets an id and epoch with
// InitProducerId, every batch a per-partition sequence, and the broker drops duplicates of a
// retried batch, so retries neither duplicate nor reorder records. Like the Java client, a
// producer that did not ask for idempotence explicitly runs without it when acks is not 'all',
// when more than 5 requests may be in flight, or when the broker lacks InitProducerId.
//
// buffer.memory bounds the bytes of records waiting to be acknowledged: a send() that would go
// beyond it waits for room up to max.block.ms, then fails; that is the back-pressure.
//
// With a transactionalId the producer is transactional (KIP-98): records go out only inside a
// transaction, and a transaction's records, and the consumer offsets sent with it, become
// visible to read_committed consumers together or never. `transaction(async (tx) => ...)`
// commits when the callback resolves and aborts when it throws; beginTransaction,
// commitTransaction and abortTransaction do the same by hand. The state machine is in
// transaction-manager.ts.
import { z } from 'zod';
import { CompressionCodec } from '../../core/records/compression.ts';
import { BATCH_HEADER_BYTES } from '../../core/records/header.ts';
import { BatchBuilder, recordBytes, type FieldInput, type HeaderInput } from './batch-builder.ts';
import { Cluster, type TopicInfo } from './cluster.ts';
import { KafkaConfigError, KafkaFatalProducerError, KafkaProtocolError, KafkaStateError, KafkaTimeoutError } from './errors.ts';
import { clusterOptions, commonOptionsShape, integer, parseOptions, type KafkaStyleOptions } from './options.ts';
import { StickyPartitions, partitionForKey } from './partitioner.ts';
import type { Batch, PartitionQueue, RecordMetadata, SendCall } from './producer-batch.ts';
import { Sender } from './producer-sender.ts';
import { TypedProducer, type Serde } from './serdes.ts';
import { TransactionManager, type ConsumerGroupMetadata, type TransactionState, type TransactionalOffset } from './transaction-manager.ts';

export type { RecordMetadata } from './producer-batch.ts';
export type { ConsumerGroupMetadata, TransactionState, TransactionalOffset } from './transaction-manager.ts';

const CODECS: Readonly<Record<string, CompressionCodec>> = {
  none: CompressionCodec.None, gzip: CompressionCodec.Gzip, snappy: CompressionCodec.Snappy, lz4: CompressionCodec.Lz4, zstd: CompressionCodec.Zstd,
};

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

const acksSchema = z
  .union([z.literal('all'), z.literal('-1'), z.literal('0'), z.literal('1'), z.literal(-1), z.literal(0), z.literal(1)])
  .transform((value) => (value === 'all' ? -1 : Number(value)) as -1 | 0 | 1);

const booleanSchema = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);

/** Kafka's limit for idempotence: the broker remembers the last five batches per producer. */
export const IDEMPOTENT_IN_FLIGHT_MAX = 5;
const PRODUCER_RETRIES_MAX = 2_147_483_647;

export const producerOptionsSchema = z.strictObject({
  ...commonOptionsShape,
  /** Batches are retried until delivery.timeout.ms; this caps the attempts too (Kafka: MAX_INT). */
  retries: integer(0, PRODUCER_RETRIES_MAX).default(PRODUCER_RETRIES_MAX),
  /** 0: no answer; 1: the leader wrote it; -1 or 'all': every in-sync replica has it. */
  acks: acksSchema.optional(),
  lingerMs: integer(0, 60_000).default(5),
  batchSize: integer(1, 64 * 1024 * 1024).default(16_384),
  maxRequestSize: integer(1, 100 * 1024 * 1024).default(1_048_576),
  compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
  allowAutoTopicCreation: z.boolean().default(true),
  /** Undefined: on, unless acks or max in-flight rule it out (then off, as in Kafka). */
  idempotent: booleanSchema.optional(),
  maxInFlightRequests: integer(1, 64).default(IDEMPOTENT_IN_FLIGHT_MAX),
  /** Upper bound on the time from send() to success or failure, retries included. */
  deliveryTimeoutMs: integer(1).default(120_000),
  /** Bytes of records the producer holds before send() waits (buffer.memory). */
  bufferMemory: integer(1024).default(32 * 1024 * 1024),
  /** How long send() waits for buffer memory or metadata before failing (max.block.ms). */
  maxBlockMs: integer(0).default(60_000),
  /** Makes the producer transactional; one id per producer instance that must fence its predecessor (transactional.id). */
  transactionalId: z.string().min(1).optional(),
  /** How long the broker lets a transaction stay open before it aborts it (transaction.timeout.ms). */
  transactionTimeoutMs: integer(1).default(60_000),
}).superRefine((options, context) => {
  if (options.transactionalId !== undefined && options.idempotent === false) {
    context.addIssue({ code: 'custom', path: ['idempotent'], message: 'a transactional producer is idempotent; remove idempotent false or the transactionalId' });
  }
  if (options.idempotent !== true && options.transactionalId === undefined) return;
  if (options.acks !== undefined && options.acks !== -1) context.addIssue({ code: 'custom', path: ['acks'], message: 'idempotence needs acks=all; set idempotent false to use acks 0 or 1' });
  if (options.maxInFlightRequests > IDEMPOTENT_IN_FLIGHT_MAX) context.addIssue({ code: 'custom', path: ['maxInFlightRequests'], message: `idempotence allows at most ${IDEMPOTENT_IN_FLIGHT_MAX} requests in flight` });
});

export type ProducerOptions = Partial<z.input<typeof producerOptionsSchema>> & KafkaStyleOptions;
type ParsedOptions = z.output<typeof producerOptionsSchema>;

export interface ResolvedProducerOptions extends Omit<ParsedOptions, 'acks' | 'idempotent'> {
  acks: -1 | 0 | 1;
  /** 'auto': idempotent unless the broker lacks InitProducerId (idempotence was not asked for). */
  idempotent: boolean | 'auto';
}

function resolveOptions(parsed: ParsedOptions): ResolvedProducerOptions {
  const acks = parsed.acks ?? -1;
  const possible = acks === -1 && parsed.maxInFlightRequests <= IDEMPOTENT_IN_FLIGHT_MAX;
  const idempotent = parsed.transactionalId !== undefined ? true : (parsed.idempotent ?? (possible ? 'auto' : false));
  return { ...parsed, acks, idempotent };
}

/**
 * Keys, values and header values may be any Uint8Array (a Buffer or not), never copied before
 * encoding, or a string, encoded as UTF-8 straight into the batch.
 */
export interface ProducerMessage {
  key?: FieldInput;
  value: FieldInput;
  /** A map, or a list when a key repeats. */
  headers?: Readonly<Record<string, FieldInput>> | readonly HeaderInput[];
  /** Undefined or null: the partitioner chooses (by key, or sticky without one). */
  partition?: number | null;
  /** Milliseconds since the epoch (or a Date); defaults to now. */
  timestamp?: number | bigint | Date;
}

export interface ProducerRecord {
  topic: string;
  messages: readonly ProducerMessage[];
}

/** What the callback of `producer.transaction(...)` works with. */
export interface Transaction {
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
  /** Commits these consumer offsets (next record to read) with the transaction. */
  sendOffsets(offsets: readonly TransactionalOffset[], group: ConsumerGroupMetadata | string): Promise<void>;
}

function groupMetadataOf(group: ConsumerGroupMetadata | string): ConsumerGroupMetadata {
  return typeof group === 'string' ? { groupId: group, generationId: -1, memberId: '', groupInstanceId: null } : group;
}

function headerList(headers: ProducerMessage['headers']): readonly HeaderInput[] | null {
  if (headers === undefined) return null;
  if (Array.isArray(headers)) return headers.length === 0 ? null : (headers as readonly HeaderInput[]);
  const list = Object.entries(headers as Readonly<Record<string, FieldInput>>).map(([key, value]) => ({ key, value }));
  return list.length === 0 ? null : list;
}

function timestampOf(message: ProducerMessage, now: number): number {
  const timestamp = message.timestamp;
  if (typeof timestamp === 'number') return timestamp;
  if (timestamp === undefined) return now;
  return timestamp instanceof Date ? timestamp.getTime() : Number(timestamp);
}

function fieldLength(field: FieldInput | undefined): number {
  return field === null || field === undefined ? 0 : field.length;
}

/**
 * What a message holds of buffer.memory: its key and value and a little for the rest. A string
 * counts its length, not its UTF-8 bytes, which would take a pass over it for an estimate.
 */
export function approximateBytes(message: ProducerMessage): number {
  return fieldLength(message.key) + fieldLength(message.value) + 16;
}

/** What sendAcknowledged resolves with. */
function acknowledgedOnly(): void {}

export class Producer {
  readonly options: ResolvedProducerOptions;
  private readonly cluster: Cluster;
  /** The partition queues of each topic, indexed by partition (made on a partition's first record). */
  private readonly queues = new Map<string, (PartitionQueue | undefined)[]>();
  private readonly sticky = new StickyPartitions();
  private readonly sender: Sender;
  /** Null for a producer without a transactionalId. */
  private readonly transactions: TransactionManager | null;
  /** The commit or abort under way, if any. */
  private transactionEnd: { kind: 'commit' | 'abort'; done: Promise<void> } | null = null;
  private readonly calls = new Set<SendCall>();
  private readonly memoryWaiters: (() => void)[] = [];
  /** send() calls waiting for metadata or memory before they append, so flush() can wait for them. */
  private readonly pendingAppends = new Set<Promise<void>>();
  private readonly freeBuffers: Buffer[] = [];
  private memoryBytes = 0;
  private idleWaiters: (() => void)[] = [];
  private sealScheduled = false;
  /**
   * One timer for the linger of every open batch, not one per batch: set for the oldest
   * lingering batch's deadline (batches open in time order, so a later batch never needs it
   * sooner), and set again for the next deadline when it fires.
   */
  private lingerTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: ProducerOptions) {
    this.options = resolveOptions(parseOptions(producerOptionsSchema, options, 'producer'));
    const common = { ...this.options, retries: Math.min(this.options.retries, 10) };
    this.cluster = new Cluster(clusterOptions(common, this.options.allowAutoTopicCreation));
    const transactionalId = this.options.transactionalId;
    this.transactions = transactionalId === undefined ? null : new TransactionManager(this.cluster, {
      transactionalId, transactionTimeoutMs: this.options.transactionTimeoutMs, retryBackoffMs: this.options.retryBackoffMs, maxBlockMs: this.options.maxBlockMs,
    }, (producerId, producerEpoch) => this.sender.adoptIdentity(producerId, producerEpoch));
    this.sender = new Sender(this.cluster, this.options, {
      queues: () => this.allQueues(),
      completed: (batch) => this.batchCompleted(batch),
    }, this.transactions);
  }

  /** Fetches cluster metadata (and a producer id) now, so a broker that cannot be reached fails here. */
  async connect(): Promise<void> {
    await this.cluster.refreshMetadata([]);
    await this.sender.initProducerId();
  }

  /** The producer id and epoch in use (-1 without idempotence or before the first send). */
  get producerIdentity(): { producerId: bigint; producerEpoch: number } {
    return this.sender.identity();
  }

  /** Where the transaction state machine is ('uninitialized' ... 'fatalError'); null without a transactionalId. */
  get transactionState(): TransactionState | null {
    return this.transactions?.state ?? null;
  }

  /**
   * Registers the transactional id with its coordinator: fences any older producer with the
   * same id and finishes (aborts) a transaction it left open. beginTransaction does it if needed.
   */
  async initTransactions(): Promise<void> {
    await this.cluster.refreshMetadata([]);
    await this.requireTransactions().initTransactions();
  }

  async beginTransaction(): Promise<void> {
    if (this.closed) throw new KafkaStateError('the producer is closed');
    await this.requireTransactions().begin();
  }

  /** Sends every record of the transaction, then commits it (EndTxn). */
  commitTransaction(): Promise<void> {
    return this.endTransaction('commit', async (transactions) => {
      transactions.startCommit();
      await this.flush();
      await transactions.finishCommit();
    });
  }

  /** Drops records not yet sent, waits for those in flight, then aborts the transaction (EndTxn). */
  abortTransaction(): Promise<void> {
    return this.endTransaction('abort', async (transactions) => {
      transactions.startAbort();
      for (const queue of this.allQueues()) this.seal(queue);
      const blocked = transactions.sendBlockedBy();
      if (blocked !== null) this.sender.failReady(blocked);
      await this.flush();
      await transactions.finishAbort();
    });
  }

  /** One commit or abort at a time: a second call of the same kind shares the first one's outcome. */
  private endTransaction(kind: 'commit' | 'abort', run: (transactions: TransactionManager) => Promise<void>): Promise<void> {
    let transactions: TransactionManager;
    try {
      transactions = this.requireTransactions();
    } catch (error) {
      return Promise.reject(error);
    }
    const ending = this.transactionEnd;
    if (ending !== null) {
      return ending.kind === kind ? ending.done : Promise.reject(new KafkaStateError(`cannot ${kind} while the transaction's ${ending.kind} is in progress`));
    }
    const done = run(transactions).finally(() => { this.transactionEnd = null; });
    this.transactionEnd = { kind, done };
    return done;
  }

  /**
   * Adds consumer offsets to the transaction: they are committed for `group` (a consumer's
   * groupMetadata(), or a group id) if and only if the transaction commits. The generation and
   * member id let the group coordinator refuse offsets from a member it has replaced.
   */
  async sendOffsetsToTransaction(offsets: readonly TransactionalOffset[], group: ConsumerGroupMetadata | string): Promise<void> {
    await this.requireTransactions().sendOffsets(offsets, groupMetadataOf(group));
  }

  /**
   * Runs `work` in a transaction: commits when it resolves, aborts when it (or the commit)
   * throws, and rethrows. After a fatal error (fenced) nothing is aborted: the producer is done.
   */
  async transaction<T>(work: (transaction: Transaction) => Promise<T>): Promise<T> {
    await this.beginTransaction();
    const handle: Transaction = {
      send: (record) => this.send(record),
      sendOffsets: (offsets, group) => this.sendOffsetsToTransaction(offsets, group),
    };
    try {
      const result = await work(handle);
      await this.commitTransaction();
      return result;
    } catch (error) {
      const state = this.transactions?.state;
      // A commit that ran out of time is left alone: the broker may have committed it already,
      // and calling commitTransaction again finishes it.
      if (!(error instanceof KafkaFatalProducerError) && (state === 'inTransaction' || state === 'abortableError')) {
        await this.abortTransaction().catch(() => undefined);
      }
      throw error;
    }
  }

  private requireTransactions(): TransactionManager {
    if (this.transactions === null) throw new KafkaStateError('transactions need the transactionalId option (transactional.id)');
    return this.transactions;
  }

  /** A view of this producer that takes typed keys and values through core's serdes, e.g. `typed({ key: Serdes.string(), value: Serdes.zod(Order) })`. */
  typed<V, K = Uint8Array>(serdes: { key?: Serde<K>; value: Serde<V> }): TypedProducer<K, V> {
    return new TypedProducer(this, serdes);
  }

  /** Appends the messages to their partitions' batches; resolves once every one is acknowledged. */
  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    // Not an async function awaiting sendCall: its suspended frame would hold `record`, so every
    // message, until the acknowledgement, and the young records would be promoted.
    return this.sendCall(record, true) as Promise<RecordMetadata[]>;
  }

  /**
   * send() for callers that only need to know that the messages were written: resolves once every
   * one is acknowledged (or rejects as send() does), without a RecordMetadata per message. The
   * streams runtime sends its output records this way.
   */
  sendAcknowledged(record: ProducerRecord): Promise<void> {
    return this.sendCall(record, false).then(acknowledgedOnly);
  }

  /** send(); withMetadata false makes no RecordMetadata and resolves with null. */
  private async sendCall(record: ProducerRecord, withMetadata: boolean): Promise<RecordMetadata[] | null> {
    if (this.closed) throw new KafkaStateError('the producer is closed');
    const transactionNumber = this.transactions?.checkSendable() ?? 0;
    const messages = record.messages;
    if (messages.length === 0) return withMetadata ? [] : null;
    // With fresh metadata, room in buffer.memory and no earlier send still waiting, the records
    // are appended before send() returns, as Kafka's producer does. Otherwise the call waits
    // behind the earlier waiting ones (sends keep their order), and flush() (so also
    // commitTransaction) waits for it: records whose send() came first are always in the flush.
    let appended: (() => void) | null = null;
    try {
      let topic = this.pendingAppends.size === 0 && this.cluster.isFresh(record.topic) ? this.cluster.cachedTopic(record.topic) : undefined;
      if (topic === undefined) {
        appended = await this.waitYourTurn();
        topic = await this.topicWithin(record.topic);
      }
      // Every partition is chosen before anything is appended, so a bad message fails the whole
      // call without leaving the others half-sent.
      const partitions = new Int32Array(messages.length);
      let bytes = 0;
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index] as ProducerMessage;
        partitions[index] = this.choosePartition(topic, message);
        bytes += approximateBytes(message);
      }
      if (this.memoryFits(bytes)) {
        this.memoryBytes += bytes;
      } else {
        appended ??= await this.waitYourTurn();
        await this.reserveMemory(bytes);
      }
      if (this.closed) {
        this.releaseMemory(bytes);
        throw new KafkaStateError('the producer is closed');
      }
      if (appended !== null && this.transactions !== null) {
        try {
          // The transaction may have moved on while this call waited for metadata or memory.
          this.transactions.checkAppendable(transactionNumber);
        } catch (error) {
          this.releaseMemory(bytes);
          throw error;
        }
      }
      return this.appendCall(topic, messages, partitions, bytes, withMetadata);
    } finally {
      appended?.();
    }
  }

  /**
   * Registers a send() that has to wait before appending and waits until every send that was
   * waiting before it has appended (or failed); the returned function ends this one's wait.
   */
  private async waitYourTurn(): Promise<() => void> {
    const earlier = [...this.pendingAppends];
    let done!: () => void;
    const pending = new Promise<void>((resolve) => { done = resolve; });
    this.pendingAppends.add(pending);
    const finish = (): void => {
      this.pendingAppends.delete(pending);
      done();
    };
    if (earlier.length > 0) await Promise.all(earlier);
    return finish;
  }

  private appendCall(topic: TopicInfo, messages: readonly ProducerMessage[], partitions: Int32Array, bytes: number, withMetadata: boolean): Promise<RecordMetadata[] | null> {
    return new Promise<RecordMetadata[] | null>((resolve, reject) => {
      const now = Date.now();
      const results = withMetadata ? new Array<RecordMetadata>(messages.length) : null;
      const call: SendCall = { results, pendingRecords: messages.length, memoryBytes: bytes, error: null, timestampMs: now, timestamps: null, resolve, reject };
      this.calls.add(call);
      try {
        // One lookup of the topic's queues per call, not per record.
        const queues = this.topicQueues(topic.name);
        for (let index = 0; index < messages.length; index++) {
          const partition = partitions[index] as number;
          const queue = queues[partition] ?? this.newQueue(queues, topic.name, partition);
          this.append(queue, messages[index] as ProducerMessage, call, index, now);
        }
      } catch (error) {
        // Only a programmer error gets here (a record bigger than max.request.size is checked first).
        this.failCall(call, error instanceof Error ? error : new Error(String(error)));
      }
      if (this.options.lingerMs === 0) this.scheduleSealAll();
    });
  }

  /** The topic's metadata, failing after max.block.ms like Kafka's producer does. */
  private async topicWithin(name: string): Promise<TopicInfo> {
    const cached = this.cluster.cachedTopic(name);
    if (cached !== undefined && this.cluster.isFresh(name)) return cached;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KafkaTimeoutError(`topic ${name} not present in metadata after ${this.options.maxBlockMs} ms (max.block.ms)`)), this.options.maxBlockMs);
    });
    try {
      return await Promise.race([this.cluster.topic(name), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private choosePartition(topic: TopicInfo, message: ProducerMessage): number {
    const partitionCount = topic.partitions.length;
    if (message.partition !== undefined && message.partition !== null) {
      if (!Number.isInteger(message.partition) || message.partition < 0 || message.partition >= partitionCount) {
        throw new KafkaConfigError(`topic ${topic.name} has partitions 0-${partitionCount - 1}; partition ${message.partition} does not exist`);
      }
      return message.partition;
    }
    const key = message.key;
    if (key === null || key === undefined) return this.sticky.partition(topic.name, partitionCount);
    // A string key is hashed over its UTF-8 bytes without encoding it first (see murmur2Utf8).
    return partitionForKey(key, partitionCount);
  }

  private append(queue: PartitionQueue, message: ProducerMessage, call: SendCall, index: number, now: number): void {
    const key = message.key ?? null;
    const value = message.value;
    const headers = headerList(message.headers);
    const timestamp = timestampOf(message, now);
    // Timestamps only go into RecordMetadata.
    if (timestamp !== now && call.results !== null) {
      call.timestamps ??= new Array<number>(call.results.length).fill(now);
      call.timestamps[index] = timestamp;
    }
    let batch = queue.open;
    if (batch === null || !(batch.builder as BatchBuilder).tryAppend(key, value, headers, timestamp)) {
      if (batch !== null) this.seal(queue);
      const size = BATCH_HEADER_BYTES + recordBytes(key, value, headers, 0, 0);
      if (size > this.options.maxRequestSize) {
        throw new KafkaProtocolError(10, `record of ${size} bytes for ${queue.topic}-${queue.partition}`, `it exceeds max.request.size ${this.options.maxRequestSize}`);
      }
      batch = this.openBatch(queue, size);
      (batch.builder as BatchBuilder).tryAppend(key, value, headers, timestamp);
    }
    const last = batch.segments[batch.segments.length - 1];
    if (last !== undefined && last.call === call && last.resultIndex + last.count === index) last.count += 1;
    else batch.segments.push({ call, resultIndex: index, offsetDelta: batch.recordCount, count: 1 });
    batch.recordCount += 1;
    if ((batch.builder as BatchBuilder).size >= this.options.batchSize) this.seal(queue);
  }

  private topicQueues(topic: string): (PartitionQueue | undefined)[] {
    let queues = this.queues.get(topic);
    if (queues === undefined) {
      queues = [];
      this.queues.set(topic, queues);
    }
    return queues;
  }

  private newQueue(queues: (PartitionQueue | undefined)[], topic: string, partition: number): PartitionQueue {
    const queue: PartitionQueue = { topic, partition, open: null, ready: [], inFlight: [], nextSequence: 0 };
    queues[partition] = queue;
    return queue;
  }

  private *allQueues(): Generator<PartitionQueue> {
    for (const queues of this.queues.values()) for (const queue of queues) if (queue !== undefined) yield queue;
  }

  private openBatch(queue: PartitionQueue, firstRecordBytes: number): Batch {
    const capacity = Math.max(this.options.batchSize, firstRecordBytes);
    const pooled = capacity === this.options.batchSize ? this.freeBuffers.pop() : undefined;
    const builder = new BatchBuilder(capacity, pooled);
    const batch: Batch = {
      queue, builder, bytes: null, recordCount: 0, segments: [], createdAtMs: Date.now(), attempts: 0, retryAtMs: 0, metadataAfter: 0,
      baseSequence: -1, producerEpoch: -1, outcomeUnknown: false, lingering: this.options.lingerMs > 0,
    };
    if (batch.lingering && this.lingerTimer === null) this.checkLingerAt(batch.createdAtMs + this.options.lingerMs);
    queue.open = batch;
    return batch;
  }

  private checkLingerAt(deadlineMs: number): void {
    this.lingerTimer = setTimeout(() => this.lingerCheck(), Math.max(0, deadlineMs - Date.now()));
  }

  /** Seals (window permitting) every open batch whose linger is over; waits for the next deadline. */
  private lingerCheck(): void {
    this.lingerTimer = null;
    const nowMs = Date.now();
    let nextDeadlineMs = Number.POSITIVE_INFINITY;
    for (const queue of this.allQueues()) {
      const batch = queue.open;
      if (batch === null || !batch.lingering) continue;
      const deadlineMs = batch.createdAtMs + this.options.lingerMs;
      if (deadlineMs > nowMs) {
        nextDeadlineMs = Math.min(nextDeadlineMs, deadlineMs);
        continue;
      }
      batch.lingering = false;
      this.sealUnlessWindowFull(queue);
    }
    if (nextDeadlineMs !== Number.POSITIVE_INFINITY) this.checkLingerAt(nextDeadlineMs);
  }

  /** Seals the open batch, queues it for sending and lets a keyless topic move to a new partition. */
  private seal(queue: PartitionQueue): void {
    const batch = queue.open;
    if (batch === null) return;
    batch.lingering = false;
    queue.open = null;
    const builder = batch.builder as BatchBuilder;
    // The sender stamps every batch when it first sends it (see Sender.dispatch).
    batch.bytes = builder.seal(CODECS[this.options.compression] ?? CompressionCodec.None, this.transactions !== null, true);
    // A compressed batch was copied out of the builder, whose buffer can serve the next batch.
    if (batch.bytes.buffer !== builder.buffer.buffer || batch.bytes.byteOffset !== builder.buffer.byteOffset) {
      this.recycle(builder.buffer);
      batch.builder = null;
    }
    queue.ready.push(batch);
    if (this.sticky.isCurrent(queue.topic, queue.partition)) {
      const count = this.cluster.cachedTopic(queue.topic)?.partitions.length ?? 1;
      this.sticky.next(queue.topic, count);
    }
    this.sender.wake();
  }

  /** Seals every open batch on the next turn, so one send() call (or several) fills one batch. */
  private scheduleSealAll(): void {
    if (this.sealScheduled) return;
    this.sealScheduled = true;
    setImmediate(() => {
      this.sealScheduled = false;
      for (const queue of this.allQueues()) this.sealUnlessWindowFull(queue);
    });
  }

  /**
   * Seals a batch whose linger is over, unless the partition's window is full (the batches in
   * flight and those already sealed fill max.in.flight.requests): then the batch stays open and
   * keeps taking records, as Kafka's accumulator appends to a ready batch until the sender
   * drains it, and it is sealed when one of the partition's batches is answered. Sealing every
   * send of a linger-0 producer on its own would queue one batch per send behind a full window,
   * each going out alone, a backlog that grows whenever the round trip exceeds the window.
   */
  private sealUnlessWindowFull(queue: PartitionQueue): void {
    if (queue.inFlight.length + queue.ready.length >= this.options.maxInFlightRequests) return;
    this.seal(queue);
  }

  private recycle(buffer: Buffer): void {
    if (buffer.length === this.options.batchSize && this.freeBuffers.length < 16) this.freeBuffers.push(buffer);
  }

  /** Called by the Sender once a batch succeeded or failed for good. */
  private batchCompleted(batch: Batch): void {
    if (batch.builder !== null) this.recycle(batch.builder.buffer);
    batch.builder = null;
    // An open batch whose linger ran out while the window was full goes now (with linger.ms 0
    // a batch never lingers).
    const open = batch.queue.open;
    if (open !== null && !open.lingering) this.sealUnlessWindowFull(batch.queue);
    for (const segment of batch.segments) {
      const call = segment.call;
      call.pendingRecords -= segment.count;
      if (call.pendingRecords === 0) this.settle(call);
    }
  }

  private failCall(call: SendCall, error: Error): void {
    call.error ??= error;
    if (call.pendingRecords <= 0 || !this.calls.has(call)) return;
    // Records of the call already appended to batches still go out; the call reports the error.
    this.settle(call);
  }

  private settle(call: SendCall): void {
    if (!this.calls.delete(call)) return;
    this.releaseMemory(call.memoryBytes);
    if (call.error !== null) call.reject(call.error);
    else call.resolve(call.results);
    if (this.calls.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** An empty buffer takes any call, however large, so one big send cannot block for ever. */
  private memoryFits(bytes: number): boolean {
    return this.memoryBytes === 0 || this.memoryBytes + bytes <= this.options.bufferMemory;
  }

  private async reserveMemory(bytes: number): Promise<void> {
    const deadline = Date.now() + this.options.maxBlockMs;
    while (!this.memoryFits(bytes)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) {
        throw new KafkaTimeoutError(`no room for ${bytes} bytes in buffer.memory (${this.options.bufferMemory} bytes, ${this.memoryBytes} in use) after max.block.ms ${this.options.maxBlockMs}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.memoryWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    this.memoryBytes += bytes;
  }

  private releaseMemory(bytes: number): void {
    this.memoryBytes -= bytes;
    for (const wake of this.memoryWaiters.splice(0)) wake();
  }

  /** Sends every buffered record now and waits until all of them are answered. */
  async flush(): Promise<void> {
    for (const queue of this.allQueues()) this.seal(queue);
    // Sends that were waiting for metadata or memory when flush was called are part of it (the
    // batches sealed above free the memory they may wait for).
    if (this.pendingAppends.size > 0) {
      await Promise.all([...this.pendingAppends]);
      for (const queue of this.allQueues()) this.seal(queue);
    }
    while (this.calls.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Sends what is buffered and closes. A transaction still open is aborted first, as Kafka's
   * producer does on close, so read_committed consumers are not held back until its timeout.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    const state = this.transactions?.state;
    if (state === 'inTransaction' || state === 'abortableError' || state === 'aborting') await this.abortTransaction().catch(() => undefined);
    await this.flush();
    this.closed = true;
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
    this.sender.close();
    for (const wake of this.memoryWaiters.splice(0)) wake();
    await this.cluster.close();
  }
}
