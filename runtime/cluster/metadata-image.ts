// What every node knows about the cluster: the registered brokers, the topics and each
// partition's replicas, in-sync replicas, leader and epochs. It is built only by applying
// committed metadata records in log order, so every node that applied the same prefix of the
// log holds the same image. Applying is pure and never decides anything (the controller does
// that when it writes records); a record that does not fit the image (an unknown topic, a
// change for an older broker registration) is skipped the same way on every node.
import type { MetadataRecord, PartitionChangeRecord, PartitionRecord } from './metadata-records.ts';

export interface BrokerRegistration {
  brokerId: number;
  /** The offset of the RegisterBroker record: it tells one registration from the next. */
  brokerEpoch: bigint;
  incarnationId: string;
  host: string;
  port: number;
  rack: string | null;
  /** A fenced broker leads nothing and is in no ISR; it is unfenced once it heartbeats. */
  fenced: boolean;
}

export interface PartitionImage {
  partition: number;
  replicas: number[];
  /** In-sync replicas: always a subset of replicas; never empty once a leader was elected. */
  isr: number[];
  /** -1 while no replica can lead. */
  leader: number;
  /** Bumped on every leader change; followers and clients fence stale leaders with it. */
  leaderEpoch: number;
  /** Bumped on every change; AlterPartition names it so stale proposals are refused. */
  partitionEpoch: number;
  /**
   * A reassignment in progress (KIP-455): `replicas` then holds the target replicas followed by
   * the removing ones, so the target is `replicas` without `removingReplicas` and the original
   * assignment is `replicas` without `addingReplicas`. Both are empty when none is in progress;
   * the reassignment state lives in the metadata log, so a new controller carries it on.
   */
  addingReplicas: number[];
  removingReplicas: number[];
}

export interface TopicImage {
  name: string;
  topicId: string;
  partitions: PartitionImage[];
  /** Only explicit overrides; defaults come from each broker's config. */
  configs: Record<string, string>;
}

export class MetadataImage {
  readonly brokers = new Map<number, BrokerRegistration>();
  readonly topics = new Map<string, TopicImage>();
  readonly topicsById = new Map<string, TopicImage>();
  readonly brokerConfigs = new Map<string, Record<string, string>>();
  /** The offset after the last applied record; the image reflects the log below it. */
  appliedOffset = 0n;
  /** The first producer id of the next block the controller hands out (KIP-730). */
  nextProducerId = 0n;

  /** Applies one committed record found at `offset`. */
  apply(record: MetadataRecord, offset: bigint): void {
    if (offset < this.appliedOffset) throw new Error(`metadata image: record at ${offset} after ${this.appliedOffset}`);
    this.appliedOffset = offset + 1n;
    switch (record.type) {
      case 'RegisterBroker':
        this.brokers.set(record.brokerId, {
          brokerId: record.brokerId, brokerEpoch: offset, incarnationId: record.incarnationId,
          host: record.host, port: record.port, rack: record.rack, fenced: true,
        });
        return;
      case 'BrokerRegistrationChange': {
        const broker = this.brokers.get(record.brokerId);
        if (broker !== undefined && broker.brokerEpoch === record.brokerEpoch) broker.fenced = record.fenced;
        return;
      }
      case 'Topic': {
        if (this.topics.has(record.name) || this.topicsById.has(record.topicId)) return;
        const topic: TopicImage = { name: record.name, topicId: record.topicId, partitions: [], configs: {} };
        this.topics.set(record.name, topic);
        this.topicsById.set(record.topicId, topic);
        return;
      }
      case 'Partition':
        this.applyPartition(record);
        return;
      case 'PartitionChange':
        this.applyPartitionChange(record);
        return;
      case 'Config':
        this.applyConfig(record);
        return;
      case 'RemoveTopic': {
        const topic = this.topicsById.get(record.topicId);
        if (topic === undefined) return;
        this.topicsById.delete(record.topicId);
        this.topics.delete(topic.name);
        return;
      }
      case 'ProducerIds':
        if (record.nextProducerId > this.nextProducerId) this.nextProducerId = record.nextProducerId;
        return;
    }
  }

  private applyPartition(record: PartitionRecord): void {
    const topic = this.topicsById.get(record.topicId);
    // Partitions are added in order, so the array index is the partition number.
    if (topic === undefined || record.partition !== topic.partitions.length) return;
    topic.partitions.push({
      partition: record.partition, replicas: [...record.replicas], isr: [...record.isr], leader: record.leader,
      leaderEpoch: record.leaderEpoch, partitionEpoch: record.partitionEpoch,
      addingReplicas: [...(record.addingReplicas ?? [])], removingReplicas: [...(record.removingReplicas ?? [])],
    });
  }

  private applyPartitionChange(record: PartitionChangeRecord): void {
    const partition = this.topicsById.get(record.topicId)?.partitions[record.partition];
    if (partition === undefined) return;
    if (record.replicas !== undefined) partition.replicas = [...record.replicas];
    if (record.isr !== undefined) partition.isr = [...record.isr];
    if (record.addingReplicas !== undefined) partition.addingReplicas = [...record.addingReplicas];
    if (record.removingReplicas !== undefined) partition.removingReplicas = [...record.removingReplicas];
    if (record.leader !== undefined && record.leader !== partition.leader) {
      partition.leader = record.leader;
      partition.leaderEpoch += 1;
    }
    partition.partitionEpoch += 1;
  }

  private applyConfig(record: Extract<MetadataRecord, { type: 'Config' }>): void {
    let configs: Record<string, string> | undefined;
    if (record.resourceType === 'topic') configs = this.topics.get(record.resourceName)?.configs;
    else {
      configs = this.brokerConfigs.get(record.resourceName);
      if (configs === undefined) this.brokerConfigs.set(record.resourceName, configs = {});
    }
    if (configs === undefined) return;
    if (record.value === null) delete configs[record.name];
    else configs[record.name] = record.value;
  }

  /** Registered brokers that are not fenced, by id. */
  liveBrokers(): BrokerRegistration[] {
    return [...this.brokers.values()].filter((broker) => !broker.fenced).sort((a, b) => a.brokerId - b.brokerId);
  }

  partition(topicName: string, partition: number): PartitionImage | undefined {
    return this.topics.get(topicName)?.partitions[partition];
  }

  /** Partitions with a reassignment in progress, by topic name in name order. */
  reassigning(): { topic: TopicImage; partition: PartitionImage }[] {
    return [...this.allPartitions()]
      .filter(({ partition }) => isReassigning(partition))
      .sort((a, b) => (a.topic.name < b.topic.name ? -1 : a.topic.name > b.topic.name ? 1 : a.partition.partition - b.partition.partition));
  }

  /** Every partition with its topic, for the controller's sweeps. */
  *allPartitions(): Generator<{ topic: TopicImage; partition: PartitionImage }> {
    for (const topic of this.topics.values()) for (const partition of topic.partitions) yield { topic, partition };
  }
}

export function isReassigning(partition: PartitionImage): boolean {
  return partition.addingReplicas.length > 0 || partition.removingReplicas.length > 0;
}

/** The replicas a reassignment moves to (all replicas when none is in progress). */
export function targetReplicas(partition: PartitionImage): number[] {
  return partition.replicas.filter((replica) => !partition.removingReplicas.includes(replica));
}

/** The replicas before the reassignment began (all replicas when none is in progress). */
export function originalReplicas(partition: PartitionImage): number[] {
  return partition.replicas.filter((replica) => !partition.addingReplicas.includes(replica));
}
