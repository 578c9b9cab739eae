// What compaction does to one record batch: drop the records a later record of the same key
// supersedes, drop tombstones whose delete horizon has passed, and stamp a delete horizon on a
// batch that keeps a tombstone for the first time. Pure: bytes in, bytes out.
//
// A batch that loses records keeps everything that identifies it: baseOffset, partition leader
// epoch, compression codec, timestamp type, transactional flag, producerId, producerEpoch and
// baseSequence, and every surviving record keeps its offsetDelta. Keeping baseOffset even when
// the first record went is what Kafka does for magic 2: a record's sequence number is
// baseSequence + offsetDelta, so both must stay put for the producer state to be rebuilt from the
// log. lastOffsetDelta and recordCount describe the survivors.
//
// Tombstones (KIP-534's way): the first time the cleaner keeps a tombstone, it writes
// now + delete.retention.ms into the batch's baseTimestamp and sets attribute bit 6; record
// timestamp deltas are rewritten against the new base, so every record keeps its timestamp. A
// later pass whose clock has reached that horizon removes the tombstones. Consumers thus have
// delete.retention.ms from the first cleaning (not from the write) to see a delete, and the rule
// needs no file modification times.
import { CompressionCodec, compress, isCompressionCodec } from '../../core/records/compression.ts';
import { decodeBatch } from '../../core/records/batch.ts';
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_LOG_APPEND_TIME,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD,
  BATCH_OFFSETS,
  compressionOf,
  rewriteBatchCrc,
  type BatchHeader,
} from '../../core/records/header.ts';
import { sizeOfRecord, writeRecord, type BatchRecord } from '../../core/records/record.ts';

/** Kafka's DefaultRecordBatch delete-horizon flag: baseTimestamp holds the delete horizon. */
export const ATTRIBUTE_DELETE_HORIZON = 0x40;

export interface CompactionRules {
  /**
   * The latest offset of each key in the part of the log being deduplicated, keys as latin1
   * strings (one character per byte, so equal strings are equal bytes). Offsets are held as
   * numbers: exact below 2^53, far beyond any offset a partition can reach.
   */
  latestOffsets: ReadonlyMap<string, number>;
  nowMs: number;
  deleteRetentionMs: number;
}

export type BatchOutcome =
  | { kind: 'unchanged'; deleteHorizonMs: number | null; recordCount: number }
  | { kind: 'removed'; removedRecords: number; removedTombstones: number }
  | { kind: 'rewritten'; bytes: Buffer; deleteHorizonMs: number | null; removedRecords: number; removedTombstones: number };

/** The delete horizon of a batch, or null when none was stamped. */
export function deleteHorizonOf(header: Pick<BatchHeader, 'attributes' | 'baseTimestamp'>): number | null {
  return (header.attributes & ATTRIBUTE_DELETE_HORIZON) === 0 ? null : Number(header.baseTimestamp);
}

/** Latin1 maps every byte to one character, so the string is a lossless, cheap map key. */
export function keyOf(key: Buffer): string {
  return key.toString('latin1');
}

/**
 * Applies the rules to the batch of `size` bytes at `position` (CRC checked on the way in).
 * Control batches are kept as they are; transaction markers get their own rules later.
 */
export function compactBatch(buffer: Buffer, position: number, size: number, rules: CompactionRules): BatchOutcome {
  const attributes = buffer.readInt16BE(position + BATCH_OFFSETS.attributes);
  if ((attributes & ATTRIBUTE_CONTROL) !== 0) return { kind: 'unchanged', deleteHorizonMs: null, recordCount: 1 };
  const decoded = decodeBatch(buffer, position);
  const { header, records } = decoded;
  if (decoded.size !== size) throw new Error(`compaction: batch at ${header.baseOffset} is ${decoded.size} bytes, expected ${size}`);
  const horizon = deleteHorizonOf(header);
  const expired = horizon !== null && horizon <= rules.nowMs;
  const baseOffset = Number(header.baseOffset);
  const kept: BatchRecord[] = [];
  let removedTombstones = 0;
  let keptTombstones = 0;
  for (const record of records) {
    const latest = record.key === null ? undefined : rules.latestOffsets.get(keyOf(record.key));
    const superseded = latest !== undefined && baseOffset + record.offsetDelta < latest;
    if (superseded || (record.value === null && expired)) {
      if (record.value === null) removedTombstones += 1;
      continue;
    }
    if (record.value === null) keptTombstones += 1;
    kept.push(record);
  }
  const removedRecords = records.length - kept.length;
  if (kept.length === 0) return { kind: 'removed', removedRecords, removedTombstones };
  const newHorizon = keptTombstones === 0 ? null : (horizon ?? rules.nowMs + rules.deleteRetentionMs);
  if (removedRecords === 0 && newHorizon === horizon) {
    return { kind: 'unchanged', deleteHorizonMs: horizon, recordCount: records.length };
  }
  const bytes = encodeSurvivors(header, kept, newHorizon);
  return { kind: 'rewritten', bytes, deleteHorizonMs: newHorizon, removedRecords, removedTombstones };
}

/**
 * Builds the batch that holds `kept`, the surviving records of the batch `header` describes.
 * Record timestamps are preserved exactly: each delta is rebased onto the new baseTimestamp.
 */
function encodeSurvivors(header: BatchHeader, kept: readonly BatchRecord[], deleteHorizonMs: number | null): Buffer {
  const oldBase = Number(header.baseTimestamp);
  const firstKept = kept[0] as BatchRecord;
  const newBase = deleteHorizonMs ?? oldBase + firstKept.timestampDelta;
  const logAppendTime = (header.attributes & ATTRIBUTE_LOG_APPEND_TIME) !== 0;
  let maxTimestamp = logAppendTime ? Number(header.maxTimestamp) : -Infinity;
  let recordsBytes = 0;
  const rebased = kept.map((record): BatchRecord => {
    const timestamp = oldBase + record.timestampDelta;
    if (!logAppendTime && timestamp > maxTimestamp) maxTimestamp = timestamp;
    const copy = { ...record, timestampDelta: timestamp - newBase };
    recordsBytes += sizeOfRecord(copy);
    return copy;
  });
  let section: Buffer = Buffer.allocUnsafe(recordsBytes);
  let at = 0;
  for (const record of rebased) at = writeRecord(section, record, at);
  if (at !== recordsBytes) throw new Error(`compaction: wrote ${at} record bytes, expected ${recordsBytes}`);
  const codec = compressionOf(header.attributes);
  if (!isCompressionCodec(codec)) throw new Error(`compaction: codec ${codec} passed decoding but is unknown`);
  if (codec !== CompressionCodec.None) section = compress(codec, section);
  return assemble(header, section, {
    attributes: deleteHorizonMs === null ? header.attributes & ~ATTRIBUTE_DELETE_HORIZON : header.attributes | ATTRIBUTE_DELETE_HORIZON,
    baseTimestamp: BigInt(newBase),
    maxTimestamp: BigInt(maxTimestamp),
    lastOffsetDelta: (kept[kept.length - 1] as BatchRecord).offsetDelta,
    recordCount: kept.length,
  });
}

interface ChangedFields {
  attributes: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  lastOffsetDelta: number;
  recordCount: number;
}

/** The original header with the changed fields, the new records section and a fresh CRC. */
function assemble(header: BatchHeader, section: Buffer, changed: ChangedFields): Buffer {
  const size = BATCH_HEADER_BYTES + section.length;
  const batch = Buffer.allocUnsafe(size);
  batch.writeBigInt64BE(header.baseOffset, BATCH_OFFSETS.baseOffset);
  batch.writeInt32BE(size - BATCH_LOG_OVERHEAD, BATCH_OFFSETS.batchLength);
  batch.writeInt32BE(header.partitionLeaderEpoch, BATCH_OFFSETS.partitionLeaderEpoch);
  batch.writeInt8(header.magic, BATCH_OFFSETS.magic);
  batch.writeInt16BE(changed.attributes, BATCH_OFFSETS.attributes);
  batch.writeInt32BE(changed.lastOffsetDelta, BATCH_OFFSETS.lastOffsetDelta);
  batch.writeBigInt64BE(changed.baseTimestamp, BATCH_OFFSETS.baseTimestamp);
  batch.writeBigInt64BE(changed.maxTimestamp, BATCH_OFFSETS.maxTimestamp);
  batch.writeBigInt64BE(header.producerId, BATCH_OFFSETS.producerId);
  batch.writeInt16BE(header.producerEpoch, BATCH_OFFSETS.producerEpoch);
  batch.writeInt32BE(header.baseSequence, BATCH_OFFSETS.baseSequence);
  batch.writeInt32BE(changed.recordCount, BATCH_OFFSETS.recordCount);
  section.copy(batch, BATCH_OFFSETS.records);
  rewriteBatchCrc(batch, 0, size);
  return batch;
}
