// The fixed 61-byte header of a RecordBatch v2 (magic 2), read and patched in place.
//
// RecordBatch =>
//   baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 | crc u32 |
//   attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
//   producerId i64 | producerEpoch i16 | baseSequence i32 | recordCount i32 | records...
//
// batchLength counts the bytes after the batchLength field itself, so a batch occupies
// 12 + batchLength bytes. The CRC-32C covers everything from attributes to the end.
import { crc32c } from '@node-rs/crc32';

export const BATCH_OFFSETS = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

/** Bytes before batchLength's count starts: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD = 12;
export const BATCH_HEADER_BYTES = 61;
export const CURRENT_MAGIC = 2;

export const ATTRIBUTE_COMPRESSION_MASK = 0x07;
export const ATTRIBUTE_LOG_APPEND_TIME = 0x08;
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
export const ATTRIBUTE_CONTROL = 0x20;

export interface BatchHeader {
  baseOffset: bigint;
  /** Bytes after this field; the whole batch is BATCH_LOG_OVERHEAD + batchLength bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** Reads the header of the batch starting at `position`. The caller checks bounds first. */
export function readBatchHeader(buffer: Buffer, position = 0): BatchHeader {
  return {
    baseOffset: buffer.readBigInt64BE(position + BATCH_OFFSETS.baseOffset),
    batchLength: buffer.readInt32BE(position + BATCH_OFFSETS.batchLength),
    partitionLeaderEpoch: buffer.readInt32BE(position + BATCH_OFFSETS.partitionLeaderEpoch),
    magic: buffer.readInt8(position + BATCH_OFFSETS.magic),
    crc: buffer.readUInt32BE(position + BATCH_OFFSETS.crc),
    attributes: buffer.readInt16BE(position + BATCH_OFFSETS.attributes),
    lastOffsetDelta: buffer.readInt32BE(position + BATCH_OFFSETS.lastOffsetDelta),
    baseTimestamp: buffer.readBigInt64BE(position + BATCH_OFFSETS.baseTimestamp),
    maxTimestamp: buffer.readBigInt64BE(position + BATCH_OFFSETS.maxTimestamp),
    producerId: buffer.readBigInt64BE(position + BATCH_OFFSETS.producerId),
    producerEpoch: buffer.readInt16BE(position + BATCH_OFFSETS.producerEpoch),
    baseSequence: buffer.readInt32BE(position + BATCH_OFFSETS.baseSequence),
    recordCount: buffer.readInt32BE(position + BATCH_OFFSETS.recordCount),
  };
}

/** Total bytes of the batch at `position`, or -1 when fewer than 12 bytes remain. */
export function batchSizeAt(buffer: Buffer, position = 0): number {
  if (buffer.length - position < BATCH_LOG_OVERHEAD) return -1;
  return BATCH_LOG_OVERHEAD + buffer.readInt32BE(position + BATCH_OFFSETS.batchLength);
}

/** CRC-32C of attributes..end for the batch at `position` of `size` bytes. */
export function computeBatchCrc(buffer: Buffer, position: number, size: number): number {
  return crc32c(buffer.subarray(position + BATCH_OFFSETS.attributes, position + size)) >>> 0;
}

/** Recomputes and stores the CRC after a header field covered by it was changed. */
export function rewriteBatchCrc(buffer: Buffer, position: number, size: number): void {
  buffer.writeUInt32BE(computeBatchCrc(buffer, position, size), position + BATCH_OFFSETS.crc);
}

/** baseOffset and partitionLeaderEpoch lie outside the CRC, so patching them keeps it valid. */
export function setBaseOffset(buffer: Buffer, position: number, baseOffset: bigint): void {
  buffer.writeBigInt64BE(baseOffset, position + BATCH_OFFSETS.baseOffset);
}

export function setPartitionLeaderEpoch(buffer: Buffer, position: number, epoch: number): void {
  buffer.writeInt32BE(epoch, position + BATCH_OFFSETS.partitionLeaderEpoch);
}

/**
 * Marks the batch as LogAppendTime and stores the broker's append time in maxTimestamp, as a
 * broker does for topics with message.timestamp.type=LogAppendTime. Both fields are covered
 * by the CRC, so it is recomputed.
 */
export function setLogAppendTime(buffer: Buffer, position: number, size: number, timestamp: bigint): void {
  const attributes = buffer.readInt16BE(position + BATCH_OFFSETS.attributes);
  buffer.writeInt16BE(attributes | ATTRIBUTE_LOG_APPEND_TIME, position + BATCH_OFFSETS.attributes);
  buffer.writeBigInt64BE(timestamp, position + BATCH_OFFSETS.maxTimestamp);
  rewriteBatchCrc(buffer, position, size);
}

export function compressionOf(attributes: number): number {
  return attributes & ATTRIBUTE_COMPRESSION_MASK;
}

export function isTransactional(attributes: number): boolean {
  return (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
}

export function isControl(attributes: number): boolean {
  return (attributes & ATTRIBUTE_CONTROL) !== 0;
}
