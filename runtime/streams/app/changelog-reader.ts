// Reads changelog partitions from a start offset to their end offset at the time of the call,
// with a consumer of its own that belongs to no group. The end is fixed first, so a busy
// changelog cannot keep a restore going for ever. Compacted changelogs have gaps in their
// offsets, so "done" means the consumer's position reached the end, not a record count.
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import type { Consumer, TopicPartition } from '../../client/index.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

export interface ChangelogRange extends TopicPartition {
  /** First offset to read; 0n (or anything below the log start) reads from the start. */
  readonly from: bigint;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** End offsets (next offset to be written) of the partitions. */
export async function endOffsets(consumer: Consumer, partitions: readonly TopicPartition[]): Promise<Map<string, bigint>> {
  if (partitions.length === 0) return new Map();
  return consumer.listOffsets(partitions, -1n);
}

export function offsetKey(topic: string, partition: number): string {
  return key(topic, partition);
}

/**
 * Calls onRecords with each fetched chunk, in offset order per partition, until every partition
 * reaches its end offset. Returns the end offsets reached.
 */
export async function readChangelogs(
  consumer: Consumer,
  ranges: readonly ChangelogRange[],
  onRecords: (topic: string, partition: number, records: ChangelogRecord[]) => Promise<void> | void,
): Promise<Map<string, bigint>> {
  const ends = await endOffsets(consumer, ranges);
  const pending = ranges.filter((range) => range.from < (ends.get(key(range.topic, range.partition)) ?? 0n));
  if (pending.length === 0) return ends;
  consumer.assign(pending.map((range) => ({ topic: range.topic, partition: range.partition, offset: range.from })));
  let lastProgressMs = Date.now();
  for (;;) {
    const records = await consumer.poll({ timeoutMs: 200, maxRecords: STREAMS_APP_LIMITS.restoreBatchRecords });
    if (records.length > 0) lastProgressMs = Date.now();
    const chunks = new Map<string, { topic: string; partition: number; records: ChangelogRecord[] }>();
    for (const record of records) {
      const end = ends.get(key(record.topic, record.partition)) ?? 0n;
      if (record.offset >= end) continue;
      if (record.key === null) throw new Error(`changelog ${record.topic}-${record.partition} holds a record without a key at offset ${record.offset}`);
      let chunk = chunks.get(key(record.topic, record.partition));
      if (chunk === undefined) chunks.set(key(record.topic, record.partition), (chunk = { topic: record.topic, partition: record.partition, records: [] }));
      chunk.records.push({ key: record.key, value: record.value });
    }
    for (const chunk of chunks.values()) await onRecords(chunk.topic, chunk.partition, chunk.records);
    const positions = consumer.positions();
    const done = positions.every((position) => position.offset !== null && position.offset >= (ends.get(key(position.topic, position.partition)) ?? 0n));
    if (done) break;
    if (Date.now() - lastProgressMs > STREAMS_APP_LIMITS.restoreStallMsMax) throw new Error(`restoring ${pending.map((range) => `${range.topic}-${range.partition}`).join(', ')} made no progress for ${STREAMS_APP_LIMITS.restoreStallMsMax} ms`);
  }
  consumer.assign([]);
  return ends;
}
