// Keyed batches and whole-log reads for the compaction tests.
import { consumerRecords, decodeBatch, encodeBatch, iterateBatches, type RecordInput } from '../../../core/records/batch.ts';
import type { CompressionCodec } from '../../../core/records/compression.ts';
import type { BatchHeader } from '../../../core/records/header.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';

export interface KeyedRecord {
  key: string;
  /** null is a tombstone. */
  value: string | null;
  timestamp?: number;
}

export interface KeyedBatchOptions {
  compression?: CompressionCodec;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
}

export function keyedBatch(records: readonly KeyedRecord[], timestamp: number, options: KeyedBatchOptions = {}): Buffer {
  const inputs: RecordInput[] = records.map((record) => ({ key: record.key, value: record.value, timestamp: record.timestamp ?? timestamp }));
  return encodeBatch({ records: inputs, baseTimestamp: timestamp, ...options });
}

export interface ReadRecord {
  offset: bigint;
  timestamp: bigint;
  key: string | null;
  value: string | null;
  batch: BatchHeader;
}

/**
 * Every record from the log start to the log end, fetch by fetch, each batch decoded with its
 * CRC checked. Fails if a fetch stalls before the end.
 */
export function readAll(log: PartitionLog, maxBytes = 1 << 20): ReadRecord[] {
  const records: ReadRecord[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = log.read(offset, maxBytes);
    if (result.status !== 'ok') throw new Error(`read at ${offset}: ${result.status}`);
    if (result.records.length === 0) {
      if (result.nextOffset === offset) break;
      offset = result.nextOffset;
      continue;
    }
    for (const location of iterateBatches(result.records)) {
      const decoded = decodeBatch(result.records, location.position, { verifyCrc: true });
      for (const record of consumerRecords(decoded)) {
        records.push({
          offset: record.offset,
          timestamp: record.timestamp,
          key: record.key === null ? null : record.key.toString('utf8'),
          value: record.value === null ? null : record.value.toString('utf8'),
          batch: decoded.header,
        });
      }
    }
    offset = result.nextOffset;
  }
  return records;
}

export { seededRandom } from '../../helpers/random.ts';
