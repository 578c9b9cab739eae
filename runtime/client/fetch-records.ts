// Turns the records bytes of one partition in a Fetch response into consumer records. The
// bytes may end in a partial batch (the broker cuts at max bytes), may start before the fetch
// offset (a compressed batch is returned whole), and may hold control batches (transaction
// markers), which consumers never see. Under read_committed, records of aborted transactions
// are dropped using the response's aborted-transaction list, the way Kafka's fetcher does:
// a producer's records are aborted from its listed first offset until its abort marker.
import { consumerRecords, decodeBatch, iterateBatches, readControlRecord } from '../../core/records/batch.ts';
import { ATTRIBUTE_CONTROL, ATTRIBUTE_TRANSACTIONAL } from '../../core/records/header.ts';
import type { RecordHeader } from '../../core/records/record.ts';

export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface PartitionRecords {
  records: ConsumerRecord[];
  /** The offset after the last complete batch, or `fetchOffset` when none was complete. */
  nextOffset: bigint;
}

export function recordsFromFetch(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  data: Buffer | null,
  abortedTransactions: readonly AbortedTransaction[] | null,
): PartitionRecords {
  const records: ConsumerRecord[] = [];
  let nextOffset = fetchOffset;
  if (data === null || data.length === 0) return { records, nextOffset };
  const aborted = [...(abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  for (const location of iterateBatches(data)) {
    const header = location.header;
    const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
    while (aborted.length > 0 && (aborted[0] as AbortedTransaction).firstOffset <= lastOffset) {
      abortedProducers.add((aborted.shift() as AbortedTransaction).producerId);
    }
    if (lastOffset + 1n > nextOffset) nextOffset = lastOffset + 1n;
    if (lastOffset < fetchOffset) continue;
    const batch = decodeBatch(data, location.position);
    if ((header.attributes & ATTRIBUTE_CONTROL) !== 0) {
      const marker = batch.records[0];
      if (marker !== undefined && readControlRecord(marker).type === 'abort') abortedProducers.delete(header.producerId);
      continue;
    }
    if ((header.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0 && abortedProducers.has(header.producerId)) continue;
    for (const record of consumerRecords(batch)) {
      if (record.offset < fetchOffset) continue;
      records.push({ topic, partition, offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers });
    }
  }
  return { records, nextOffset };
}
