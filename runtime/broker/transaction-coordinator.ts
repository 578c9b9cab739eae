// The transaction coordinator (KIP-98): producer ids and epochs of transactional ids, the
// partitions and groups of each open transaction, and its end. One object owns all of this
// state; handlers call it and turn its error codes into responses. Every change is written to
// __transaction_state first and takes effect in memory only once that write is committed (on
// every in-sync replica in a cluster), so the coordinator that loads the partition next finds
// every transaction where it was and completes it:
//
//   Empty / CompleteCommit / CompleteAbort --AddPartitions/AddOffsets--> Ongoing
//   Ongoing --EndTxn--> PrepareCommit | PrepareAbort --markers written--> CompleteCommit | CompleteAbort
//   Ongoing --timeout, or InitProducerId of a new producer--> epoch bumped, PrepareAbort, CompleteAbort
//
// While a transactional id's write is in flight, or its markers are being written, other
// requests for it are answered CONCURRENT_TRANSACTIONS, which clients retry. In a cluster the
// coordinator holds only the transactional ids of the __transaction_state partitions this
// broker leads: `load` adds a partition's ids when it becomes leader (completing the
// transactions a previous coordinator left prepared), `unload` drops them when it stops. A
// prepared transaction is decided: if its Complete record cannot be stored (too few in-sync
// replicas right after a takeover), the write is retried, and the sweep completes whatever
// prepared transaction nobody is completing, so no id stays CONCURRENT_TRANSACTIONS for good.
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import type { StoredTransaction, TransactionStatus } from './transaction-log.ts';

/** Epochs are int16; a producer whose epoch would pass this gets a new producer id. */
export const PRODUCER_EPOCH_MAX = 32_767;

export interface TransactionMarker {
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
  /** The leader epoch of the __transaction_state partition whose coordinator wrote it. */
  coordinatorEpoch: number;
}

export interface TransactionCoordinatorOptions {
  logger: Logger;
  /** transaction.max.timeout.ms: the longest transaction.timeout.ms a producer may ask for. */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms: idle transactional ids are forgotten after this. */
  idExpirationMs: number;
  /** How often open transactions are checked for their timeout. */
  cleanupIntervalMs: number;
  /** A producer id no broker has handed out, or null while none is at hand (a block is on its way). */
  nextProducerId: () => bigint | null;
  /**
   * Appends the transactional id's record (null: tombstone) to __transaction_state and
   * resolves once it is committed, with NONE or the error code the client should get.
   */
  persist: (transactionalId: string, value: StoredTransaction | null) => Promise<number>;
  /**
   * Writes a marker to one partition (wherever its leader is) and resolves true once it is
   * committed there or the partition no longer exists; false when this broker stopped
   * coordinating the transactional id before that, so the next coordinator finishes the job.
   */
  writeMarker: (transactionalId: string, topic: string, partition: number, marker: TransactionMarker) => Promise<boolean>;
  /** The coordinator epoch stamped on markers: the leader epoch of the id's partition here. */
  coordinatorEpoch?: (transactionalId: string) => number;
  /** Called after a Prepare state is stored and before its markers: the place a crash test aims at. */
  afterPrepare?: ((transactionalId: string, status: TransactionStatus) => void) | undefined;
  /** Pause between attempts to store a Complete record the ISR was too small for (default 100 ms). */
  completeRetryMs?: number;
  nowMs?: () => number;
}

/**
 * Attempts at storing a transaction's Complete record, COMPLETE_RETRY_MS apart and for at most
 * COMPLETE_RETRY_WINDOW_MS, before the request that ended it is answered with the retriable
 * error; the sweep goes on from there.
 */
const COMPLETE_ATTEMPTS = 50;
const COMPLETE_RETRY_MS = 100;
const COMPLETE_RETRY_WINDOW_MS = 5000;

export interface ProducerIdAnswer {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

interface TransactionMetadata extends StoredTransaction {
  transactionalId: string;
  /** A write or the markers of this id are in flight; other requests wait (CONCURRENT_TRANSACTIONS). */
  pending: boolean;
}

export class TransactionCoordinator {
  private readonly transactions = new Map<string, TransactionMetadata>();
  private timer: NodeJS.Timeout | null = null;
  private readonly nowMs: () => number;

  constructor(private readonly options: TransactionCoordinatorOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  // ---------------------------------------------------------------- loading

  /**
   * Takes the records read from (a partition of) __transaction_state and completes the
   * transactions a previous coordinator or a crash left prepared. Resolves when they are done.
   */
  async load(stored: Map<string, StoredTransaction>): Promise<void> {
    const loaded: TransactionMetadata[] = [];
    for (const [transactionalId, value] of stored) {
      const metadata: TransactionMetadata = { ...value, transactionalId, pending: false };
      this.transactions.set(transactionalId, metadata);
      loaded.push(metadata);
    }
    const prepared = loaded.filter((metadata) => isPreparing(metadata.status));
    const open = loaded.filter((metadata) => metadata.status === 'Ongoing').length;
    this.options.logger.info('loaded transaction state', { transactionalIds: loaded.length, prepared: prepared.length, open });
    await Promise.all(prepared.map((metadata) => this.writeMarkersAndComplete(metadata, metadata.status === 'PrepareCommit')));
  }

  /** This broker stopped leading a __transaction_state partition: its transactional ids go. */
  unload(storedHere: (transactionalId: string) => boolean): number {
    let count = 0;
    for (const transactionalId of [...this.transactions.keys()]) {
      if (!storedHere(transactionalId)) continue;
      this.transactions.delete(transactionalId);
      count += 1;
    }
    return count;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), this.options.cleanupIntervalMs);
    this.timer.unref();
  }

  shutdown(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  // ---------------------------------------------------------------- requests

  /**
   * InitProducerId with a transactional id: a new id gets a producer id at epoch 0; a known
   * one gets its epoch bumped, which fences the previous producer, and any transaction it
   * left open is aborted first. `expected` is the producer id and epoch a v3+ client re-
   * initialising itself sends; a mismatch means a newer producer took over.
   */
  async initProducerId(transactionalId: string, timeoutMs: number, expected: { producerId: bigint; producerEpoch: number } | null): Promise<ProducerIdAnswer> {
    const failure = (errorCode: number): ProducerIdAnswer => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    this.options.logger.debug('InitProducerId', { transactionalId, timeoutMs, status: this.transactions.get(transactionalId)?.status });
    if (timeoutMs <= 0 || timeoutMs > this.options.maxTimeoutMs) return failure(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const metadata = this.transactions.get(transactionalId);
    if (metadata === undefined) return this.initNew(transactionalId, timeoutMs);
    if (metadata.pending || isPreparing(metadata.status)) return failure(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (expected !== null && expected.producerId >= 0n
      && (expected.producerId !== metadata.producerId || expected.producerEpoch !== metadata.producerEpoch)) {
      return failure(ErrorCode.PRODUCER_FENCED);
    }
    // Aborting the open transaction bumps the epoch already (its markers carry the new one).
    const abortedOpen = metadata.status === 'Ongoing';
    if (abortedOpen) {
      const aborted = await this.fenceAndAbort(metadata, 'a new producer initialised the transactional id');
      if (aborted !== ErrorCode.NONE) return failure(aborted);
      if (metadata.pending) return failure(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const next = this.snapshot(metadata);
    if (!abortedOpen) next.producerEpoch = bumped(next.producerEpoch);
    if (next.producerEpoch >= PRODUCER_EPOCH_MAX) {
      const producerId = this.options.nextProducerId();
      if (producerId === null) return failure(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      next.producerId = producerId;
      next.producerEpoch = 0;
    }
    Object.assign(next, { timeoutMs, status: 'Empty', partitions: new Map(), lastUpdateMs: this.nowMs() });
    const errorCode = await this.transition(metadata, next);
    if (errorCode !== ErrorCode.NONE) return failure(errorCode);
    return { errorCode: ErrorCode.NONE, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch };
  }

  private async initNew(transactionalId: string, timeoutMs: number): Promise<ProducerIdAnswer> {
    const producerId = this.options.nextProducerId();
    if (producerId === null) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, producerId: -1n, producerEpoch: -1 };
    const metadata: TransactionMetadata = {
      transactionalId, producerId, producerEpoch: 0, timeoutMs, status: 'Empty', partitions: new Map(), lastUpdateMs: this.nowMs(), startMs: -1, pending: true,
    };
    // The id is held while its first record is written, so a second InitProducerId waits.
    this.transactions.set(transactionalId, metadata);
    const { transactionalId: _, pending: __, ...value } = metadata;
    const errorCode = await this.options.persist(transactionalId, value);
    metadata.pending = false;
    if (errorCode !== ErrorCode.NONE) {
      if (this.transactions.get(transactionalId) === metadata) this.transactions.delete(transactionalId);
      return { errorCode, producerId: -1n, producerEpoch: -1 };
    }
    return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  }

  /** AddPartitionsToTxn and AddOffsetsToTxn: the partitions join the transaction, which begins if it had not. */
  async addPartitions(transactionalId: string, producerId: bigint, producerEpoch: number, partitions: readonly { topic: string; partition: number }[]): Promise<number> {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    this.options.logger.debug('AddPartitionsToTxn', { transactionalId, producerEpoch, partitions: partitions.length, answer: typeof checked === 'number' ? checked : checked.status });
    if (typeof checked === 'number') return checked;
    if (checked.pending || isPreparing(checked.status)) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const now = this.nowMs();
    const next = this.snapshot(checked);
    if (checked.status !== 'Ongoing') {
      next.partitions = new Map();
      next.startMs = now;
    }
    let added = checked.status !== 'Ongoing';
    for (const { topic, partition } of partitions) {
      const list = next.partitions.get(topic) ?? [];
      if (!list.includes(partition)) { next.partitions.set(topic, [...list, partition]); added = true; }
    }
    if (!added) return ErrorCode.NONE;
    next.status = 'Ongoing';
    next.lastUpdateMs = now;
    return this.transition(checked, next);
  }

  /** TxnOffsetCommit may only add to an open transaction that holds the group's offsets partition. */
  checkOffsetCommit(transactionalId: string, producerId: bigint, producerEpoch: number, offsetsPartition: { topic: string; partition: number }): number {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    if (typeof checked === 'number') return checked;
    if (checked.status !== 'Ongoing' || !(checked.partitions.get(offsetsPartition.topic) ?? []).includes(offsetsPartition.partition)) {
      return ErrorCode.INVALID_TXN_STATE;
    }
    return ErrorCode.NONE;
  }

  /**
   * EndTxn: commits or aborts the open transaction; repeating the same end is answered as
   * success. The answer comes once the markers are committed on every partition, so a
   * read_committed consumer sees the outcome as soon as the producer hears of it.
   */
  async endTransaction(transactionalId: string, producerId: bigint, producerEpoch: number, commit: boolean): Promise<number> {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    this.options.logger.debug('EndTxn', { transactionalId, producerEpoch, commit, answer: typeof checked === 'number' ? checked : checked.status });
    if (typeof checked === 'number') return checked;
    if (checked.pending) return ErrorCode.CONCURRENT_TRANSACTIONS;
    switch (checked.status) {
      case 'Ongoing': {
        const prepared = await this.prepare(checked, commit, checked.producerEpoch);
        if (prepared !== ErrorCode.NONE) return prepared;
        return this.writeMarkersAndComplete(checked, commit);
      }
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'PrepareCommit':
      case 'PrepareAbort':
      case 'PrepareEpochFence':
        return ErrorCode.CONCURRENT_TRANSACTIONS;
      case 'Empty':
      case 'Dead':
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  /** Produce: may this producer's transactional batch open a transaction on the partition? */
  checkTransactionalWrite(write: { transactionalId: string | null; producerId: bigint; producerEpoch: number; topic: string; partition: number }): number {
    const metadata = write.transactionalId === null ? undefined : this.transactions.get(write.transactionalId);
    if (metadata === undefined || metadata.producerId !== write.producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (metadata.producerEpoch !== write.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (metadata.status !== 'Ongoing' || !(metadata.partitions.get(write.topic) ?? []).includes(write.partition)) return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /** Aborts transactions open longer than their timeout and forgets idle transactional ids. */
  sweep(): void {
    const now = this.nowMs();
    for (const metadata of [...this.transactions.values()]) {
      if (metadata.pending) continue;
      // A decided transaction nobody is completing (its Complete record could not be stored):
      // finish it, or its id answers CONCURRENT_TRANSACTIONS for good.
      if (isPreparing(metadata.status)) {
        this.options.logger.info('completing a prepared transaction', { transactionalId: metadata.transactionalId, status: metadata.status });
        void this.writeMarkersAndComplete(metadata, metadata.status === 'PrepareCommit');
        continue;
      }
      if (metadata.status === 'Ongoing' && now - metadata.startMs > metadata.timeoutMs) {
        void this.fenceAndAbort(metadata, `open longer than its timeout of ${metadata.timeoutMs} ms`);
        continue;
      }
      const idle = metadata.status === 'Empty' || metadata.status === 'CompleteCommit' || metadata.status === 'CompleteAbort';
      if (idle && now - metadata.lastUpdateMs > this.options.idExpirationMs) {
        metadata.pending = true;
        void this.options.persist(metadata.transactionalId, null).then((errorCode) => {
          metadata.pending = false;
          if (errorCode !== ErrorCode.NONE || this.transactions.get(metadata.transactionalId) !== metadata) return;
          this.transactions.delete(metadata.transactionalId);
          this.options.logger.info('transactional id expired', { transactionalId: metadata.transactionalId });
        });
      }
    }
  }

  // ---------------------------------------------------------------- internals

  private checkProducer(transactionalId: string, producerId: bigint, producerEpoch: number): TransactionMetadata | number {
    const metadata = this.transactions.get(transactionalId);
    if (metadata === undefined || metadata.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (metadata.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    return metadata;
  }

  /**
   * Aborts the open transaction with a bumped epoch: the markers carry the new epoch, so the
   * old producer's later writes to those partitions and its EndTxn are refused as fenced.
   */
  private async fenceAndAbort(metadata: TransactionMetadata, reason: string): Promise<number> {
    this.options.logger.info('aborting transaction', { transactionalId: metadata.transactionalId, producerId: metadata.producerId.toString(), reason });
    const prepared = await this.prepare(metadata, false, bumped(metadata.producerEpoch));
    if (prepared !== ErrorCode.NONE) return prepared;
    return this.writeMarkersAndComplete(metadata, false);
  }

  private prepare(metadata: TransactionMetadata, commit: boolean, producerEpoch: number): Promise<number> {
    const next = this.snapshot(metadata);
    next.status = commit ? 'PrepareCommit' : 'PrepareAbort';
    next.producerEpoch = producerEpoch;
    next.lastUpdateMs = this.nowMs();
    return this.transition(metadata, next).then((errorCode) => {
      if (errorCode === ErrorCode.NONE) this.options.afterPrepare?.(metadata.transactionalId, metadata.status);
      return errorCode;
    });
  }

  /**
   * Writes the markers of a prepared transaction to each of its partitions, then records it
   * complete. While this runs the id is pending; if this broker stops coordinating it midway,
   * the Prepare record stays and the next coordinator writes the markers again (idempotent
   * for the partitions that have them: a marker closes nothing twice).
   */
  private async writeMarkersAndComplete(metadata: TransactionMetadata, commit: boolean): Promise<number> {
    const marker: TransactionMarker = {
      producerId: metadata.producerId, producerEpoch: metadata.producerEpoch, commit,
      coordinatorEpoch: this.options.coordinatorEpoch?.(metadata.transactionalId) ?? 0,
    };
    metadata.pending = true;
    const writes: Promise<boolean>[] = [];
    for (const [topic, partitions] of metadata.partitions) {
      for (const partition of partitions) writes.push(this.options.writeMarker(metadata.transactionalId, topic, partition, marker));
    }
    const written = await Promise.all(writes);
    metadata.pending = false;
    if (written.includes(false)) return ErrorCode.NOT_COORDINATOR;
    return this.complete(metadata, commit);
  }

  /**
   * Stores the Complete record of a transaction whose markers are written. The outcome is
   * decided already, so a write refused for too few in-sync replicas (COORDINATOR_NOT_AVAILABLE:
   * a coordinator that just took over while the other replicas catch up) is tried again, the
   * id staying pending meanwhile, as Kafka's coordinator retries that append. After
   * COMPLETE_ATTEMPTS or COMPLETE_RETRY_WINDOW_MS the caller hears the error and the sweep
   * takes over; any other error (NOT_COORDINATOR) leaves the Prepare record to the next
   * coordinator.
   */
  private async complete(metadata: TransactionMetadata, commit: boolean): Promise<number> {
    const retryMs = this.options.completeRetryMs ?? COMPLETE_RETRY_MS;
    // Real time, not nowMs: a write that waits for the ISR can take COORDINATOR_WRITE_TIMEOUT_MS.
    const giveUpAt = Date.now() + COMPLETE_RETRY_WINDOW_MS;
    for (let attempt = 1; ; attempt++) {
      const next = this.snapshot(metadata);
      next.status = commit ? 'CompleteCommit' : 'CompleteAbort';
      next.partitions = new Map();
      next.lastUpdateMs = this.nowMs();
      const errorCode = await this.transition(metadata, next);
      const loaded = this.transactions.get(metadata.transactionalId) === metadata;
      if (errorCode !== ErrorCode.COORDINATOR_NOT_AVAILABLE || !loaded || attempt >= COMPLETE_ATTEMPTS || Date.now() >= giveUpAt) {
        if (errorCode !== ErrorCode.NONE) this.options.logger.info('transaction not completed yet', { transactionalId: metadata.transactionalId, status: metadata.status, attempts: attempt, errorCode });
        return errorCode;
      }
      metadata.pending = true;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      metadata.pending = false;
    }
  }

  /** A copy to change; it replaces the metadata only once it is stored. */
  private snapshot(metadata: TransactionMetadata): StoredTransaction {
    const { transactionalId: _, pending: __, ...value } = metadata;
    return { ...value, partitions: new Map(value.partitions) };
  }

  /** Stores `next` and, once committed, makes it the id's state. Others wait meanwhile. */
  private async transition(metadata: TransactionMetadata, next: StoredTransaction): Promise<number> {
    if (metadata.pending) throw new Error(`assertion: transactional id ${metadata.transactionalId} has a write in flight`);
    metadata.pending = true;
    const errorCode = await this.options.persist(metadata.transactionalId, next);
    metadata.pending = false;
    if (errorCode === ErrorCode.NONE) Object.assign(metadata, next);
    return errorCode;
  }
}

function bumped(epoch: number): number {
  // The epoch stops at the int16 maximum; InitProducerId then hands out a new producer id.
  return epoch < PRODUCER_EPOCH_MAX ? epoch + 1 : epoch;
}

function isPreparing(status: TransactionStatus): boolean {
  return status === 'PrepareCommit' || status === 'PrepareAbort' || status === 'PrepareEpochFence';
}

/**
 * Clients older than KIP-588 do not know PRODUCER_FENCED; they get INVALID_PRODUCER_EPOCH,
 * which they treat the same way. `fencedFromVersion` is the first version of the API that may
 * answer PRODUCER_FENCED.
 */
export function fencedErrorFor(errorCode: number, apiVersion: number, fencedFromVersion: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < fencedFromVersion ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode;
}
