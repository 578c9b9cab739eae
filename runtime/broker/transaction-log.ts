// The internal compacted topic __transaction_state, where the transaction coordinator keeps one
// record per transactional id so that transactions survive a restart. Records use Kafka's own
// layout, so the topic reads the same as Kafka's:
//
//   key   => version i16 (0) | transactionalId string
//   value => version i16 (0) | producerId i64 | producerEpoch i16 | transactionTimeoutMs i32 |
//            status i8 | partitions [topic string | partitionIds [i32]] |
//            lastUpdateTimestampMs i64 | startTimestampMs i64
//
// A null value is a tombstone: the transactional id expired. A transactional id lives in the
// partition its Java String.hashCode picks, as in Kafka. In a cluster the topic is replicated
// and the leader of a partition coordinates its transactional ids (coordinator-partitions.ts).
import { CompressionCodec } from '../../core/records/compression.ts';
import { decodeBatch, encodeBatch, iterateBatches } from '../../core/records/batch.ts';
import type { Broker } from './broker.ts';
import { offsetsPartitionFor } from './group-codec.ts';

export const TRANSACTION_STATE_TOPIC = '__transaction_state';

export type TransactionStatus =
  | 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'Dead' | 'PrepareEpochFence';

/** Status codes in the order Kafka numbers them. */
const STATUS_CODES: readonly TransactionStatus[] = [
  'Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'Dead', 'PrepareEpochFence',
];

export interface StoredTransaction {
  producerId: bigint;
  producerEpoch: number;
  timeoutMs: number;
  status: TransactionStatus;
  /** Partitions that joined the transaction, by topic. */
  partitions: Map<string, number[]>;
  lastUpdateMs: number;
  startMs: number;
}

class Writer {
  private readonly parts: Buffer[] = [];

  int8(value: number): this { const b = Buffer.alloc(1); b.writeInt8(value); this.parts.push(b); return this; }
  int16(value: number): this { const b = Buffer.alloc(2); b.writeInt16BE(value); this.parts.push(b); return this; }
  int32(value: number): this { const b = Buffer.alloc(4); b.writeInt32BE(value); this.parts.push(b); return this; }
  int64(value: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(value); this.parts.push(b); return this; }
  string(text: string): this {
    const body = Buffer.from(text, 'utf8');
    return this.int16(body.length).raw(body);
  }
  raw(bytes: Buffer): this { this.parts.push(bytes); return this; }
  done(): Buffer { return Buffer.concat(this.parts); }
}

class Reader {
  private at = 0;
  constructor(private readonly buffer: Buffer) {}

  int8(): number { const v = this.buffer.readInt8(this.at); this.at += 1; return v; }
  int16(): number { const v = this.buffer.readInt16BE(this.at); this.at += 2; return v; }
  int32(): number { const v = this.buffer.readInt32BE(this.at); this.at += 4; return v; }
  int64(): bigint { const v = this.buffer.readBigInt64BE(this.at); this.at += 8; return v; }
  string(): string {
    const length = this.int16();
    if (length < 0 || this.at + length > this.buffer.length) throw new RangeError('string runs past the record');
    const text = this.buffer.toString('utf8', this.at, this.at + length);
    this.at += length;
    return text;
  }
}

export function encodeTransactionKey(transactionalId: string): Buffer {
  return new Writer().int16(0).string(transactionalId).done();
}

export function decodeTransactionKey(buffer: Buffer): string | null {
  const reader = new Reader(buffer);
  return reader.int16() === 0 ? reader.string() : null;
}

export function encodeTransactionValue(value: StoredTransaction): Buffer {
  const writer = new Writer().int16(0).int64(value.producerId).int16(value.producerEpoch).int32(value.timeoutMs)
    .int8(STATUS_CODES.indexOf(value.status)).int32(value.partitions.size);
  for (const [topic, partitions] of value.partitions) {
    writer.string(topic).int32(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
  return writer.int64(BigInt(value.lastUpdateMs)).int64(BigInt(value.startMs)).done();
}

export function decodeTransactionValue(buffer: Buffer): StoredTransaction {
  const reader = new Reader(buffer);
  const version = reader.int16();
  if (version !== 0) throw new RangeError(`transaction state value version ${version} is unknown`);
  const producerId = reader.int64();
  const producerEpoch = reader.int16();
  const timeoutMs = reader.int32();
  const status = STATUS_CODES[reader.int8()];
  if (status === undefined) throw new RangeError('transaction status code is unknown');
  const partitions = new Map<string, number[]>();
  const topicCount = reader.int32();
  for (let index = 0; index < topicCount; index++) {
    const topic = reader.string();
    const count = reader.int32();
    const list: number[] = [];
    for (let each = 0; each < count; each++) list.push(reader.int32());
    partitions.set(topic, list);
  }
  const lastUpdateMs = Number(reader.int64());
  const startMs = Number(reader.int64());
  return { producerId, producerEpoch, timeoutMs, status, partitions, lastUpdateMs, startMs };
}

/** Appends and replays __transaction_state on behalf of the transaction coordinator. */
export class TransactionLog {
  constructor(private readonly broker: Broker) {}

  partitionFor(transactionalId: string): number {
    return offsetsPartitionFor(transactionalId, this.partitionCount());
  }

  /** Resolves once the record is committed: NONE or the coordinator error the client gets. */
  append(transactionalId: string, value: StoredTransaction | null): Promise<number> {
    this.ensureExists();
    const batch = encodeBatch({
      compression: CompressionCodec.None,
      records: [{ key: encodeTransactionKey(transactionalId), value: value === null ? null : encodeTransactionValue(value) }],
    });
    return this.broker.coordinators.appendDurably(TRANSACTION_STATE_TOPIC, this.partitionFor(transactionalId), batch);
  }

  /** Every transactional id's latest record, read from all partitions (a single node at start). */
  load(): Map<string, StoredTransaction> {
    const latest = new Map<string, StoredTransaction>();
    const topic = this.broker.topics.get(TRANSACTION_STATE_TOPIC);
    if (topic === undefined) return latest;
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      for (const [transactionalId, value] of this.loadPartition(partition)) latest.set(transactionalId, value);
    }
    return latest;
  }

  /** The latest record of each transactional id stored in one partition; tombstones drop the id. */
  loadPartition(partition: number): Map<string, StoredTransaction> {
    const latest = new Map<string, StoredTransaction>();
    const state = this.broker.replicas.get(TRANSACTION_STATE_TOPIC, partition);
    if (state === undefined) return latest;
    let offset = state.log.logStartOffset;
    while (offset < state.log.logEndOffset) {
      const { records } = state.log.read(offset, 1024 * 1024, { minOneBatch: true });
      if (records.length === 0) break;
      for (const { position, header } of iterateBatches(records)) {
        for (const record of decodeBatch(records, position).records) {
          const transactionalId = record.key === null ? null : decodeTransactionKey(record.key);
          if (transactionalId === null) continue;
          if (record.value === null) latest.delete(transactionalId);
          else latest.set(transactionalId, decodeTransactionValue(record.value));
        }
        offset = header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
      }
    }
    return latest;
  }

  private partitionCount(): number {
    return this.broker.topics.get(TRANSACTION_STATE_TOPIC)?.partitionCount ?? this.broker.config['transaction.state.log.num.partitions'];
  }

  /** On a single node the topic is created here; in a cluster the controller creates it. */
  private ensureExists(): void {
    if (this.broker.topics.get(TRANSACTION_STATE_TOPIC) !== undefined) return;
    if (this.broker.cluster !== null) {
      this.broker.coordinators.requestCreation(TRANSACTION_STATE_TOPIC);
      return;
    }
    this.broker.createTopic(TRANSACTION_STATE_TOPIC, this.broker.config['transaction.state.log.num.partitions'], {
      'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024),
    }, { internal: true });
  }
}
