// A small RecordBatch v2 encoder for the log tests: real record encoding (so timestamp lookups
// can look inside a batch), correct CRC, no compression unless a test fakes the attribute.
import {
  BATCH_HEADER_BYTES,
  BATCH_OFFSETS,
  CURRENT_MAGIC,
  readBatchHeader,
  rewriteBatchCrc,
} from '../../../core/records/header.ts';

export interface TestRecord {
  timestamp: bigint;
  value: Buffer;
}

export interface TestBatchOptions {
  baseOffset?: bigint;
  /** Attribute bits to set (e.g. a compression codec) without changing the bytes. */
  attributes?: number;
}

function zigzag(value: bigint): number[] {
  let n = value >= 0n ? value << 1n : (-value << 1n) - 1n;
  const bytes: number[] = [];
  while (n >= 0x80n) {
    bytes.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  bytes.push(Number(n));
  return bytes;
}

function encodeRecord(record: TestRecord, offsetDelta: number, baseTimestamp: bigint): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]),
    Buffer.from(zigzag(record.timestamp - baseTimestamp)),
    Buffer.from(zigzag(BigInt(offsetDelta))),
    Buffer.from(zigzag(-1n)),
    Buffer.from(zigzag(BigInt(record.value.length))),
    record.value,
    Buffer.from(zigzag(0n)),
  ]);
  return Buffer.concat([Buffer.from(zigzag(BigInt(body.length))), body]);
}

/** One batch holding `records`; offsets are placeholders the log overwrites unless given. */
export function makeBatch(records: readonly TestRecord[], options: TestBatchOptions = {}): Buffer {
  if (records.length === 0) throw new Error('a batch needs records');
  const baseTimestamp = records[0]!.timestamp;
  let maxTimestamp = baseTimestamp;
  for (const record of records) if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
  const body = Buffer.concat(records.map((record, i) => encodeRecord(record, i, baseTimestamp)));
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + body.length);
  batch.writeBigInt64BE(options.baseOffset ?? 0n, BATCH_OFFSETS.baseOffset);
  batch.writeInt32BE(batch.length - 12, BATCH_OFFSETS.batchLength);
  batch.writeInt32BE(-1, BATCH_OFFSETS.partitionLeaderEpoch);
  batch.writeInt8(CURRENT_MAGIC, BATCH_OFFSETS.magic);
  batch.writeInt16BE(options.attributes ?? 0, BATCH_OFFSETS.attributes);
  batch.writeInt32BE(records.length - 1, BATCH_OFFSETS.lastOffsetDelta);
  batch.writeBigInt64BE(baseTimestamp, BATCH_OFFSETS.baseTimestamp);
  batch.writeBigInt64BE(maxTimestamp, BATCH_OFFSETS.maxTimestamp);
  batch.writeBigInt64BE(-1n, BATCH_OFFSETS.producerId);
  batch.writeInt16BE(-1, BATCH_OFFSETS.producerEpoch);
  batch.writeInt32BE(-1, BATCH_OFFSETS.baseSequence);
  batch.writeInt32BE(records.length, BATCH_OFFSETS.recordCount);
  body.copy(batch, BATCH_HEADER_BYTES);
  rewriteBatchCrc(batch, 0, batch.length);
  return batch;
}

/** A batch of `count` records with equal timestamps and values of `valueBytes` bytes. */
export function simpleBatch(count: number, timestamp: bigint, valueBytes = 10, fill = 0x61): Buffer {
  const records = Array.from({ length: count }, () => ({ timestamp, value: Buffer.alloc(valueBytes, fill) }));
  return makeBatch(records);
}

export interface ParsedBatch {
  baseOffset: bigint;
  lastOffset: bigint;
  maxTimestamp: bigint;
  sizeBytes: number;
}

/** Splits raw log bytes into batch headers, failing on anything but whole batches. */
export function parseBatches(records: Buffer): ParsedBatch[] {
  const batches: ParsedBatch[] = [];
  let at = 0;
  while (at < records.length) {
    const header = readBatchHeader(records, at);
    const sizeBytes = 12 + header.batchLength;
    if (at + sizeBytes > records.length) throw new Error(`partial batch at ${at}`);
    batches.push({
      baseOffset: header.baseOffset,
      lastOffset: header.baseOffset + BigInt(header.lastOffsetDelta),
      maxTimestamp: header.maxTimestamp,
      sizeBytes,
    });
    at += sizeBytes;
  }
  return batches;
}
