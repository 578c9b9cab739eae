// What a broker that is part of a cluster asks the cluster layer (runtime/cluster) while it
// serves clients: the live brokers and each partition's leader and epochs, from the metadata
// image, and the controller for changes only it may make. A single-node broker has none
// (Broker.cluster is null) and answers everything from its own catalogue.
import type { BodyInput, RequestBodyByKey, ResponseBodyByKey } from '../../core/protocol/index.ts';

export interface ClusterBroker {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface ClusterPartition {
  partition: number;
  /** -1 while no replica can lead. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  /** Replicas on fenced or unregistered brokers. */
  offline: number[];
}

export interface ClusterTopic {
  name: string;
  topicId: string;
  partitions: ClusterPartition[];
}

export interface ClusterView {
  readonly clusterId: string;
  /** The active controller, -1 while there is none. */
  controllerId(): number;
  liveBrokers(): ClusterBroker[];
  topics(): ClusterTopic[];
  topic(name: string): ClusterTopic | undefined;
  topicById(topicId: string): ClusterTopic | undefined;
  /** One partition, without describing the whole topic (the Fetch path asks per partition). */
  partition(topic: string, partition: number): ClusterPartition | undefined;
  /** CreateTopics goes to the active controller; the answer comes once the topics are committed. */
  createTopics(request: RequestBodyByKey[19]): Promise<BodyInput<ResponseBodyByKey[19]>>;
  /** Asks the controller to create a topic with the broker defaults (auto-creation); does not wait. */
  requestTopicCreation(name: string): void;
  /** DeleteTopics through the active controller, by name; one result per name. */
  deleteTopics(names: string[], timeoutMs: number): Promise<{ name: string; errorCode: number; errorMessage: string | null }[]>;
  /** CreatePartitions through the active controller. */
  createPartitions(request: RequestBodyByKey[37]): Promise<BodyInput<ResponseBodyByKey[37]>>;
  /** AlterPartitionReassignments through the active controller. */
  alterPartitionReassignments(request: RequestBodyByKey[45]): Promise<BodyInput<ResponseBodyByKey[45]>>;
  /** ListPartitionReassignments, answered by the active controller. */
  listPartitionReassignments(request: RequestBodyByKey[46]): Promise<BodyInput<ResponseBodyByKey[46]>>;
  /** A block of producer ids no other broker was given (KIP-730); rejects when no controller answered. */
  allocateProducerIds(): Promise<{ errorCode: number; start: bigint; length: number }>;
}
