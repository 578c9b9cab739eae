// The internal compacted topic __consumer_offsets, where the group coordinator keeps committed
// offsets and group generations so they survive a restart (and, in a cluster, the loss of the
// coordinator: the topic is replicated and the next leader of a partition loads its groups).
// Created on first use, as Kafka does, with offsets.topic.num.partitions partitions; a group's
// records go to the partition its id hashes to.
import { ErrorCode } from '../../core/protocol/errors.ts';
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

  /** Resolves once the records are committed: NONE or the coordinator error the client gets. */
  append(groupId: string, records: { key: OffsetsTopicKey; value: CommittedOffset | StoredGroupMetadata | null }[]): Promise<number> {
    if (records.length === 0) return Promise.resolve(ErrorCode.NONE);
    this.ensureExists();
    const batch = encodeBatch({
      compression: CompressionCodec.None,
      records: records.map(({ key, value }) => ({
        key: encodeOffsetsKey(key),
        value: value === null ? null : 'offset' in value ? encodeCommittedOffset(value) : encodeGroupMetadata(value),
      })),
    });
    return this.broker.coordinators.appendDurably(OFFSETS_TOPIC, this.partitionFor(groupId), batch);
  }

  /**
   * TxnOffsetCommit: the offsets go to the log now, in a transactional batch of the producer,
   * and become visible when the commit marker reaches this partition. The producer sends
   * EndTxn only after this answer, so staging them once committed comes before any marker.
   */
  async appendTransactional(groupId: string, producerId: bigint, producerEpoch: number, offsets: readonly TransactionalOffset[]): Promise<number> {
    if (offsets.length === 0) return ErrorCode.NONE;
    this.ensureExists();
    const batch = encodeBatch({
      compression: CompressionCodec.None,
      producerId,
      producerEpoch,
      transactional: true,
      records: offsets.map(({ key, value }) => ({ key: encodeOffsetsKey(key), value: encodeCommittedOffset(value) })),
    });
    const errorCode = await this.broker.coordinators.appendDurably(OFFSETS_TOPIC, this.partitionFor(groupId), batch);
    if (errorCode === ErrorCode.NONE) this.broker.groups.stageTransactionalOffsets(producerId, offsets);
    return errorCode;
  }

  /**
   * Replays every partition into the coordinator at start-up (a single node). Transactional
   * offsets wait for their marker; those still without one at the end stay staged until the
   * transaction coordinator completes their transaction.
   */
  load(): void {
    const topic = this.broker.topics.get(OFFSETS_TOPIC);
    if (topic === undefined) return;
    let recordCount = 0;
    for (let partition = 0; partition < topic.partitionCount; partition++) recordCount += this.loadPartition(partition);
    this.broker.logger.info('loaded group state', { records: recordCount });
  }

  /** Replays one partition's groups and offsets into the coordinator; returns the record count. */
  loadPartition(partition: number): number {
    const state = this.broker.replicas.get(OFFSETS_TOPIC, partition);
    if (state === undefined) return 0;
    let recordCount = 0;
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
    return recordCount;
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
      // A group value this version cannot read is skipped; only a null value deletes.
      if (value === null && record.value !== null) continue;
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

  /** On a single node the topic is created here; in a cluster the controller creates it. */
  ensureExists(): void {
    if (this.broker.topics.get(OFFSETS_TOPIC) !== undefined) return;
    if (this.broker.cluster !== null) {
      this.broker.coordinators.requestCreation(OFFSETS_TOPIC);
      return;
    }
    this.broker.createTopic(OFFSETS_TOPIC, this.broker.config['offsets.topic.num.partitions'], {
      'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024),
    }, { internal: true });
  }
}
