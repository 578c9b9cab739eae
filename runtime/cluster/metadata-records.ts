// The records of the cluster metadata log, in the shape of KRaft's metadata records: brokers
// register and are fenced or unfenced, topics and their partitions are created, partitions
// change leader or in-sync replicas, configs are set, topics are removed. Every node applies
// the same committed records in the same order to its MetadataImage, so the records carry
// every decision (assignments, elected leaders, epochs) and applying one never chooses.
//
// On the log each record is one Kafka record: the key is the record type, the value is JSON.
// Records are read back from disk and from other nodes, so decoding checks them with zod.
import { z } from 'zod';
import type { RecordInput } from '../../core/records/batch.ts';

const brokerId = z.number().int().nonnegative();
const partitionIndex = z.number().int().nonnegative();

const registerBroker = z.object({
  type: z.literal('RegisterBroker'),
  brokerId,
  /** Changes on every process start, so a restarted broker is told apart from its old self. */
  incarnationId: z.string(),
  host: z.string(),
  port: z.number().int().min(0).max(65_535),
  rack: z.string().nullable(),
});

/** BrokerRegistrationChangeRecord: the controller fences or unfences a registered broker. */
const brokerRegistrationChange = z.object({
  type: z.literal('BrokerRegistrationChange'),
  brokerId,
  /** The registration this change applies to; a change for an older registration is ignored. */
  brokerEpoch: z.bigint().or(z.string().regex(/^\d+$/).transform(BigInt)),
  fenced: z.boolean(),
});

const topic = z.object({
  type: z.literal('Topic'),
  name: z.string(),
  topicId: z.string(),
});

const partition = z.object({
  type: z.literal('Partition'),
  topicId: z.string(),
  partition: partitionIndex,
  replicas: z.array(brokerId).min(1),
  isr: z.array(brokerId),
  /** -1 when no replica can lead. */
  leader: z.number().int().min(-1),
  leaderEpoch: z.number().int().nonnegative(),
  partitionEpoch: z.number().int().nonnegative(),
  /** Replicas a reassignment is adding (KIP-455); absent or empty when none is in progress. */
  addingReplicas: z.array(brokerId).optional(),
  /** Replicas a reassignment will remove once every target replica is in the ISR. */
  removingReplicas: z.array(brokerId).optional(),
});

/**
 * A change to a partition. A new leader bumps the leader epoch; any change bumps the partition
 * epoch, which AlterPartition requests must name so a stale proposal is refused.
 */
const partitionChange = z.object({
  type: z.literal('PartitionChange'),
  topicId: z.string(),
  partition: partitionIndex,
  isr: z.array(brokerId).optional(),
  leader: z.number().int().min(-1).optional(),
  replicas: z.array(brokerId).min(1).optional(),
  /** Present when a reassignment starts, changes, completes (empty) or is cancelled (empty). */
  addingReplicas: z.array(brokerId).optional(),
  removingReplicas: z.array(brokerId).optional(),
});

const config = z.object({
  type: z.literal('Config'),
  resourceType: z.enum(['topic', 'broker']),
  resourceName: z.string(),
  name: z.string(),
  /** null removes the override. */
  value: z.string().nullable(),
});

const removeTopic = z.object({
  type: z.literal('RemoveTopic'),
  topicId: z.string(),
});

/**
 * ProducerIdsRecord (KIP-730): the controller handed a block of producer ids to a broker; the
 * next block starts at `nextProducerId`, so no id is ever handed out twice in the cluster.
 */
const producerIds = z.object({
  type: z.literal('ProducerIds'),
  brokerId,
  brokerEpoch: z.bigint().or(z.string().regex(/^\d+$/).transform(BigInt)),
  nextProducerId: z.bigint().or(z.string().regex(/^\d+$/).transform(BigInt)),
});

export const metadataRecordSchema = z.discriminatedUnion('type', [
  registerBroker, brokerRegistrationChange, topic, partition, partitionChange, config, removeTopic, producerIds,
]);

export type MetadataRecord = z.output<typeof metadataRecordSchema>;
export type MetadataRecordType = MetadataRecord['type'];
export type RegisterBrokerRecord = Extract<MetadataRecord, { type: 'RegisterBroker' }>;
export type PartitionRecord = Extract<MetadataRecord, { type: 'Partition' }>;
export type PartitionChangeRecord = Extract<MetadataRecord, { type: 'PartitionChange' }>;

/** Thrown for a record that does not parse: the metadata log is corrupt or from another program. */
export class MetadataRecordError extends Error {}

/** One metadata record as a Kafka record: key = type, value = JSON (bigints as decimal text). */
export function encodeMetadataRecord(record: MetadataRecord): RecordInput {
  const text = JSON.stringify(record, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  return { key: Buffer.from(record.type), value: Buffer.from(text) };
}

export function decodeMetadataRecord(value: Buffer | null): MetadataRecord {
  if (value === null) throw new MetadataRecordError('metadata record without a value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (error) {
    throw new MetadataRecordError(`metadata record is not JSON: ${(error as Error).message}`);
  }
  const result = metadataRecordSchema.safeParse(parsed);
  if (!result.success) throw new MetadataRecordError(`bad metadata record: ${result.error.message}`);
  return result.data;
}
