// The internal compacted topic __consumer_offsets, where the group coordinator keeps committed
// offsets and group generations so they survive a restart. Created on first use, as Kafka does,
// with offsets.topic.num.partitions partitions; a group's records go to the partition its id
// hashes to.
import { CompressionCodec } from '../../core/records/compression.ts';
import { decodeBatch, encodeBatch, readControlRecord, type DecodedBatch } from '../../core/records/batch.ts';
import { batchSizeAt, isControl, isTransactional } from '../../core/records/header.ts';
import type { Broker } from './broker.ts';
import type { TransactionalOffset } from './group-coordinator.ts';
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

  /**
   * TxnOffsetCommit: the offsets go to the log now, in a transactional batch of the producer,
   * and become visible when the commit marker reaches this partition.
   */
  appendTransactional(groupId: string, producerId: bigint, producerEpoch: number, offsets: readonly TransactionalOffset[]): void {
    if (offsets.length === 0) return;
    this.ensureExists();
    const batch = encodeBatch({
      compression: CompressionCodec.None,
      producerId,
      producerEpoch,
      transactional: true,
      records: offsets.map(({ key, value }) => ({ key: encodeOffsetsKey(key), value: encodeCommittedOffset(value) })),
    });
    const result = this.broker.replicas.appendInternal(OFFSETS_TOPIC, this.partitionFor(groupId), batch);
    if (result !== null) throw new Error(`could not store transactional offsets for ${groupId}: ${result}`);
    this.broker.groups.stageTransactionalOffsets(producerId, offsets);
  }

  /**
   * Replays every partition into the coordinator at start-up. Transactional offsets wait for
   * their marker; those still without one at the end stay staged until the transaction
   * coordinator completes their transaction.
   */
  load(): void {
    const topic = this.broker.topics.get(OFFSETS_TOPIC);
    if (topic === undefined) return;
    let recordCount = 0;
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      const state = this.broker.replicas.get(OFFSETS_TOPIC, partition);
      if (state === undefined) continue;
      const pending = new Map<bigint, TransactionalOffset[]>();
      let offset = state.log.logStartOffset;
      while (offset < state.log.logEndOffset) {
        const { records } = state.log.read(offset, 1024 * 1024, { minOneBatch: true });
        if (records.length === 0) break;
        for (let position = 0; position < records.length;) {
          const size = batchSizeAt(records, position);
          if (size < 0 || position + size > records.length) break;
          const batch = decodeBatch(records.subarray(position, position + size));
          recordCount += this.replayBatch(batch, pending);
          offset = batch.header.baseOffset + BigInt(batch.header.lastOffsetDelta) + 1n;
          position += size;
        }
      }
      for (const [producerId, offsets] of pending) this.broker.groups.stageTransactionalOffsets(producerId, offsets);
    }
    this.broker.logger.info('loaded group state', { records: recordCount });
  }

  private replayBatch(batch: DecodedBatch, pending: Map<bigint, TransactionalOffset[]>): number {
    const { attributes, producerId } = batch.header;
    if (isControl(attributes)) {
      const marker = batch.records[0] === undefined ? null : readControlRecord(batch.records[0]);
      const staged = pending.get(producerId) ?? [];
      pending.delete(producerId);
      if (marker?.type === 'commit') for (const { key, value } of staged) this.broker.groups.load(key, value);
      return 0;
    }
    let count = 0;
    for (const record of batch.records) {
      if (record.key === null) continue;
      const key = decodeOffsetsKey(record.key);
      if (key === null) continue;
      const value = record.value === null ? null : key.kind === 'offset' ? decodeCommittedOffset(record.value) : decodeGroupMetadata(record.value);
      count += 1;
      if (isTransactional(attributes) && key.kind === 'offset' && value !== null) {
        let list = pending.get(producerId);
        if (list === undefined) pending.set(producerId, list = []);
        list.push({ key, value: value as CommittedOffset });
        continue;
      }
      this.broker.groups.load(key, value);
    }
    return count;
  }

  private partitionCount(): number {
    return this.broker.topics.get(OFFSETS_TOPIC)?.partitionCount ?? this.broker.config['offsets.topic.num.partitions'];
  }

  ensureExists(): void {
    if (this.broker.topics.get(OFFSETS_TOPIC) !== undefined) return;
    this.broker.createTopic(OFFSETS_TOPIC, this.broker.config['offsets.topic.num.partitions'], {
      'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024),
    }, { internal: true });
  }
}
