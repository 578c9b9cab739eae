// Transactions in the log cleaner, by the rules of KIP-98 and Kafka's log cleaner.
//
// Aborted data: a transactional data batch of producer P lies in an aborted transaction when an
// entry of the aborted-transaction index for P spans it (from the transaction's first offset to
// its abort marker; a producer has one transaction open at a time, so the span is exact). Such
// batches never enter the offset map (an aborted write of key K must not make the cleaner drop
// the committed record of K that read_committed consumers rely on) and are dropped whole from the
// cleaned segment.
//
// Markers: a transaction's control batch stays while any data batch of the transaction remains.
// A reader needs an abort marker to know where the producer's aborted records end, and a broker
// replaying the log to rebuild producer state needs a commit marker to see the transaction closed.
// Once the data is gone the marker follows tombstones (KIP-534): the first pass that finds it
// without data stamps a delete horizon (now + delete.retention.ms) into it, and a pass after the
// horizon removes it, so a consumer that read the data before it went still has that long to see
// the marker. The index entry of a removed abort marker is removed with it.
//
// Every pass rewrites the log from its first segment, so when the cleaner reaches a marker it has
// already seen every data batch of that transaction still in the log.
import { decodeBatch, readControlRecord } from '../../core/records/batch.ts';
import { CompressionCodec } from '../../core/records/compression.ts';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSETS,
  compressionOf,
  isControl,
  isTransactional,
  rewriteBatchCrc,
} from '../../core/records/header.ts';
import { type BatchRecord, sizeOfRecord, writeRecord } from '../../core/records/record.ts';
import type { BatchInfo } from './batch-scan.ts';
import { ATTRIBUTE_DELETE_HORIZON, deleteHorizonOf } from './compaction.ts';
import type { AbortedTransactionEntry } from './txn-index.ts';

/** Answers "is this batch aborted data?" for batches visited in offset order. */
export class AbortedBatches {
  /** Per producer, its aborted transactions by first offset, and how many lie behind the walk. */
  readonly #byProducer = new Map<bigint, { entries: AbortedTransactionEntry[]; passed: number }>();

  constructor(entries: readonly AbortedTransactionEntry[]) {
    for (const entry of entries) {
      const known = this.#byProducer.get(entry.producerId);
      if (known === undefined) this.#byProducer.set(entry.producerId, { entries: [entry], passed: 0 });
      else known.entries.push(entry);
    }
    for (const known of this.#byProducer.values()) known.entries.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  }

  /** True for a transactional data batch inside an aborted transaction of its producer. */
  isAborted(buffer: Buffer, info: BatchInfo): boolean {
    if (!isTransactional(info.attributes) || isControl(info.attributes)) return false;
    const known = this.#byProducer.get(buffer.readBigInt64BE(info.position + BATCH_OFFSETS.producerId));
    if (known === undefined) return false;
    // Batches come in offset order, so transactions that ended before this one never matter again.
    while (known.passed < known.entries.length && (known.entries[known.passed] as AbortedTransactionEntry).lastOffset < info.baseOffset) {
      known.passed += 1;
    }
    const entry = known.entries[known.passed];
    return entry !== undefined && entry.firstOffset <= info.baseOffset;
  }
}

export type MarkerOutcome =
  | { kind: 'kept'; deleteHorizonMs: number | null }
  | { kind: 'stamped'; bytes: Buffer; deleteHorizonMs: number }
  | { kind: 'removed'; abort: boolean };

/**
 * Follows, per producer, whether the cleaned output kept any data batch of its current
 * transaction, and decides each marker's fate from that. One instance serves one pass.
 */
export class MarkerRetention {
  /** Producers with a transactional data batch kept since their last marker. */
  readonly #dataKept = new Set<bigint>();

  constructor(private readonly nowMs: number, private readonly deleteRetentionMs: number) {}

  /** Notes a transactional data batch the output keeps (at least one record of it). */
  dataKept(buffer: Buffer, info: BatchInfo): void {
    this.#dataKept.add(buffer.readBigInt64BE(info.position + BATCH_OFFSETS.producerId));
  }

  /** The fate of the control batch `info` in `buffer`; it ends its producer's transaction. */
  marker(buffer: Buffer, info: BatchInfo): MarkerOutcome {
    const decoded = decodeBatch(buffer, info.position);
    const horizon = deleteHorizonOf(decoded.header);
    const record = decoded.records[0];
    // A marker is one record; other control types end no transaction and are kept as they are.
    const control = record === undefined || decoded.records.length !== 1 ? null : readControlRecord(record);
    if (control === null || control.type === 'unknown') return { kind: 'kept', deleteHorizonMs: null };
    const dataRemains = this.#dataKept.delete(decoded.header.producerId);
    // The broker writes markers uncompressed; a compressed one is kept as it is, which is always safe.
    if (dataRemains || compressionOf(info.attributes) !== CompressionCodec.None) return { kind: 'kept', deleteHorizonMs: horizon };
    if (horizon !== null && horizon <= this.nowMs) return { kind: 'removed', abort: control.type === 'abort' };
    if (horizon !== null) return { kind: 'kept', deleteHorizonMs: horizon };
    const stampedHorizon = this.nowMs + this.deleteRetentionMs;
    const bytes = withDeleteHorizon(buffer.subarray(info.position, info.position + info.sizeBytes), decoded.records, stampedHorizon);
    return { kind: 'stamped', bytes, deleteHorizonMs: stampedHorizon };
  }
}

/**
 * A copy of the uncompressed batch `batch` whose baseTimestamp holds `horizonMs` (attribute bit
 * 6 set), each record's timestamp delta rebased so that its timestamp stays the same.
 */
function withDeleteHorizon(batch: Buffer, records: readonly BatchRecord[], horizonMs: number): Buffer {
  const oldBase = Number(batch.readBigInt64BE(BATCH_OFFSETS.baseTimestamp));
  const rebased = records.map((record) => ({ ...record, timestampDelta: oldBase + record.timestampDelta - horizonMs }));
  const recordsBytes = rebased.reduce((sum, record) => sum + sizeOfRecord(record), 0);
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes);
  batch.copy(out, 0, 0, BATCH_HEADER_BYTES);
  let at = BATCH_HEADER_BYTES;
  for (const record of rebased) at = writeRecord(out, record, at);
  if (at !== out.length) throw new Error(`log cleaner: stamped marker is ${at} bytes, expected ${out.length}`);
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD, BATCH_OFFSETS.batchLength);
  out.writeInt16BE(batch.readInt16BE(BATCH_OFFSETS.attributes) | ATTRIBUTE_DELETE_HORIZON, BATCH_OFFSETS.attributes);
  out.writeBigInt64BE(BigInt(horizonMs), BATCH_OFFSETS.baseTimestamp);
  rewriteBatchCrc(out, 0, out.length);
  return out;
}
