// The producer's sending side: takes sealed batches from the partition queues and ships them in
// Produce requests, at most one batch per partition per request and at most
// max.in.flight.requests.per.connection requests per broker, then answers the send() calls.
//
// Order and idempotence. Requests to one broker go out on one connection, in order, so batches of
// a partition reach the broker in sequence order. When a batch fails:
// - a broker error (it was not written) or a lost answer (it may have been) that is retriable:
//   the batch goes back to the front of its queue with the same sequence and is sent alone,
//   once nothing else of its partition is in flight; the broker drops it if it was written
//   already, answering with the original offset;
// - OUT_OF_ORDER_SEQUENCE_NUMBER while an earlier batch of the partition is being retried: the
//   batch simply waits its turn again;
// - OUT_OF_ORDER_SEQUENCE_NUMBER with nothing before it, or UNKNOWN_PRODUCER_ID: the broker's and
//   the producer's sequences diverged. The producer drains what is in flight, bumps its epoch
//   (InitProducerId with its id, KIP-360), starts every partition at sequence 0 again and
//   resends the batch, which the broker had rejected and so never wrote.
// A batch given up (retries or delivery.timeout.ms spent) after a lost answer leaves the
// sequence unknown, so the epoch is bumped too, and batches that may have been written are
// failed rather than resent under the new epoch, where the broker could not see the duplicate.
//
// Transactions. With a TransactionManager the Sender never picks or bumps the producer id
// itself: the manager does (it must name the transactional id), and a batch that fails makes
// the transaction abortable instead. Before the first batch to a partition goes out in a
// transaction the partition is added to it: one AddPartitionsToTxn covers every new partition
// with batches ready at that moment, and those batches wait for its answer.
import { ApiKey, ErrorCode } from '../../core/protocol/index.ts';
import { stamp } from './batch-builder.ts';
import type { Cluster } from './cluster.ts';
import type { Connection, Response } from './connection.ts';
import { KafkaClientError, KafkaConnectionError, KafkaProtocolError, KafkaTimeoutError, KafkaVersionError, isRetriableError } from './errors.ts';
import { BatchRecordMetadata, type Batch, type PartitionQueue } from './producer-batch.ts';
import type { ResolvedProducerOptions } from './producer.ts';
import type { TransactionManager } from './transaction-manager.ts';

export interface SenderHooks {
  queues(): Iterable<PartitionQueue>;
  /** A batch succeeded or failed for good; its calls' results (or errors) are filled in. */
  completed(batch: Batch): void;
}

interface PartitionAnswer {
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  errorMessage: string | null;
}

const SEQUENCE_MAX = 0x7fffffff;
const TRANSACTION_TIMEOUT_MS = 60_000;

/** Produce errors that mean this client's idea of the partition's leader is out of date. */
const STALE_METADATA_CODES: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.LEADER_NOT_AVAILABLE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.UNKNOWN_LEADER_EPOCH,
]);

export class Sender {
  private producerId = -1n;
  private producerEpoch = -1;
  private idempotent: boolean | 'auto';
  private initializing: Promise<void> | null = null;
  /** Set when sequences can no longer be trusted; the next drain bumps the epoch first. */
  private bumpNeeded = false;
  private readonly requestsInFlight = new Map<number, number>();
  /** Per broker, the last request handed to its connection, so the next goes after it. */
  private readonly chains = new Map<number, Promise<unknown>>();
  private wakeScheduled = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private metadataRefresh: Promise<unknown> | null = null;
  private lastRefreshAtMs = 0;
  /** Metadata refreshes started and finished, numbered, so a batch can wait for one begun after its error. */
  private refreshesStarted = 0;
  private refreshesDone = 0;
  private refreshAgain = false;
  private closed = false;

  constructor(private readonly cluster: Cluster, private readonly options: ResolvedProducerOptions, private readonly hooks: SenderHooks,
    private readonly transaction: TransactionManager | null = null) {
    this.idempotent = transaction === null ? options.idempotent : true;
  }

  /**
   * Takes the producer id and epoch the transaction manager got. A new epoch starts every
   * partition at sequence 0; only batches not yet stamped can be waiting then.
   */
  adoptIdentity(producerId: bigint, producerEpoch: number): void {
    const changed = producerId !== this.producerId || producerEpoch !== this.producerEpoch;
    this.producerId = producerId;
    this.producerEpoch = producerEpoch;
    this.idempotent = true;
    this.bumpNeeded = false;
    if (changed) for (const queue of this.hooks.queues()) queue.nextSequence = 0;
  }

  /** Fails every batch that is waiting to be sent (an aborted or doomed transaction). */
  failReady(error: Error): void {
    for (const queue of this.hooks.queues()) {
      for (const batch of queue.ready.splice(0)) this.complete(batch, error);
    }
  }

  identity(): { producerId: bigint; producerEpoch: number } {
    return { producerId: this.producerId, producerEpoch: this.producerEpoch };
  }

  /** Gets a producer id (or bumps the epoch of ours) when idempotence is on or may be. */
  async initProducerId(): Promise<void> {
    if (this.transaction !== null) return this.transaction.initTransactions();
    if (this.idempotent === false || (this.producerId >= 0n && !this.bumpNeeded)) return;
    this.initializing ??= this.cluster.withRetries(() => this.requestProducerId()).finally(() => { this.initializing = null; });
    await this.initializing;
  }

  private async requestProducerId(): Promise<void> {
    const connection = await this.cluster.anyConnection();
    if (!connection.supports(ApiKey.InitProducerId)) {
      if (this.idempotent !== 'auto') throw new KafkaVersionError(`broker ${connection.address} does not support InitProducerId, which idempotence needs; set idempotent false`);
      this.idempotent = false;
      return;
    }
    const bump = this.producerId >= 0n && connection.versionFor(ApiKey.InitProducerId) >= 3;
    const { body } = await connection.send(ApiKey.InitProducerId, {
      transactionalId: null, transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
      producerId: bump ? this.producerId : -1n, producerEpoch: bump ? this.producerEpoch : -1,
    });
    if (body.errorCode !== ErrorCode.NONE) throw new KafkaProtocolError(body.errorCode, 'InitProducerId');
    this.producerId = body.producerId;
    this.producerEpoch = body.producerEpoch;
    this.idempotent = true;
    this.bumpNeeded = false;
  }

  /** Asks for a drain on the next turn of the event loop (many wakes, one drain). */
  wake(): void {
    if (this.wakeScheduled || this.closed) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.drain();
    });
  }

  private wakeAt(atMs: number): void {
    if (this.wakeTimer !== null) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.wake();
    }, Math.max(1, atMs - Date.now()));
  }

  private drain(): void {
    if (this.closed) return;
    if (this.transaction !== null && !this.prepareTransaction()) return;
    if (this.idempotent !== false && (this.producerId < 0n || this.bumpNeeded)) {
      this.prepareIdentity();
      return;
    }
    const now = Date.now();
    for (;;) {
      const requests = this.collect(now);
      if (requests.size === 0) return;
      for (const [leader, batches] of requests) this.dispatch(leader, batches);
    }
  }

  /**
   * Fails what may not be sent any more and adds new partitions to the transaction. Returns
   * false when nothing can be sent now.
   */
  private prepareTransaction(): boolean {
    const transaction = this.transaction as TransactionManager;
    const blocked = transaction.sendBlockedBy();
    if (blocked !== null) {
      this.failReady(blocked);
      return false;
    }
    if (transaction.addInProgress) return true;
    const fresh: PartitionQueue[] = [];
    for (const queue of this.hooks.queues()) {
      if (queue.ready.length > 0 && !transaction.isAdded(queue.topic, queue.partition)) fresh.push(queue);
    }
    if (fresh.length === 0) return true;
    transaction.addPartitions(fresh.map((queue) => ({ topic: queue.topic, partition: queue.partition }))).then(
      () => this.wake(),
      (error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const queue of fresh) for (const batch of queue.ready.splice(0)) this.complete(batch, failure);
        this.wake();
      },
    );
    return true;
  }

  /** Gets the producer id, or bumps the epoch once nothing is in flight any more. */
  private prepareIdentity(): void {
    if (this.initializing !== null) return;
    if (this.bumpNeeded) {
      for (const queue of this.hooks.queues()) if (queue.inFlight.length > 0) return;
    }
    const bumping = this.bumpNeeded;
    this.initProducerId().then(
      () => {
        if (bumping) this.resequence();
        this.wake();
      },
      (error: unknown) => this.failEverything(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /** After an epoch bump: every partition starts at sequence 0; batches that may be written fail. */
  private resequence(): void {
    const unknown = new KafkaClientError('the producer epoch was bumped while this batch\'s outcome was unknown; it may or may not have been written', false);
    for (const queue of this.hooks.queues()) {
      queue.nextSequence = 0;
      for (const batch of queue.ready.splice(0)) {
        if (batch.outcomeUnknown) {
          this.complete(batch, unknown);
          continue;
        }
        batch.baseSequence = -1;
        queue.ready.push(batch);
      }
    }
  }

  /** Picks, per broker, one request's worth of batches: at most one per partition. */
  private collect(now: number): Map<number, Batch[]> {
    const requests = new Map<number, Batch[]>();
    const requestBytes = new Map<number, number>();
    for (const queue of this.hooks.queues()) {
      const batch = queue.ready[0];
      if (batch === undefined || !this.sendable(queue, batch, now)) continue;
      const leader = this.cluster.cachedTopic(queue.topic)?.partitions[queue.partition]?.leader ?? -1;
      if (leader < 0) {
        this.refreshMetadata();
        continue;
      }
      if ((this.requestsInFlight.get(leader) ?? 0) >= this.options.maxInFlightRequests) continue;
      const bytes = requestBytes.get(leader) ?? 0;
      const size = (batch.bytes as Buffer).length;
      if (bytes > 0 && bytes + size > this.options.maxRequestSize) continue;
      queue.ready.shift();
      requests.set(leader, [...(requests.get(leader) ?? []), batch]);
      requestBytes.set(leader, bytes + size);
    }
    return requests;
  }

  private sendable(queue: PartitionQueue, batch: Batch, now: number): boolean {
    if (batch.attempts === 0 && now - batch.createdAtMs > this.options.deliveryTimeoutMs) {
      queue.ready.shift();
      this.complete(batch, new KafkaTimeoutError(`batch for ${queue.topic}-${queue.partition} expired after delivery.timeout.ms ${this.options.deliveryTimeoutMs} without being sent`));
      return false;
    }
    if (batch.retryAtMs > now) {
      this.wakeAt(batch.retryAtMs);
      return false;
    }
    // Woken again when the refresh finishes.
    if (batch.metadataAfter > this.refreshesDone) return false;
    if (queue.inFlight.length >= this.options.maxInFlightRequests) return false;
    if (this.transaction !== null && !this.transaction.isAdded(queue.topic, queue.partition)) return false;
    // A retried batch goes alone, and nothing follows it until it is answered: that keeps order.
    if (batch.attempts > 0 && queue.inFlight.length > 0) return false;
    return !queue.inFlight.some((sent) => sent.attempts > 1);
  }

  private dispatch(leader: number, batches: Batch[]): void {
    for (const batch of batches) {
      const queue = batch.queue;
      if (this.idempotent === true && batch.baseSequence < 0) {
        batch.baseSequence = queue.nextSequence;
        batch.producerEpoch = this.producerEpoch;
        queue.nextSequence = (queue.nextSequence + batch.recordCount) % (SEQUENCE_MAX + 1);
        stamp(batch.bytes as Buffer, this.producerId, this.producerEpoch, batch.baseSequence);
      } else if (batch.attempts === 0 && batch.baseSequence < 0) {
        // Sealed unstamped (the producer leaves the CRC to the first send): a batch without
        // idempotence gets the producer fields of none and its CRC once, here.
        stamp(batch.bytes as Buffer, -1n, -1, -1);
      }
      batch.attempts += 1;
      queue.inFlight.push(batch);
    }
    this.requestsInFlight.set(leader, (this.requestsInFlight.get(leader) ?? 0) + 1);
    void this.produce(leader, batches).finally(() => {
      this.requestsInFlight.set(leader, (this.requestsInFlight.get(leader) ?? 1) - 1);
      this.wake();
    });
  }

  private async produce(leader: number, batches: Batch[]): Promise<void> {
    let answers: Map<Batch, PartitionAnswer>;
    try {
      answers = await this.produceRequest(leader, batches);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const batch of batches) {
        batch.outcomeUnknown = true;
        this.failed(batch, failure);
      }
      return;
    }
    for (const batch of batches) {
      const answer = answers.get(batch);
      if (answer === undefined) {
        batch.outcomeUnknown = true;
        this.failed(batch, new KafkaClientError(`broker ${leader} did not answer for ${batch.queue.topic}-${batch.queue.partition}`, true));
      } else if (answer.errorCode === ErrorCode.NONE || answer.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
        this.succeeded(batch, answer.baseOffset, answer.logAppendTimeMs);
      } else {
        batch.outcomeUnknown = false;
        this.failed(batch, new KafkaProtocolError(answer.errorCode, `produce to ${batch.queue.topic}-${batch.queue.partition}`, answer.errorMessage));
      }
    }
  }

  private async produceRequest(leader: number, batches: Batch[]): Promise<Map<Batch, PartitionAnswer>> {
    const topics = new Map<string, { index: number; records: Buffer }[]>();
    for (const batch of batches) {
      const list = topics.get(batch.queue.topic) ?? [];
      list.push({ index: batch.queue.partition, records: batch.bytes as Buffer });
      topics.set(batch.queue.topic, list);
    }
    const body = {
      transactionalId: this.transaction?.transactionalId ?? null,
      acks: this.options.acks,
      timeoutMs: this.options.requestTimeoutMs,
      topicData: [...topics].map(([name, partitionData]) => ({ name, partitionData })),
    };
    const expectResponse = this.options.acks !== 0;
    // Requests to one broker are handed to its connection strictly in dispatch order.
    const handed = (this.chains.get(leader) ?? Promise.resolve())
      .then(() => this.cluster.connectionTo(leader))
      .then((connection: Connection) => ({ pending: connection.send(ApiKey.Produce, body, { expectResponse }) }));
    this.chains.set(leader, handed.catch(() => undefined));
    const response: Response<typeof ApiKey.Produce> = await (await handed).pending;
    const answers = new Map<Batch, PartitionAnswer>();
    if (!expectResponse) {
      for (const batch of batches) answers.set(batch, { errorCode: 0, baseOffset: -1n, logAppendTimeMs: -1n, errorMessage: null });
      return answers;
    }
    for (const topic of response.body.responses) {
      for (const partition of topic.partitionResponses) {
        const batch = batches.find((candidate) => candidate.queue.topic === topic.name && candidate.queue.partition === partition.index);
        if (batch !== undefined) answers.set(batch, partition);
      }
    }
    return answers;
  }

  private removeInFlight(batch: Batch): void {
    const inFlight = batch.queue.inFlight;
    const index = inFlight.indexOf(batch);
    if (index >= 0) inFlight.splice(index, 1);
  }

  private succeeded(batch: Batch, baseOffset: bigint, logAppendTimeMs: bigint): void {
    this.removeInFlight(batch);
    const { topic, partition } = batch.queue;
    const appendTime = logAppendTimeMs >= 0n ? Number(logAppendTimeMs) : -1;
    for (const segment of batch.segments) {
      const call = segment.call;
      if (call.results === null) continue;
      for (let index = 0; index < segment.count; index++) {
        const resultIndex = segment.resultIndex + index;
        const timestamp = appendTime >= 0 ? appendTime : (call.timestamps?.[resultIndex] ?? call.timestampMs);
        call.results[resultIndex] = new BatchRecordMetadata(topic, partition, baseOffset, segment.offsetDelta + index, timestamp);
      }
    }
    this.hooks.completed(batch);
  }

  private failed(batch: Batch, error: Error): void {
    this.removeInFlight(batch);
    const queue = batch.queue;
    const code = error instanceof KafkaProtocolError ? error.code : -1;
    const now = Date.now();
    const backoffMs = this.options.retryBackoffMs * Math.min(2 ** (batch.attempts - 1), 32);
    const withinBudget = batch.attempts <= this.options.retries && now + backoffMs - batch.createdAtMs < this.options.deliveryTimeoutMs && !this.closed;
    const sequenceLost = this.idempotent === true && (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER || code === ErrorCode.UNKNOWN_PRODUCER_ID);
    if (sequenceLost && withinBudget) {
      if (code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER && this.earlierPending(batch)) {
        this.requeue(batch, now + backoffMs);
        return;
      }
      // Inside a transaction the gap is repaired by aborting it (the next epoch restarts sequences).
      if (this.transaction === null) {
        this.bumpNeeded = true;
        this.requeue(batch, now);
        return;
      }
    }
    if (isRetriableError(error) && withinBudget) {
      this.requeue(batch, now + backoffMs);
      if (STALE_METADATA_CODES.has(code) || error instanceof KafkaConnectionError) {
        // The leader moved or went away: the retry goes out only once metadata fetched after
        // this answer is in, not to the leader already known to be stale.
        batch.metadataAfter = this.refreshesStarted + 1;
        this.refreshMetadata(true);
      } else {
        this.refreshMetadata();
      }
      return;
    }
    if (this.idempotent === true && this.transaction === null) this.bumpNeeded = true;
    this.complete(batch, error);
  }

  /** True when a batch of the same partition with a lower sequence is still to be answered. */
  private earlierPending(batch: Batch): boolean {
    const queue = batch.queue;
    const earlier = (other: Batch): boolean => other !== batch && other.baseSequence >= 0 && other.producerEpoch === batch.producerEpoch && other.baseSequence < batch.baseSequence;
    return queue.inFlight.some(earlier) || queue.ready.some(earlier);
  }

  /** Puts a batch back among the retried batches at the front of its queue, in sequence order. */
  private requeue(batch: Batch, retryAtMs: number): void {
    batch.retryAtMs = retryAtMs;
    const ready = batch.queue.ready;
    let index = 0;
    while (index < ready.length) {
      const other = ready[index] as Batch;
      if (other.attempts === 0) break;
      if (batch.baseSequence >= 0 && other.baseSequence > batch.baseSequence) break;
      index += 1;
    }
    ready.splice(index, 0, batch);
  }

  private complete(batch: Batch, error: Error): void {
    const reported = this.transaction === null ? error : this.transaction.batchFailed(error, batch.baseSequence >= 0);
    for (const segment of batch.segments) segment.call.error ??= reported;
    this.hooks.completed(batch);
  }

  /**
   * One metadata refresh at a time, at most one per retry.backoff.ms, then another drain.
   * `again` asks for one that starts after now: if a refresh is in flight, another follows it.
   */
  private refreshMetadata(again = false): void {
    if (this.metadataRefresh !== null) {
      if (again) this.refreshAgain = true;
      return;
    }
    const number = ++this.refreshesStarted;
    const waitMs = Math.max(0, this.lastRefreshAtMs + this.options.retryBackoffMs - Date.now());
    this.metadataRefresh = new Promise((resolve) => setTimeout(resolve, waitMs))
      .then(() => this.cluster.refreshMetadata())
      .catch(() => undefined)
      .finally(() => {
        this.lastRefreshAtMs = Date.now();
        this.refreshesDone = number;
        this.metadataRefresh = null;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.refreshMetadata();
        }
        this.wake();
      });
  }

  /** Without a producer id nothing can be sent: every waiting batch fails with the reason. */
  private failEverything(error: Error): void {
    for (const queue of this.hooks.queues()) {
      for (const batch of queue.ready.splice(0)) this.complete(batch, error);
    }
  }

  close(): void {
    this.closed = true;
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
  }
}
