// The transactional producer's state machine (KIP-98), Kafka's TransactionManager in small:
//
//   uninitialized --initTransactions--> ready --begin--> inTransaction --commit--> committing --EndTxn--> ready
//                                                        inTransaction --abort---> aborting ---EndTxn--> ready
//   inTransaction / committing --a batch or an offset commit fails--> abortableError --abort--> aborting
//   any state --fenced, unauthorized, refused for good--> fatalError (terminal)
//
// The manager talks to the transaction coordinator (InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn) and to the group coordinator (TxnOffsetCommit). It owns the producer
// id and epoch and hands them to the Sender, which stamps them into batches. Coordinator errors
// that clear up by themselves (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS,
// a broken connection) are retried with backoff until max.block.ms has passed.
//
// Three kinds of failure, three outcomes:
// - fatal (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, ...):
//   every later call fails with KafkaFatalProducerError; only a new producer can go on;
// - abortable (a batch failed, an offset commit was refused): the transaction must be aborted,
//   after which the producer starts the next one normally;
// - retriable ones that ran out of time: the call throws and may be repeated.
import { ApiKey, ErrorCode, isRetriable } from '../../core/protocol/index.ts';
import { sleep, type Cluster, type CoordinatorType } from './cluster.ts';
import type { Connection } from './connection.ts';
import {
  KafkaFatalProducerError, KafkaProducerFencedError, KafkaProtocolError, KafkaStateError, KafkaTimeoutError,
  KafkaTransactionAbortableError, KafkaTransactionAbortedError, KafkaVersionError, isRetriableError,
} from './errors.ts';

export type TransactionState = 'uninitialized' | 'initializing' | 'ready' | 'inTransaction' | 'committing' | 'aborting' | 'abortableError' | 'fatalError';

/** Every legal move; anything else is a programmer error in this file. */
const TRANSITIONS: Readonly<Record<TransactionState, readonly TransactionState[]>> = {
  uninitialized: ['initializing', 'fatalError'],
  initializing: ['ready', 'uninitialized', 'fatalError'],
  ready: ['inTransaction', 'fatalError'],
  inTransaction: ['committing', 'aborting', 'abortableError', 'fatalError'],
  committing: ['ready', 'abortableError', 'fatalError'],
  aborting: ['ready', 'fatalError'],
  abortableError: ['aborting', 'fatalError'],
  fatalError: [],
};

/** A consumer's place in its group, so the group coordinator can refuse a zombie's offsets (KIP-447). */
export interface ConsumerGroupMetadata {
  groupId: string;
  /** -1 and '' when the consumer is not a member (offsets are then not fenced by generation). */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

/** The offset of the next record to consume, as in a normal commit. */
export interface TransactionalOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch?: number;
  metadata?: string | null;
}

export interface TransactionManagerOptions {
  transactionalId: string;
  transactionTimeoutMs: number;
  retryBackoffMs: number;
  /** How long init, begin, commit, abort and offset sends may take, retries included (max.block.ms). */
  maxBlockMs: number;
}

/** Codes after which nothing this producer does can succeed. */
const FATAL_CODES: ReadonlySet<number> = new Set([
  ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_PRODUCER_ID_MAPPING, ErrorCode.TRANSACTION_COORDINATOR_FENCED, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
  ErrorCode.INVALID_TXN_STATE, ErrorCode.INVALID_TRANSACTION_TIMEOUT, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
]);
const FENCED_CODES: ReadonlySet<number> = new Set([ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH]);
/** Codes that send the request to a freshly looked-up coordinator. */
const COORDINATOR_CODES: ReadonlySet<number> = new Set([ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.NOT_COORDINATOR]);
/** Backoff between attempts is doubled up to this. */
const BACKOFF_MAX_MS = 1_000;

/** Turns a Kafka error code into the error a transactional call reports. */
export function transactionError(code: number, context: string, detail?: string | null): Error {
  const protocolError = new KafkaProtocolError(code, context, detail);
  if (FENCED_CODES.has(code)) return new KafkaProducerFencedError(`the producer was fenced by a newer one with the same transactional id (${protocolError.message})`, code, { cause: protocolError });
  if (FATAL_CODES.has(code)) return new KafkaFatalProducerError(`the producer cannot continue: ${protocolError.message}`, code, { cause: protocolError });
  return new KafkaTransactionAbortableError(`the transaction must be aborted: ${protocolError.message}`, { cause: protocolError });
}

export class TransactionManager {
  readonly transactionalId: string;
  private stateValue: TransactionState = 'uninitialized';
  private producerIdValue = -1n;
  private producerEpochValue = -1;
  /** Partitions of the current transaction, as topic NUL partition. */
  private readonly partitions = new Set<string>();
  /** Groups whose offsets partition joined the current transaction. */
  private readonly groups = new Set<string>();
  private addingPartitions = false;
  /** Why the transaction (abortableError) or the producer (fatalError) cannot go on. */
  private failure: Error | null = null;
  /** A batch that had a sequence was never written: sequences must restart under a new epoch. */
  private sequenceGap = false;
  private initializing: Promise<void> | null = null;
  /** Counts begun transactions, so a late append can tell whether its transaction is still the open one. */
  private transactionNumber = 0;

  constructor(private readonly cluster: Cluster, private readonly options: TransactionManagerOptions,
    private readonly adoptIdentity: (producerId: bigint, producerEpoch: number) => void) {
    this.transactionalId = options.transactionalId;
  }

  get state(): TransactionState {
    return this.stateValue;
  }

  get identity(): { producerId: bigint; producerEpoch: number } {
    return { producerId: this.producerIdValue, producerEpoch: this.producerEpochValue };
  }

  // ---------------------------------------------------------------- the user's calls

  /** InitProducerId with the transactional id: fences older producers and finishes their transaction. */
  async initTransactions(): Promise<void> {
    if (this.initializing !== null) return this.initializing;
    this.throwIfFatal();
    if (this.stateValue !== 'uninitialized') return;
    this.moveTo('initializing');
    this.initializing = this.requestProducerId(null).then(
      () => this.moveTo('ready'),
      (error: unknown) => this.failInit(error),
    ).finally(() => { this.initializing = null; });
    return this.initializing;
  }

  async begin(): Promise<void> {
    await this.initTransactions();
    this.throwIfFatal();
    if (this.stateValue !== 'ready') throw new KafkaStateError(`beginTransaction needs a producer without an open transaction; it is ${this.stateValue}`);
    this.partitions.clear();
    this.groups.clear();
    this.failure = null;
    this.transactionNumber += 1;
    this.moveTo('inTransaction');
  }

  /**
   * Throws unless records may be added to the transaction now; returns the transaction's
   * number, which `checkAppendable` checks when the records are appended after a wait.
   */
  checkSendable(): number {
    this.throwIfFatal();
    if (this.stateValue === 'abortableError') throw this.abortableFailure();
    if (this.stateValue === 'aborting') throw new KafkaTransactionAbortedError('the transaction is being aborted; these records were not sent');
    if (this.stateValue !== 'inTransaction') throw new KafkaStateError(`a transactional producer sends only inside a transaction (call beginTransaction first); it is ${this.stateValue}`);
    return this.transactionNumber;
  }

  /**
   * A send() that waited for metadata or buffer memory appends its records only into the
   * transaction it was called in. That transaction may be committing by now (the commit waits
   * for such sends, so they belong to it), but never a later one: their input offsets may
   * already be committed with the earlier transaction.
   */
  checkAppendable(transactionNumber: number): void {
    this.throwIfFatal();
    if (this.stateValue === 'abortableError') throw this.abortableFailure();
    if (this.stateValue === 'aborting') throw new KafkaTransactionAbortedError('the transaction is being aborted; these records were not sent');
    const open = this.stateValue === 'inTransaction' || this.stateValue === 'committing';
    if (!open || transactionNumber !== this.transactionNumber) {
      throw new KafkaStateError(`the transaction these records were sent in ended before they could be appended (the producer is ${this.stateValue})`);
    }
  }

  /** Moves to committing; the producer then flushes and calls `finishCommit`. */
  startCommit(): void {
    this.throwIfFatal();
    if (this.stateValue === 'committing') return;
    if (this.stateValue === 'abortableError') throw this.abortableFailure();
    if (this.stateValue !== 'inTransaction') throw new KafkaStateError(`commitTransaction needs an open transaction; the producer is ${this.stateValue}`);
    this.moveTo('committing');
  }

  /** After the flush: EndTxn(commit), unless a batch failed, which makes the transaction abortable. */
  async finishCommit(): Promise<void> {
    this.throwIfFatal();
    if (this.stateValue === 'abortableError') throw this.abortableFailure();
    await this.endTransaction(true);
    this.moveTo('ready');
  }

  /** Moves to aborting; the producer then drops unsent batches, waits for sent ones and calls `finishAbort`. */
  startAbort(): void {
    this.throwIfFatal();
    if (this.stateValue === 'aborting') return;
    if (this.stateValue !== 'inTransaction' && this.stateValue !== 'abortableError') {
      throw new KafkaStateError(`abortTransaction needs an open transaction; the producer is ${this.stateValue}`);
    }
    this.moveTo('aborting');
  }

  async finishAbort(): Promise<void> {
    this.throwIfFatal();
    await this.endTransaction(false);
    if (this.sequenceGap) await this.bumpEpoch();
    this.failure = null;
    this.moveTo('ready');
  }

  /** AddOffsetsToTxn, then TxnOffsetCommit to the group's coordinator. */
  async sendOffsets(offsets: readonly TransactionalOffset[], group: ConsumerGroupMetadata): Promise<void> {
    this.checkSendable();
    if (offsets.length === 0) return;
    try {
      if (!this.groups.has(group.groupId)) {
        await this.retrying(`AddOffsetsToTxn for group ${group.groupId}`, 'transaction', this.transactionalId, async (connection) => {
          const { body } = await connection.send(ApiKey.AddOffsetsToTxn, { ...this.producerFields(), groupId: group.groupId });
          return body.errorCode;
        });
        this.groups.add(group.groupId);
      }
      await this.retrying(`TxnOffsetCommit for group ${group.groupId}`, 'group', group.groupId, (connection) => this.commitOffsets(connection, offsets, group));
    } catch (error) {
      throw this.fail(error);
    }
  }

  // ---------------------------------------------------------------- the Sender's calls

  isAdded(topic: string, partition: number): boolean {
    return this.partitions.has(`${topic}\u0000${partition}`);
  }

  get addInProgress(): boolean {
    return this.addingPartitions;
  }

  /**
   * The error every batch waiting to be sent must fail with now, or null while batches may go:
   * the producer's fatal error, the transaction's abortable one, or the abort itself.
   */
  sendBlockedBy(): Error | null {
    if (this.stateValue === 'fatalError' || this.stateValue === 'abortableError') return this.failure;
    if (this.stateValue === 'aborting') return new KafkaTransactionAbortedError('the transaction was aborted before these records were sent');
    return null;
  }

  /** AddPartitionsToTxn for every partition of the list, in one request (retried as a whole). */
  async addPartitions(partitions: readonly { topic: string; partition: number }[]): Promise<void> {
    if (this.stateValue !== 'inTransaction' && this.stateValue !== 'committing') throw this.sendBlockedBy() ?? new KafkaStateError(`no open transaction (${this.stateValue})`);
    this.addingPartitions = true;
    const topics = new Map<string, number[]>();
    for (const { topic, partition } of partitions) topics.set(topic, [...(topics.get(topic) ?? []), partition]);
    try {
      await this.retrying(`AddPartitionsToTxn (${partitions.length} partitions)`, 'transaction', this.transactionalId, async (connection) => {
        const { producerId, producerEpoch } = this.identity;
        const { body } = await connection.send(ApiKey.AddPartitionsToTxn, {
          v3AndBelowTransactionalId: this.transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch,
          v3AndBelowTopics: [...topics].map(([name, list]) => ({ name, partitions: list })), transactions: [],
        });
        const codes = body.resultsByTopicV3AndBelow.flatMap((topic) => topic.resultsByPartition.map((result) => result.partitionErrorCode));
        // OPERATION_NOT_ATTEMPTED only says another partition failed; that one's code decides.
        return codes.find((code) => code !== ErrorCode.NONE && code !== ErrorCode.OPERATION_NOT_ATTEMPTED) ?? codes.find((code) => code !== ErrorCode.NONE) ?? ErrorCode.NONE;
      });
      for (const { topic, partition } of partitions) this.partitions.add(`${topic}\u0000${partition}`);
    } catch (error) {
      throw this.fail(error);
    } finally {
      this.addingPartitions = false;
    }
  }

  /** A batch of the transaction failed for good; returns the error its send() calls report. */
  batchFailed(error: Error, hadSequence: boolean): Error {
    if (hadSequence) this.sequenceGap = true;
    if (error instanceof KafkaTransactionAbortedError) return error;
    const classified = error instanceof KafkaProtocolError ? transactionError(error.code, 'produce', error.message) : error;
    return this.fail(classified);
  }

  /** Every producer id and epoch comes through here: the Sender never asks for one itself. */
  private setIdentity(producerId: bigint, producerEpoch: number): void {
    if (producerId < 0n || producerEpoch < 0) throw new Error(`assertion: InitProducerId answered producer ${producerId} epoch ${producerEpoch}`);
    this.producerIdValue = producerId;
    this.producerEpochValue = producerEpoch;
    this.sequenceGap = false;
    this.adoptIdentity(producerId, producerEpoch);
  }

  // ---------------------------------------------------------------- requests

  /** `current` set: bump our own epoch (KIP-360), which a newer producer's epoch makes fail as fenced. */
  private async requestProducerId(current: { producerId: bigint; producerEpoch: number } | null): Promise<void> {
    let answer: { producerId: bigint; producerEpoch: number } | null = null;
    await this.retrying('InitProducerId', 'transaction', this.transactionalId, async (connection) => {
      if (current !== null && connection.versionFor(ApiKey.InitProducerId) < 3) {
        throw new KafkaVersionError(`broker ${connection.address} lacks InitProducerId v3, which a transactional producer needs to recover from a failed batch`);
      }
      const { body } = await connection.send(ApiKey.InitProducerId, {
        transactionalId: this.transactionalId, transactionTimeoutMs: this.options.transactionTimeoutMs,
        producerId: current?.producerId ?? -1n, producerEpoch: current?.producerEpoch ?? -1,
      });
      if (body.errorCode === ErrorCode.NONE) answer = { producerId: body.producerId, producerEpoch: body.producerEpoch };
      return body.errorCode;
    });
    const granted = answer as { producerId: bigint; producerEpoch: number } | null;
    if (granted === null) throw new Error('assertion: InitProducerId succeeded without an answer');
    this.setIdentity(granted.producerId, granted.producerEpoch);
  }

  private async bumpEpoch(): Promise<void> {
    try {
      await this.requestProducerId(this.identity);
    } catch (error) {
      // Without a new epoch the sequences stay broken, so nothing more could be sent.
      const fatal = error instanceof KafkaFatalProducerError ? error : new KafkaFatalProducerError(`the producer could not restart its sequences after a failed batch: ${String(error)}`, -1, { cause: error });
      throw this.fail(fatal);
    }
  }

  /** EndTxn; a transaction that never added a partition or group has nothing on the broker to end. */
  private async endTransaction(commit: boolean): Promise<void> {
    if (this.partitions.size === 0 && this.groups.size === 0) return;
    try {
      await this.retrying(commit ? 'EndTxn (commit)' : 'EndTxn (abort)', 'transaction', this.transactionalId, async (connection) => {
        const { body } = await connection.send(ApiKey.EndTxn, { ...this.producerFields(), committed: commit });
        return body.errorCode;
      });
    } catch (error) {
      // A commit or abort that ran out of time stays where it is and may be called again.
      if (isRetriableError(error)) throw error;
      throw this.fail(error);
    }
  }

  private async commitOffsets(connection: Connection, offsets: readonly TransactionalOffset[], group: ConsumerGroupMetadata): Promise<number> {
    const topics = new Map<string, TransactionalOffset[]>();
    for (const offset of offsets) topics.set(offset.topic, [...(topics.get(offset.topic) ?? []), offset]);
    const { body } = await connection.send(ApiKey.TxnOffsetCommit, {
      ...this.producerFields(), groupId: group.groupId,
      generationId: group.generationId, memberId: group.memberId, groupInstanceId: group.groupInstanceId,
      topics: [...topics].map(([name, list]) => ({
        name,
        partitions: list.map((entry) => ({
          partitionIndex: entry.partition, committedOffset: entry.offset, committedLeaderEpoch: entry.leaderEpoch ?? -1, committedMetadata: entry.metadata ?? '',
        })),
      })),
    });
    const codes = body.topics.flatMap((topic) => topic.partitions.map((partition) => partition.errorCode));
    return codes.find((code) => code !== ErrorCode.NONE) ?? ErrorCode.NONE;
  }

  private producerFields(): { transactionalId: string; producerId: bigint; producerEpoch: number } {
    return { transactionalId: this.transactionalId, producerId: this.producerIdValue, producerEpoch: this.producerEpochValue };
  }

  /**
   * Runs `attempt` against the coordinator until it answers NONE. Retriable answers and broken
   * connections are retried (with a fresh coordinator lookup where that may help) until
   * max.block.ms; any other code becomes the fatal or abortable error it stands for.
   */
  private async retrying(what: string, type: CoordinatorType, key: string, attempt: (connection: Connection) => Promise<number>): Promise<void> {
    const deadline = Date.now() + this.options.maxBlockMs;
    for (let tries = 0; ; tries++) {
      let code: number;
      let reason: string;
      try {
        code = await attempt(await this.cluster.coordinatorConnection(key, type));
        if (code === ErrorCode.NONE) return;
        if (!isRetriable(code) && code !== ErrorCode.CONCURRENT_TRANSACTIONS) throw transactionError(code, what);
        if (COORDINATOR_CODES.has(code)) this.cluster.invalidateCoordinator(key, type);
        reason = new KafkaProtocolError(code, what).message;
      } catch (error) {
        if (!isRetriableError(error)) throw error;
        this.cluster.invalidateCoordinator(key, type);
        reason = error instanceof Error ? error.message : String(error);
      }
      const backoffMs = Math.min(this.options.retryBackoffMs * 2 ** Math.min(tries, 10), BACKOFF_MAX_MS);
      if (Date.now() + backoffMs > deadline) throw new KafkaTimeoutError(`${what} did not succeed within max.block.ms ${this.options.maxBlockMs}; last failure: ${reason}`);
      await sleep(backoffMs);
    }
  }

  // ---------------------------------------------------------------- state

  /** Records a failure: fatal ones end the producer, others make the open transaction abortable. */
  private fail(error: unknown): Error {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (failure instanceof KafkaFatalProducerError) {
      if (this.stateValue !== 'fatalError') {
        this.failure = failure;
        this.moveTo('fatalError');
      }
      return this.failure ?? failure;
    }
    if (this.stateValue === 'inTransaction' || this.stateValue === 'committing') {
      this.failure = failure;
      this.moveTo('abortableError');
    }
    return failure;
  }

  private failInit(error: unknown): never {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (failure instanceof KafkaFatalProducerError || !isRetriableError(failure)) {
      this.failure = failure instanceof KafkaFatalProducerError ? failure : new KafkaFatalProducerError(`initTransactions failed: ${failure.message}`, -1, { cause: failure });
      this.moveTo('fatalError');
      throw this.failure;
    }
    this.moveTo('uninitialized');
    throw failure;
  }

  private abortableFailure(): Error {
    return this.failure instanceof KafkaTransactionAbortableError
      ? this.failure
      : new KafkaTransactionAbortableError(`the transaction must be aborted: ${this.failure?.message ?? 'unknown failure'}`, { cause: this.failure });
  }

  private throwIfFatal(): void {
    if (this.stateValue === 'fatalError') throw this.failure ?? new KafkaFatalProducerError('the producer failed earlier', -1);
  }

  private moveTo(next: TransactionState): void {
    if (!TRANSITIONS[this.stateValue].includes(next)) throw new Error(`assertion: transaction state ${this.stateValue} cannot move to ${next}`);
    this.stateValue = next;
  }
}
