// Producer state of one partition (KIP-98): for each producer id its epoch, the sequence ranges
// and offsets of its last few batches, and the first offset of its open transaction. (Aborted
// transactions are indexed per segment by the log itself, see state/log/txn-index.ts.) Everything here comes from batch headers (producerId,
// producerEpoch, baseSequence, lastOffsetDelta, the transactional and control bits), so the
// produce path never decodes records to keep it. The replica manager is the one owner: it asks
// `checkAppend` before an append and records the append (or marker) after it.
//
// The state survives restarts: a snapshot is written whenever the log rolls a segment and on
// clean shutdown (as Kafka does), and a start loads the latest snapshot and replays only the
// log tail after it, or the whole log when there is no usable snapshot.
import { LIMITS } from '../../core/limits.ts';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { decodeBatch, iterateBatches, readControlRecord } from '../../core/records/batch.ts';
import { isControl, isTransactional, type BatchHeader } from '../../core/records/header.ts';
import type { PartitionLog } from '../../state/log/partition-log.ts';

/** Kafka keeps the last five batches per producer: clients have at most five requests in flight. */
export const PRODUCER_BATCHES_KEPT = LIMITS.producerBatchesKept;
const SEQUENCE_MAX = 2 ** 31 - 1;
/** Bytes read per step when the state is rebuilt from the log. */
const REBUILD_READ_BYTES = 1024 * 1024;

interface BatchMetadata {
  firstSequence: number;
  lastSequence: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

interface ProducerEntry {
  producerId: bigint;
  /** The newest epoch seen on this partition, from data batches or transaction markers. */
  epoch: number;
  /** The last batches of `epoch`, oldest first; a new epoch starts an empty list. */
  batches: BatchMetadata[];
  /** First offset of this producer's open transaction on this partition, null when none. */
  openTransactionFirstOffset: bigint | null;
  /** When the producer last wrote here (ms); idle producers are forgotten after producer.id.expiration.ms. */
  lastAppendMs: number;
  /**
   * The coordinator epoch of the producer's last transaction marker here, -1 before any. A
   * marker with a lower one comes from a deposed coordinator and is refused.
   */
  coordinatorEpoch: number;
}

/**
 * KIP-890: the transaction coordinator's word that a producer's ongoing transaction includes
 * this partition, asked before a transactional batch may open a transaction here when the
 * coordinator is on another broker. Begun before the question goes out; `verified` only if no
 * marker of the producer came in meanwhile (the transaction the answer was about has ended).
 */
export interface Verification {
  producerEpoch: number;
  verified: boolean;
}

export type AppendVerdict =
  | { kind: 'append' }
  /** The batch was appended before; the client gets the original offsets and nothing is written. */
  | { kind: 'duplicate'; firstOffset: bigint; lastOffset: bigint }
  | { kind: 'reject'; errorCode: number; message: string };

/** The sequence number of the batch's last record; sequences wrap from 2^31-1 to 0. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return baseSequence > SEQUENCE_MAX - lastOffsetDelta ? lastOffsetDelta - (SEQUENCE_MAX - baseSequence) - 1 : baseSequence + lastOffsetDelta;
}

function inSequence(lastSequence: number, nextSequence: number): boolean {
  return nextSequence === lastSequence + 1 || (nextSequence === 0 && lastSequence === SEQUENCE_MAX);
}

/** What checkAppend tracks of a producer while it walks the batches of one request. */
interface Pending {
  epoch: number;
  lastSequence: number | null;
  inTransaction: boolean;
}

export class ProducerStateTable {
  private readonly producers = new Map<bigint, ProducerEntry>();
  /** Producer id -> first offset of its open transaction; the minimum is the last stable offset. */
  private readonly openTransactions = new Map<bigint, bigint>();
  /**
   * Producer id -> its verification for the next transaction here. A transactional append that
   * opens the transaction uses it up, and a marker drops it: each transaction asks once.
   */
  private readonly verifications = new Map<bigint, Verification>();
  /** Where snapshots go; null for a table that is never persisted (tests). */
  private snapshotPath: string | null = null;
  /** The log's segment count at the last look; a change means it rolled (or retention ran). */
  private segmentCountSeen = 0;

  /**
   * Decides whether the batches of one produce request may be appended, as Kafka's
   * ProducerAppendInfo does: a batch equal to one of the producer's last five is a duplicate,
   * an older epoch is fenced, a new epoch must start at sequence 0, and otherwise the sequence
   * must follow the last one. Non-transactional writes inside an open transaction are refused.
   */
  checkAppend(headers: readonly BatchHeader[]): AppendVerdict {
    const pending = new Map<bigint, Pending>();
    for (const header of headers) {
      if (header.producerId < 0n) continue;
      const entry = this.producers.get(header.producerId);
      const duplicate = entry === undefined ? undefined : findDuplicate(entry, header);
      if (duplicate !== undefined) return { kind: 'duplicate', firstOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset };
      const current = pending.get(header.producerId) ?? (entry === undefined ? undefined : {
        epoch: entry.epoch,
        lastSequence: entry.batches.at(-1)?.lastSequence ?? null,
        inTransaction: entry.openTransactionFirstOffset !== null,
      });
      const problem = checkSequence(current, header);
      if (problem !== null) return problem;
      const transactional = isTransactional(header.attributes);
      const sameEpoch = current !== undefined && current.epoch === header.producerEpoch;
      if (!transactional && sameEpoch && current.inTransaction) {
        return { kind: 'reject', errorCode: ErrorCode.INVALID_TXN_STATE, message: `producer ${header.producerId} wrote a non-transactional batch inside its open transaction` };
      }
      pending.set(header.producerId, {
        epoch: header.producerEpoch,
        lastSequence: lastSequenceOf(header.baseSequence, header.lastOffsetDelta),
        inTransaction: transactional || (sameEpoch && current.inTransaction),
      });
    }
    return { kind: 'append' };
  }

  /** Records an appended data batch; its header carries the offset the log assigned. */
  recordAppend(header: BatchHeader, nowMs: number = Date.now()): void {
    if (header.producerId < 0n || isControl(header.attributes)) return;
    const entry = this.entryFor(header.producerId, header.producerEpoch);
    entry.lastAppendMs = nowMs;
    const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
    if (header.baseSequence >= 0) {
      entry.batches.push({
        firstSequence: header.baseSequence,
        lastSequence: lastSequenceOf(header.baseSequence, header.lastOffsetDelta),
        firstOffset: header.baseOffset,
        lastOffset,
      });
      if (entry.batches.length > PRODUCER_BATCHES_KEPT) entry.batches.shift();
    }
    if (isTransactional(header.attributes) && entry.openTransactionFirstOffset === null) {
      entry.openTransactionFirstOffset = header.baseOffset;
      this.openTransactions.set(header.producerId, header.baseOffset);
      this.verifications.delete(header.producerId);
    }
  }

  /** The producer's verification at this epoch, begun now unless one is (being) made already. */
  beginVerification(producerId: bigint, producerEpoch: number): Verification {
    const current = this.verifications.get(producerId);
    if (current !== undefined && current.producerEpoch === producerEpoch) return current;
    const verification: Verification = { producerEpoch, verified: false };
    this.verifications.set(producerId, verification);
    return verification;
  }

  /**
   * The coordinator's answer: confirmed, the partition is in the transaction; otherwise the
   * verification is dropped (nothing is kept for writes that were refused). Ignored when a
   * marker or a newer verification came since.
   */
  completeVerification(producerId: bigint, verification: Verification, confirmed: boolean): void {
    if (this.verifications.get(producerId) !== verification) return;
    if (confirmed) verification.verified = true;
    else this.verifications.delete(producerId);
  }

  /** May a transactional batch of this producer epoch open a transaction here without asking the coordinator again? */
  isVerified(producerId: bigint, producerEpoch: number): boolean {
    const verification = this.verifications.get(producerId);
    return verification !== undefined && verification.verified && verification.producerEpoch === producerEpoch;
  }

  /**
   * May a coordinator write this marker (Kafka's checks on an end-transaction marker)? A
   * marker whose coordinator epoch is below the one of the producer's last marker here comes
   * from a coordinator that lost its __transaction_state partition after a newer one finished
   * the transaction: TRANSACTION_COORDINATOR_FENCED. A producer epoch older than the one this
   * partition saw cannot belong to the current transaction: INVALID_PRODUCER_EPOCH.
   */
  checkMarker(marker: { producerId: bigint; producerEpoch: number; coordinatorEpoch: number }): number {
    const entry = this.producers.get(marker.producerId);
    if (entry === undefined) return ErrorCode.NONE;
    if (marker.coordinatorEpoch < entry.coordinatorEpoch) return ErrorCode.TRANSACTION_COORDINATOR_FENCED;
    if (marker.producerEpoch < entry.epoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    return ErrorCode.NONE;
  }

  /**
   * Records a transaction marker at `offset`: the producer's open transaction ends there, and
   * its coordinator epoch is the one later markers must reach. Returns the transaction's first
   * offset (the caller indexes an aborted one), or null when the producer had no open
   * transaction here. A marker with a newer epoch fences the producer's older epoch on this
   * partition too.
   */
  recordMarker(producerId: bigint, epoch: number, offset: bigint, commit: boolean, coordinatorEpoch: number): bigint | null {
    const entry = this.entryFor(producerId, epoch);
    if (coordinatorEpoch > entry.coordinatorEpoch) entry.coordinatorEpoch = coordinatorEpoch;
    this.verifications.delete(producerId);
    const firstOffset = entry.openTransactionFirstOffset;
    if (firstOffset === null) return null;
    if (firstOffset > offset) throw new Error(`assertion: producer ${producerId} transaction starts at ${firstOffset}, after its ${commit ? 'commit' : 'abort'} marker at ${offset}`);
    entry.openTransactionFirstOffset = null;
    this.openTransactions.delete(producerId);
    return firstOffset;
  }

  hasOpenTransaction(producerId: bigint): boolean {
    return this.openTransactions.has(producerId);
  }

  /** The first offset of the earliest open transaction, else the high watermark. */
  lastStableOffset(highWatermark: bigint): bigint {
    let stable = highWatermark;
    for (const firstOffset of this.openTransactions.values()) if (firstOffset < stable) stable = firstOffset;
    return stable;
  }

  /**
   * Forgets producers idle longer than `expirationMs` without an open transaction, so the
   * table does not grow with every producer that ever wrote (each kafkajs start is a new id).
   * Returns how many were removed.
   */
  expireProducers(nowMs: number, expirationMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.producers) {
      if (entry.openTransactionFirstOffset === null && nowMs - entry.lastAppendMs > expirationMs) {
        this.producers.delete(producerId);
        removed += 1;
      }
    }
    return removed;
  }

  /** Producers this partition remembers (for tests and diagnostics). */
  get producerCount(): number {
    return this.producers.size;
  }

  /** Producer ids with an open transaction on this partition (for tests and diagnostics). */
  get openTransactionCount(): number {
    return this.openTransactions.size;
  }

  private entryFor(producerId: bigint, epoch: number): ProducerEntry {
    let entry = this.producers.get(producerId);
    if (entry === undefined) {
      entry = { producerId, epoch, batches: [], openTransactionFirstOffset: null, lastAppendMs: Date.now(), coordinatorEpoch: -1 };
      this.producers.set(producerId, entry);
    } else if (epoch > entry.epoch) {
      entry.epoch = epoch;
      entry.batches = [];
    }
    return entry;
  }

  // ---------------------------------------------------------------- rebuild and snapshots

  /**
   * Replays batch headers from `fromOffset` to the log end; control batches are decoded (one
   * record each). `indexAborts`: batches a follower just copied from its leader, whose abort
   * markers still need their entries in the log's transaction index. A start-up replay of the
   * broker's own log passes false, since those entries were written with the markers.
   */
  replay(log: PartitionLog, fromOffset: bigint, indexAborts = true): void {
    let offset = fromOffset;
    while (offset < log.logEndOffset) {
      const read = log.read(offset, REBUILD_READ_BYTES, { minOneBatch: true });
      if (read.records.length === 0) break;
      const before = offset;
      for (const { position, header } of iterateBatches(read.records)) {
        this.replayBatch(read.records, position, header, indexAborts ? log : null);
        offset = header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
      }
      if (offset <= before) throw new Error(`assertion: producer state rebuild made no progress at offset ${before}`);
    }
  }

  private replayBatch(records: Buffer, position: number, header: BatchHeader, abortIndex: PartitionLog | null): void {
    if (header.producerId < 0n) return;
    // A replayed batch counts as written at its own timestamp, as far as expiry is concerned.
    if (!isControl(header.attributes)) { this.recordAppend(header, Number(header.maxTimestamp)); return; }
    const control = readControlRecord(decodeBatch(records, position).records[0]!);
    if (control.type === 'unknown') return;
    const firstOffset = this.recordMarker(header.producerId, header.producerEpoch, header.baseOffset, control.type === 'commit', control.coordinatorEpoch);
    if (abortIndex === null || control.type !== 'abort' || firstOffset === null) return;
    const lastStableOffset = this.lastStableOffset(header.baseOffset + 1n);
    abortIndex.appendAbortedTransaction({ producerId: header.producerId, firstOffset, lastOffset: header.baseOffset, lastStableOffset });
  }

  /**
   * Loads the snapshot when it still fits the log and replays the log after it. A snapshot
   * past the log end (the log lost an unflushed tail) or before the log start (retention) is
   * deleted, so it cannot be mistaken for a valid one once the log grows past it again.
   */
  static load(log: PartitionLog, snapshotPath: string): ProducerStateTable {
    const table = new ProducerStateTable();
    table.snapshotPath = snapshotPath;
    table.segmentCountSeen = log.segmentCount;
    const snapshot = readSnapshot(snapshotPath);
    const usable = snapshot !== null && snapshot.offset >= log.logStartOffset && snapshot.offset <= log.logEndOffset;
    if (usable) table.restore(snapshot);
    else rmSync(snapshotPath, { force: true });
    table.replay(log, usable ? snapshot.offset : log.logStartOffset, false);
    return table;
  }

  /** Called after every append: a rolled log gets a fresh snapshot, so a crash replays one segment at most. */
  afterAppend(log: PartitionLog): void {
    const segmentCount = log.segmentCount;
    if (segmentCount === this.segmentCountSeen) return;
    this.segmentCountSeen = segmentCount;
    if (this.snapshotPath !== null) this.writeSnapshot(this.snapshotPath, log.logEndOffset);
  }

  /** Writes the snapshot of a clean shutdown; empty logs need none. */
  snapshotOnClose(log: PartitionLog): void {
    if (this.snapshotPath !== null && log.logEndOffset > log.logStartOffset) this.writeSnapshot(this.snapshotPath, log.logEndOffset);
  }

  /**
   * Writes the state as of `offset` (the log end offset) through a temporary file and a rename.
   * There is no fsync: a snapshot lost or torn by a power cut fails validation or predates a
   * flushed log end, and either way the log replay that follows makes the state right.
   */
  writeSnapshot(snapshotPath: string, offset: bigint): void {
    const snapshot = {
      version: 1,
      offset: offset.toString(),
      producers: [...this.producers.values()].map((entry) => ({
        producerId: entry.producerId.toString(),
        epoch: entry.epoch,
        batches: entry.batches.map((b) => [b.firstSequence, b.lastSequence, b.firstOffset.toString(), b.lastOffset.toString()]),
        openTransactionFirstOffset: entry.openTransactionFirstOffset?.toString() ?? null,
        lastAppendMs: entry.lastAppendMs,
        coordinatorEpoch: entry.coordinatorEpoch,
      })),
    };
    mkdirSync(path.dirname(snapshotPath), { recursive: true });
    const temporary = `${snapshotPath}.tmp`;
    writeFileSync(temporary, JSON.stringify(snapshot));
    renameSync(temporary, snapshotPath);
  }

  private restore(snapshot: Snapshot): void {
    for (const stored of snapshot.producers) {
      const producerId = BigInt(stored.producerId);
      const open = stored.openTransactionFirstOffset === null ? null : BigInt(stored.openTransactionFirstOffset);
      this.producers.set(producerId, {
        producerId,
        epoch: stored.epoch,
        batches: stored.batches.map(([firstSequence, lastSequence, firstOffset, lastOffset]) => ({
          firstSequence, lastSequence, firstOffset: BigInt(firstOffset), lastOffset: BigInt(lastOffset),
        })),
        openTransactionFirstOffset: open,
        lastAppendMs: stored.lastAppendMs,
        coordinatorEpoch: stored.coordinatorEpoch,
      });
      if (open !== null) this.openTransactions.set(producerId, open);
    }
  }
}

function findDuplicate(entry: ProducerEntry, header: BatchHeader): BatchMetadata | undefined {
  if (entry.epoch !== header.producerEpoch || header.baseSequence < 0) return undefined;
  const lastSequence = lastSequenceOf(header.baseSequence, header.lastOffsetDelta);
  return entry.batches.find((batch) => batch.firstSequence === header.baseSequence && batch.lastSequence === lastSequence);
}

function checkSequence(current: Pending | undefined, header: BatchHeader): AppendVerdict | null {
  const { producerId, producerEpoch, baseSequence } = header;
  if (current === undefined) {
    if (baseSequence === 0) return null;
    return { kind: 'reject', errorCode: ErrorCode.UNKNOWN_PRODUCER_ID, message: `no state for producer ${producerId} and its first batch has sequence ${baseSequence}` };
  }
  if (producerEpoch < current.epoch) {
    return { kind: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `producer ${producerId} epoch ${producerEpoch} is older than ${current.epoch}` };
  }
  if (producerEpoch > current.epoch) {
    if (baseSequence === 0) return null;
    return { kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${producerId} starts epoch ${producerEpoch} at sequence ${baseSequence}, not 0` };
  }
  const expected = current.lastSequence === null ? 0 : current.lastSequence + 1;
  if (current.lastSequence === null ? baseSequence === 0 : inSequence(current.lastSequence, baseSequence)) return null;
  return { kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${producerId} sent sequence ${baseSequence}, expected ${expected}` };
}

const SnapshotSchema = z.object({
  version: z.literal(1),
  offset: z.string().regex(/^\d+$/),
  producers: z.array(z.object({
    producerId: z.string(),
    epoch: z.number().int(),
    batches: z.array(z.tuple([z.number().int(), z.number().int(), z.string(), z.string()])),
    openTransactionFirstOffset: z.string().nullable(),
    lastAppendMs: z.number(),
    // Snapshots written before coordinator epochs were kept lack it: -1, as for a producer without markers.
    coordinatorEpoch: z.number().int().default(-1),
  })),
});

interface Snapshot extends Omit<z.output<typeof SnapshotSchema>, 'offset'> {
  offset: bigint;
}

/** A missing, torn or foreign snapshot is ignored: the log itself is the truth. */
function readSnapshot(snapshotPath: string): Snapshot | null {
  if (!existsSync(snapshotPath)) return null;
  try {
    const parsed = SnapshotSchema.parse(JSON.parse(readFileSync(snapshotPath, 'utf8')));
    return { ...parsed, offset: BigInt(parsed.offset) };
  } catch {
    return null;
  }
}
