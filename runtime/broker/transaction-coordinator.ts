// The transaction coordinator (KIP-98): producer ids and epochs of transactional ids, the
// partitions and groups of each open transaction, and its end. One object owns all of this
// state; handlers call it and turn its error codes into responses. Its records go to
// __transaction_state before anything else happens, so a restart finds every transaction
// where it was and completes it:
//
//   Empty / CompleteCommit / CompleteAbort --AddPartitions/AddOffsets--> Ongoing
//   Ongoing --EndTxn--> PrepareCommit | PrepareAbort --markers written--> CompleteCommit | CompleteAbort
//   Ongoing --timeout, or InitProducerId of a new producer--> epoch bumped, PrepareAbort, CompleteAbort
//
// Markers are written synchronously, one control batch per partition, so Prepare states last
// only while EndTxn runs, or across a crash, after which `recover` completes them.
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import type { StoredTransaction, TransactionStatus } from './transaction-log.ts';

/** Epochs are int16; a producer whose epoch would pass this gets a new producer id. */
export const PRODUCER_EPOCH_MAX = 32_767;

export interface TransactionMarker {
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
  /** The epoch of the coordinator that wrote it; a single node never changes coordinator. */
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
  nextProducerId: () => bigint;
  /** Durably appends the transactional id's record (null: tombstone) to __transaction_state. */
  persist: (transactionalId: string, value: StoredTransaction | null) => void;
  /** Writes a marker to one partition; partitions that no longer exist are skipped. */
  writeMarker: (topic: string, partition: number, marker: TransactionMarker) => void;
  /** Called after a Prepare state is stored and before its markers: the place a crash test aims at. */
  afterPrepare?: ((transactionalId: string, status: TransactionStatus) => void) | undefined;
  nowMs?: () => number;
}

export interface ProducerIdAnswer {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

interface TransactionMetadata extends StoredTransaction {
  transactionalId: string;
}

export class TransactionCoordinator {
  private readonly transactions = new Map<string, TransactionMetadata>();
  private timer: NodeJS.Timeout | null = null;
  private readonly nowMs: () => number;

  constructor(private readonly options: TransactionCoordinatorOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  // ---------------------------------------------------------------- start and stop

  /** Takes the records read from __transaction_state and completes what a crash interrupted. */
  recover(stored: Map<string, StoredTransaction>): void {
    for (const [transactionalId, value] of stored) this.transactions.set(transactionalId, { ...value, transactionalId });
    let completed = 0;
    for (const metadata of this.transactions.values()) {
      if (metadata.status === 'PrepareCommit') { this.writeMarkersAndComplete(metadata, true); completed += 1; }
      if (metadata.status === 'PrepareAbort' || metadata.status === 'PrepareEpochFence') { this.writeMarkersAndComplete(metadata, false); completed += 1; }
    }
    const open = [...this.transactions.values()].filter((m) => m.status === 'Ongoing').length;
    this.options.logger.info('loaded transaction state', { transactionalIds: this.transactions.size, completed, open });
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
  initProducerId(transactionalId: string, timeoutMs: number, expected: { producerId: bigint; producerEpoch: number } | null): ProducerIdAnswer {
    const failure = (errorCode: number): ProducerIdAnswer => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    this.options.logger.debug('InitProducerId', { transactionalId, timeoutMs, status: this.transactions.get(transactionalId)?.status });
    if (timeoutMs <= 0 || timeoutMs > this.options.maxTimeoutMs) return failure(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const now = this.nowMs();
    let metadata = this.transactions.get(transactionalId);
    if (metadata === undefined) {
      metadata = {
        transactionalId, producerId: this.options.nextProducerId(), producerEpoch: 0, timeoutMs, status: 'Empty',
        partitions: new Map(), lastUpdateMs: now, startMs: -1,
      };
      this.transactions.set(transactionalId, metadata);
      this.store(metadata);
      return { errorCode: ErrorCode.NONE, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch };
    }
    if (expected !== null && expected.producerId >= 0n
      && (expected.producerId !== metadata.producerId || expected.producerEpoch !== metadata.producerEpoch)) {
      return failure(ErrorCode.PRODUCER_FENCED);
    }
    if (isPreparing(metadata.status)) return failure(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (metadata.status === 'Ongoing') {
      this.fenceAndAbort(metadata, 'a new producer initialised the transactional id');
    } else {
      this.bumpEpoch(metadata);
    }
    if (metadata.producerEpoch >= PRODUCER_EPOCH_MAX) {
      metadata.producerId = this.options.nextProducerId();
      metadata.producerEpoch = 0;
    }
    metadata.timeoutMs = timeoutMs;
    metadata.status = 'Empty';
    metadata.partitions = new Map();
    metadata.lastUpdateMs = now;
    this.store(metadata);
    return { errorCode: ErrorCode.NONE, producerId: metadata.producerId, producerEpoch: metadata.producerEpoch };
  }

  /** AddPartitionsToTxn and AddOffsetsToTxn: the partitions join the transaction, which begins if it had not. */
  addPartitions(transactionalId: string, producerId: bigint, producerEpoch: number, partitions: readonly { topic: string; partition: number }[]): number {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    this.options.logger.debug('AddPartitionsToTxn', { transactionalId, producerEpoch, partitions: partitions.length, answer: typeof checked === 'number' ? checked : checked.status });
    if (typeof checked === 'number') return checked;
    if (isPreparing(checked.status)) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const now = this.nowMs();
    if (checked.status !== 'Ongoing') {
      checked.partitions = new Map();
      checked.startMs = now;
    }
    let added = checked.status !== 'Ongoing';
    for (const { topic, partition } of partitions) {
      let list = checked.partitions.get(topic);
      if (list === undefined) checked.partitions.set(topic, list = []);
      if (!list.includes(partition)) { list.push(partition); added = true; }
    }
    if (!added) return ErrorCode.NONE;
    checked.status = 'Ongoing';
    checked.lastUpdateMs = now;
    this.store(checked);
    return ErrorCode.NONE;
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

  /** EndTxn: commits or aborts the open transaction; repeating the same end is answered as success. */
  endTransaction(transactionalId: string, producerId: bigint, producerEpoch: number, commit: boolean): number {
    const checked = this.checkProducer(transactionalId, producerId, producerEpoch);
    this.options.logger.debug('EndTxn', { transactionalId, producerEpoch, commit, answer: typeof checked === 'number' ? checked : checked.status });
    if (typeof checked === 'number') return checked;
    switch (checked.status) {
      case 'Ongoing':
        this.prepare(checked, commit);
        this.writeMarkersAndComplete(checked, commit);
        return ErrorCode.NONE;
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
      if (metadata.status === 'Ongoing' && now - metadata.startMs > metadata.timeoutMs) {
        this.fenceAndAbort(metadata, `open longer than its timeout of ${metadata.timeoutMs} ms`);
        continue;
      }
      const idle = metadata.status === 'Empty' || metadata.status === 'CompleteCommit' || metadata.status === 'CompleteAbort';
      if (idle && now - metadata.lastUpdateMs > this.options.idExpirationMs) {
        this.transactions.delete(metadata.transactionalId);
        this.options.persist(metadata.transactionalId, null);
        this.options.logger.info('transactional id expired', { transactionalId: metadata.transactionalId });
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
  private fenceAndAbort(metadata: TransactionMetadata, reason: string): void {
    this.options.logger.info('aborting transaction', { transactionalId: metadata.transactionalId, producerId: metadata.producerId.toString(), reason });
    this.bumpEpoch(metadata);
    this.prepare(metadata, false);
    this.writeMarkersAndComplete(metadata, false);
  }

  /** The epoch stops at the int16 maximum; InitProducerId then hands out a new producer id. */
  private bumpEpoch(metadata: TransactionMetadata): void {
    if (metadata.producerEpoch < PRODUCER_EPOCH_MAX) metadata.producerEpoch += 1;
  }

  private prepare(metadata: TransactionMetadata, commit: boolean): void {
    metadata.status = commit ? 'PrepareCommit' : 'PrepareAbort';
    metadata.lastUpdateMs = this.nowMs();
    this.store(metadata);
    this.options.afterPrepare?.(metadata.transactionalId, metadata.status);
  }

  private writeMarkersAndComplete(metadata: TransactionMetadata, commit: boolean): void {
    const marker: TransactionMarker = { producerId: metadata.producerId, producerEpoch: metadata.producerEpoch, commit, coordinatorEpoch: 0 };
    for (const [topic, partitions] of metadata.partitions) {
      for (const partition of partitions) this.options.writeMarker(topic, partition, marker);
    }
    metadata.status = commit ? 'CompleteCommit' : 'CompleteAbort';
    metadata.partitions = new Map();
    metadata.lastUpdateMs = this.nowMs();
    this.store(metadata);
  }

  private store(metadata: TransactionMetadata): void {
    const { transactionalId: _, ...value } = metadata;
    this.options.persist(metadata.transactionalId, value);
  }
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
