// The internal compacted topic __consumer_offsets, where the group coordinator keeps committed
// offsets and group generations so they survive a restart. Created on first use, as Kafka does,
// with offsets.topic.num.partitions partitions; a group's records go to the partition its id
// hashes to.
import { CompressionCodec } from '../../core/records/compression.ts';
import { decodeBatch, encodeBatch } from '../../core/records/batch.ts';
import { batchSizeAt } from '../../core/records/header.ts';
import type { Broker } from './broker.ts';
import {
  decodeCommittedOffset, decodeGroupMetadata, decodeOffsetsKey, encodeCommittedOffset, encodeGroupMetadata,
  encodeOffsetsKey, offsetsPartitionFor, type CommittedOffset, type OffsetsTopicKey, type StoredGroupMetadata,
} from './group-codec.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

export class OffsetsTopic {
  constructor(private readonly broker: Broker) {}

  partitionFor(groupId: string): number {
    return offsetsPartitionFor(groupId, this.partitionCount());
  }

  append(groupId: string, records: { key: OffsetsTopicKey; value: CommittedOffset | StoredGroupMetadata | null }[]): void {
    if (records.length === 0) return;
    this.ensureExists();
    const batch = encodeBatch({
      compression: CompressionCodec.None,
      records: records.map(({ key, value }) => ({
        key: encodeOffsetsKey(key),
        value: value === null ? null : 'offset' in value ? encodeCommittedOffset(value) : encodeGroupMetadata(value),
      })),
    });
    const result = this.broker.replicas.appendInternal(OFFSETS_TOPIC, this.partitionFor(groupId), batch);
    if (result !== null) throw new Error(`could not store group state for ${groupId}: ${result}`);
  }

  /** Replays every partition into the coordinator at start-up. */
  load(): void {
    const topic = this.broker.topics.get(OFFSETS_TOPIC);
    if (topic === undefined) return;
    let recordCount = 0;
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      const state = this.broker.replicas.get(OFFSETS_TOPIC, partition);
      if (state === undefined) continue;
      let offset = state.log.logStartOffset;
      while (offset < state.log.logEndOffset) {
        const { records } = state.log.read(offset, 1024 * 1024, { minOneBatch: true });
        if (records.length === 0) break;
        for (let position = 0; position < records.length;) {
          const size = batchSizeAt(records, position);
          if (size < 0 || position + size > records.length) break;
          const batch = decodeBatch(records.subarray(position, position + size));
          for (const record of batch.records) {
            if (record.key === null) continue;
            const key = decodeOffsetsKey(record.key);
            if (key === null) continue;
            const value = record.value === null ? null : key.kind === 'offset' ? decodeCommittedOffset(record.value) : decodeGroupMetadata(record.value);
            this.broker.groups.load(key, value);
            recordCount += 1;
          }
          offset = batch.header.baseOffset + BigInt(batch.header.lastOffsetDelta) + 1n;
          position += size;
        }
      }
    }
    this.broker.logger.info('loaded group state', { records: recordCount });
  }

  private partitionCount(): number {
    return this.broker.topics.get(OFFSETS_TOPIC)?.partitionCount ?? this.broker.config['offsets.topic.num.partitions'];
  }

  private ensureExists(): void {
    if (this.broker.topics.get(OFFSETS_TOPIC) !== undefined) return;
    this.broker.createTopic(OFFSETS_TOPIC, this.broker.config['offsets.topic.num.partitions'], {
      'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024),
    }, { internal: true });
  }
}
