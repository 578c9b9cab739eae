// Transactional batches, markers and a read_committed reader for the cleaner's transaction tests.
import { consumerRecords, decodeBatch, encodeBatch, encodeControlBatch, iterateBatches, readControlRecord } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { isControl, isTransactional } from '../../../core/records/header.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import type { KeyedRecord } from './keyed.ts';

/** A transactional data batch of `producerId` (epoch 0). */
export function transactionalBatch(producerId: bigint, records: readonly KeyedRecord[], baseSequence: number, timestamp: number,
  compression: CompressionCodec = CompressionCodec.None): Buffer {
  return encodeBatch({
    producerId, producerEpoch: 0, baseSequence, transactional: true, baseTimestamp: timestamp, compression,
    records: records.map((record) => ({ key: record.key, value: record.value, timestamp: record.timestamp ?? timestamp })),
  });
}

export function transactionMarker(producerId: bigint, type: 'commit' | 'abort', timestamp: number): Buffer {
  return encodeControlBatch({ type, producerId, producerEpoch: 0, coordinatorEpoch: 0, timestamp });
}

export interface CommittedRecord {
  offset: bigint;
  key: string | null;
  value: string | null;
}

export interface RawBatch {
  baseOffset: bigint;
  producerId: bigint;
  transactional: boolean;
  control: 'commit' | 'abort' | null;
  records: CommittedRecord[];
}

/** Every batch of the log, fetch by fetch, decoded with its CRC checked. */
export function readBatches(log: PartitionLog): RawBatch[] {
  const batches: RawBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const result = log.read(offset, 1 << 20);
    if (result.status !== 'ok') throw new Error(`read at ${offset}: ${result.status}`);
    if (result.records.length === 0) break;
    for (const location of iterateBatches(result.records)) {
      const decoded = decodeBatch(result.records, location.position, { verifyCrc: true });
      const { header } = decoded;
      const control = isControl(header.attributes) ? readControlRecord(decoded.records[0]!) : null;
      batches.push({
        baseOffset: header.baseOffset,
        producerId: header.producerId,
        transactional: isTransactional(header.attributes),
        control: control === null || control.type === 'unknown' ? null : control.type,
        records: control !== null ? [] : [...consumerRecords(decoded)].map((record) => ({
          offset: record.offset,
          key: record.key === null ? null : record.key.toString('utf8'),
          value: record.value === null ? null : record.value.toString('utf8'),
        })),
      });
    }
    offset = result.nextOffset;
  }
  return batches;
}

/**
 * What a read_committed consumer sees reading the whole log in one go, the way Kafka's consumer
 * filters a fetch: the aborted transactions the log reports for the range, activated per producer
 * when the reader reaches their first offset, hide that producer's transactional batches until
 * its abort marker; control batches are never returned.
 */
export function readCommitted(log: PartitionLog): CommittedRecord[] {
  const pending = log.collectAbortedTransactions(log.logStartOffset, log.logEndOffset).sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  const visible: CommittedRecord[] = [];
  for (const batch of readBatches(log)) {
    const lastOffset = batch.records.at(-1)?.offset ?? batch.baseOffset;
    while (pending.length > 0 && pending[0]!.firstOffset <= lastOffset) abortedProducers.add(pending.shift()!.producerId);
    if (batch.control !== null) {
      if (batch.control === 'abort') abortedProducers.delete(batch.producerId);
      continue;
    }
    if (batch.transactional && abortedProducers.has(batch.producerId)) continue;
    visible.push(...batch.records);
  }
  return visible;
}
