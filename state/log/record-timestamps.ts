// Finds the first record of one uncompressed batch whose timestamp reaches a target, for
// ListOffsets by timestamp. This is the only place the log looks inside a batch, and it reads
// just each record's length, attributes, timestampDelta and offsetDelta.
//
// Record =>
//   length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
//   keyLength varint | key | valueLength varint | value | headerCount varint | headers
// (varints are zigzag-encoded; `length` counts the bytes after itself)
import {
  ATTRIBUTE_LOG_APPEND_TIME,
  BATCH_OFFSETS,
  compressionOf,
  readBatchHeader,
} from '../../core/records/header.ts';

export interface OffsetAndTimestamp {
  offset: bigint;
  timestamp: bigint;
}

/**
 * The first record in `batch` (one whole batch) with timestamp >= target and offset >= minOffset
 * (the log start offset may fall inside a batch). Compressed batches
 * are answered at batch granularity: their base offset and maxTimestamp, so a consumer that
 * seeks there sees every qualifying record, possibly after a few older ones of the same batch.
 */
export function firstRecordAtOrAfter(batch: Buffer, target: bigint, minOffset = 0n): OffsetAndTimestamp | null {
  const header = readBatchHeader(batch, 0);
  const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
  if (header.maxTimestamp < target || lastOffset < minOffset) return null;
  const wholeBatch = { offset: header.baseOffset < minOffset ? minOffset : header.baseOffset, timestamp: header.maxTimestamp };
  if ((header.attributes & ATTRIBUTE_LOG_APPEND_TIME) !== 0 || compressionOf(header.attributes) !== 0) return wholeBatch;
  try {
    const bounds = { baseOffset: header.baseOffset, baseTimestamp: header.baseTimestamp, target, minOffset };
    const found = scanRecords(batch, header.recordCount, bounds);
    if (found !== null) return found;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  // Only a batch whose records disagree with its header gets here (or one whose qualifying
  // record lies below minOffset); answering with the batch loses no data, skipping it might.
  return wholeBatch;
}

interface ScanBounds {
  baseOffset: bigint;
  baseTimestamp: bigint;
  target: bigint;
  minOffset: bigint;
}

function scanRecords(batch: Buffer, recordCount: number, bounds: ScanBounds): OffsetAndTimestamp | null {
  const cursor: { at: number } = { at: BATCH_OFFSETS.records };
  for (let i = 0; i < recordCount && cursor.at < batch.length; i += 1) {
    const length = Number(readZigzag(batch, cursor));
    const bodyStart = cursor.at;
    cursor.at += 1;
    const timestamp = bounds.baseTimestamp + readZigzag(batch, cursor);
    const offset = bounds.baseOffset + readZigzag(batch, cursor);
    if (timestamp >= bounds.target && offset >= bounds.minOffset) return { offset, timestamp };
    cursor.at = bodyStart + length;
  }
  return null;
}

const VARINT_BYTES_MAX = 10;

/** Reads one zigzag varint/varlong as a bigint and advances the cursor. */
export function readZigzag(buffer: Buffer, cursor: { at: number }): bigint {
  let value = 0n;
  let shift = 0n;
  for (let i = 0; i < VARINT_BYTES_MAX; i += 1) {
    const byte = buffer[cursor.at];
    if (byte === undefined) throw new RangeError('varint runs past the end of the batch');
    cursor.at += 1;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return (value >> 1n) ^ -(value & 1n);
    shift += 7n;
  }
  throw new RangeError('varint longer than 10 bytes');
}
