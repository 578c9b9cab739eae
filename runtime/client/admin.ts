// The admin client: topics, partitions, configs, groups and offsets. Each call sends one kind
// of request to the broker that must answer it (the controller for topic changes, the group
// coordinator for group offsets, every broker for ListGroups) and turns per-item Kafka error
// codes into a KafkaProtocolError naming the topic or group.
import { z } from 'zod';
import { ApiKey } from '../../core/protocol/index.ts';
import { Cluster, type BrokerInfo, type TopicInfo } from './cluster.ts';
import { KafkaProtocolError, throwIfError } from './errors.ts';
import { decodeAssignment, type TopicPartitions } from './group-protocol.ts';
import { clusterOptions, commonOptionsShape, parseOptions, type KafkaStyleOptions } from './options.ts';

export const adminOptionsSchema = z.strictObject({ ...commonOptionsShape });
export type AdminOptions = Partial<z.input<typeof adminOptionsSchema>> & KafkaStyleOptions;

export interface NewTopic {
  topic: string;
  /** -1 (the default) lets the broker use num.partitions. */
  numPartitions?: number;
  replicationFactor?: number;
  configs?: Readonly<Record<string, string>>;
}

export interface PartitionDescription {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

/** A reassignment in progress: `replicas` holds the target followed by the removing replicas. */
export interface PartitionReassignment {
  topic: string;
  partition: number;
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
}

export interface TopicDescription {
  name: string;
  topicId: string;
  internal: boolean;
  partitions: PartitionDescription[];
}

export type ConfigResourceType = 'topic' | 'broker';

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  isDefault: boolean;
  source: ConfigSource;
  sensitive: boolean;
}

/** Where a config value comes from (DescribeConfigs configSource). */
export type ConfigSource = 'unknown' | 'topic' | 'dynamic-broker' | 'dynamic-default-broker' | 'static-broker' | 'default' | 'dynamic-broker-logger';
const CONFIG_SOURCES: readonly ConfigSource[] = ['unknown', 'topic', 'dynamic-broker', 'dynamic-default-broker', 'static-broker', 'default', 'dynamic-broker-logger'];

export interface GroupListing {
  groupId: string;
  protocolType: string;
  state: string;
}

export interface GroupMemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  assignment: TopicPartitions[];
}

export interface GroupDescription {
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: GroupMemberDescription[];
}

export type OffsetSpec = 'earliest' | 'latest' | { timestamp: number | bigint };
export type ResetTarget = OffsetSpec | { offset: bigint };

export interface PartitionOffset {
  partition: number;
  offset: bigint;
  timestamp: bigint;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: bigint;
  metadata?: string | null;
}

const RESOURCE_TYPE: Readonly<Record<ConfigResourceType, number>> = { topic: 2, broker: 4 };
const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;

export class Admin {
  private readonly cluster: Cluster;
  private readonly timeoutMs: number;

  constructor(options: AdminOptions) {
    const resolved = parseOptions(adminOptionsSchema, options, 'admin');
    this.cluster = new Cluster(clusterOptions(resolved, false));
    this.timeoutMs = resolved.requestTimeoutMs;
  }

  async connect(): Promise<void> {
    await this.cluster.refreshMetadata([]);
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }

  /** The brokers the cluster's metadata lists now (the live, registered ones), by node id. */
  async describeCluster(): Promise<{ brokers: BrokerInfo[] }> {
    await this.cluster.refreshMetadata([]);
    return { brokers: this.cluster.brokerList() };
  }

  async createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const connection = await this.cluster.controllerConnection();
    const { body } = await connection.send(ApiKey.CreateTopics, {
      timeoutMs: this.timeoutMs,
      validateOnly: options.validateOnly ?? false,
      topics: topics.map((topic) => ({
        name: topic.topic,
        numPartitions: topic.numPartitions ?? -1,
        replicationFactor: topic.replicationFactor ?? -1,
        assignments: [],
        configs: Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    for (const result of body.topics) throwIfError(result.errorCode, `create topic ${result.name}`, result.errorMessage);
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    const connection = await this.cluster.controllerConnection();
    const { body } = await connection.send(ApiKey.DeleteTopics, { topicNames: [...topics], timeoutMs: this.timeoutMs });
    for (const result of body.responses) throwIfError(result.errorCode, `delete topic ${result.name ?? result.topicId}`, result.errorMessage);
  }

  /** Topic names, sorted; internal topics only when asked for. */
  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const metadata = await this.cluster.refreshMetadata(null, false);
    return [...metadata.values()]
      .filter((entry) => entry.info !== null && (options.includeInternal === true || !entry.info.internal))
      .map((entry) => (entry.info as TopicInfo).name)
      .sort();
  }

  /** Describes the named topics (all topics when none are named). */
  async describeTopics(topics?: readonly string[]): Promise<TopicDescription[]> {
    const metadata = await this.cluster.refreshMetadata(topics === undefined ? null : [...topics], false);
    const descriptions: TopicDescription[] = [];
    for (const [name, entry] of metadata) {
      throwIfError(entry.info === null ? entry.errorCode : 0, `describe topic ${name}`);
      const info = entry.info as TopicInfo;
      descriptions.push({
        name: info.name, topicId: info.topicId, internal: info.internal,
        partitions: info.partitions.map(({ partition, leader, replicas, isr, offlineReplicas }) => ({ partition, leader, replicas, isr, offlineReplicas })),
      });
    }
    return descriptions.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Raises the partition count of each topic to `count`. */
  async createPartitions(requests: readonly { topic: string; count: number }[]): Promise<void> {
    const connection = await this.cluster.controllerConnection();
    const { body } = await connection.send(ApiKey.CreatePartitions, {
      timeoutMs: this.timeoutMs, validateOnly: false,
      topics: requests.map((request) => ({ name: request.topic, count: request.count, assignments: null })),
    });
    for (const result of body.results) throwIfError(result.errorCode, `create partitions for ${result.name}`, result.errorMessage);
  }

  /**
   * Moves partitions to new replicas (the first preferred as leader), or cancels the move in
   * progress when `replicas` is null. Returns once the controller started (or cancelled) each
   * move; listPartitionReassignments shows the ones still in progress.
   */
  async alterPartitionReassignments(moves: readonly { topic: string; partition: number; replicas: readonly number[] | null }[]): Promise<void> {
    const byTopic = new Map<string, { partitionIndex: number; replicas: number[] | null }[]>();
    for (const move of moves) {
      let list = byTopic.get(move.topic);
      if (list === undefined) byTopic.set(move.topic, list = []);
      list.push({ partitionIndex: move.partition, replicas: move.replicas === null ? null : [...move.replicas] });
    }
    const connection = await this.cluster.controllerConnection();
    const { body } = await connection.send(ApiKey.AlterPartitionReassignments, {
      timeoutMs: this.timeoutMs, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    });
    throwIfError(body.errorCode, 'reassign partitions', body.errorMessage);
    for (const topic of body.responses) {
      for (const partition of topic.partitions) throwIfError(partition.errorCode, `reassign ${topic.name}-${partition.partitionIndex}`, partition.errorMessage);
    }
  }

  /** The reassignments in progress, of the named topics or of all. */
  async listPartitionReassignments(topics?: readonly { topic: string; partitions: readonly number[] }[]): Promise<PartitionReassignment[]> {
    const connection = await this.cluster.controllerConnection();
    const { body } = await connection.send(ApiKey.ListPartitionReassignments, {
      timeoutMs: this.timeoutMs, topics: topics === undefined ? null : topics.map((entry) => ({ name: entry.topic, partitionIndexes: [...entry.partitions] })),
    });
    throwIfError(body.errorCode, 'list partition reassignments', body.errorMessage);
    return body.topics.flatMap((topic) => topic.partitions.map((partition) => ({
      topic: topic.name, partition: partition.partitionIndex, replicas: partition.replicas, addingReplicas: partition.addingReplicas, removingReplicas: partition.removingReplicas,
    })));
  }

  async describeConfigs(resource: { type: ConfigResourceType; name: string; keys?: readonly string[] }): Promise<ConfigEntry[]> {
    const connection = resource.type === 'broker' && /^\d+$/.test(resource.name)
      ? await this.cluster.connectionTo(Number(resource.name))
      : await this.cluster.anyConnection();
    const { body } = await connection.send(ApiKey.DescribeConfigs, {
      includeSynonyms: false, includeDocumentation: false,
      resources: [{ resourceType: RESOURCE_TYPE[resource.type], resourceName: resource.name, configurationKeys: resource.keys === undefined ? null : [...resource.keys] }],
    });
    const result = body.results[0];
    if (result === undefined) return [];
    throwIfError(result.errorCode, `describe configs of ${resource.type} ${resource.name}`, result.errorMessage);
    return result.configs.map((config) => {
      const source = CONFIG_SOURCES[config.configSource] ?? 'unknown';
      return { name: config.name, value: config.value, readOnly: config.readOnly, isDefault: source === 'default', source, sensitive: config.isSensitive };
    }).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Sets and deletes (reverts to default) configs with IncrementalAlterConfigs. */
  async alterConfigs(resource: { type: ConfigResourceType; name: string; set?: Readonly<Record<string, string>>; delete?: readonly string[] }): Promise<void> {
    const connection = await this.cluster.anyConnection();
    const configs = [
      ...Object.entries(resource.set ?? {}).map(([name, value]) => ({ name, configOperation: 0, value })),
      ...(resource.delete ?? []).map((name) => ({ name, configOperation: 1, value: null })),
    ];
    const { body } = await connection.send(ApiKey.IncrementalAlterConfigs, {
      validateOnly: false,
      resources: [{ resourceType: RESOURCE_TYPE[resource.type], resourceName: resource.name, configs }],
    });
    for (const result of body.responses) throwIfError(result.errorCode, `alter configs of ${resource.type} ${result.resourceName}`, result.errorMessage);
  }

  /** Every group on every broker. */
  async listGroups(): Promise<GroupListing[]> {
    await this.cluster.refreshMetadata([]);
    const groups: GroupListing[] = [];
    for (const broker of this.cluster.brokerList()) {
      const connection = await this.cluster.connectionTo(broker.nodeId);
      const { body } = await connection.send(ApiKey.ListGroups, { statesFilter: [], typesFilter: [] });
      throwIfError(body.errorCode, `list groups on broker ${broker.nodeId}`);
      for (const group of body.groups) groups.push({ groupId: group.groupId, protocolType: group.protocolType, state: group.groupState });
    }
    return groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    const descriptions: GroupDescription[] = [];
    for (const groupId of groupIds) {
      const connection = await this.cluster.coordinatorConnection(groupId);
      const { body } = await connection.send(ApiKey.DescribeGroups, { groups: [groupId], includeAuthorizedOperations: false });
      for (const group of body.groups) {
        throwIfError(group.errorCode, `describe group ${group.groupId}`);
        descriptions.push({
          groupId: group.groupId, state: group.groupState, protocolType: group.protocolType, protocol: group.protocolData,
          members: group.members.map((member) => ({
            memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId, clientHost: member.clientHost,
            assignment: group.protocolType === 'consumer' && member.memberAssignment.length > 0 ? decodeAssignment(member.memberAssignment).partitions : [],
          })),
        });
      }
    }
    return descriptions;
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    for (const groupId of groupIds) {
      const connection = await this.cluster.coordinatorConnection(groupId);
      const { body } = await connection.send(ApiKey.DeleteGroups, { groupsNames: [groupId] });
      for (const result of body.results) throwIfError(result.errorCode, `delete group ${result.groupId}`);
    }
  }

  /** Offsets of every partition of `topic`: the earliest, the latest, or the first at a time. */
  async listOffsets(topic: string, spec: OffsetSpec): Promise<PartitionOffset[]> {
    const info = await this.cluster.topic(topic, true);
    const timestamp = spec === 'earliest' ? EARLIEST_TIMESTAMP : spec === 'latest' ? LATEST_TIMESTAMP : BigInt(spec.timestamp);
    const byLeader = new Map<number, number[]>();
    for (const partition of info.partitions) byLeader.set(partition.leader, [...(byLeader.get(partition.leader) ?? []), partition.partition]);
    const offsets: PartitionOffset[] = [];
    for (const [leader, partitions] of byLeader) {
      const connection = await this.cluster.connectionTo(leader);
      const { body } = await connection.send(ApiKey.ListOffsets, {
        replicaId: -1, isolationLevel: 0,
        topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }],
      });
      for (const result of body.topics.flatMap((entry) => entry.partitions)) {
        throwIfError(result.errorCode, `list offsets of ${topic}-${result.partitionIndex}`);
        offsets.push({ partition: result.partitionIndex, offset: result.offset, timestamp: result.timestamp });
      }
    }
    return offsets.sort((a, b) => a.partition - b.partition);
  }

  /** The group's committed offsets (for the named topics, else for every topic it committed). */
  async fetchGroupOffsets(groupId: string, topics?: readonly string[]): Promise<TopicPartitionOffset[]> {
    const request = topics === undefined ? null : await Promise.all(topics.map(async (topic) => ({
      name: topic, partitionIndexes: (await this.cluster.topic(topic)).partitions.map((partition) => partition.partition),
    })));
    const connection = await this.cluster.coordinatorConnection(groupId);
    const { body } = await connection.send(ApiKey.OffsetFetch, { groupId, topics: request, requireStable: false });
    throwIfError(body.errorCode, `fetch offsets of group ${groupId}`);
    const offsets: TopicPartitionOffset[] = [];
    for (const topic of body.topics) {
      for (const partition of topic.partitions) {
        throwIfError(partition.errorCode, `fetch offset of group ${groupId} for ${topic.name}-${partition.partitionIndex}`);
        offsets.push({ topic: topic.name, partition: partition.partitionIndex, offset: partition.committedOffset, metadata: partition.metadata });
      }
    }
    return offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * Commits offsets for a group with no active members (the coordinator refuses while members
   * are joined, as kafka-consumer-groups --reset-offsets does).
   */
  async setGroupOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const topics = new Map<string, { partitionIndex: number; committedOffset: bigint; committedMetadata: string | null; committedLeaderEpoch: number }[]>();
    for (const entry of offsets) {
      const list = topics.get(entry.topic) ?? [];
      list.push({ partitionIndex: entry.partition, committedOffset: entry.offset, committedMetadata: entry.metadata ?? '', committedLeaderEpoch: -1 });
      topics.set(entry.topic, list);
    }
    const connection = await this.cluster.coordinatorConnection(groupId);
    const { body } = await connection.send(ApiKey.OffsetCommit, {
      groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    });
    for (const topic of body.topics) {
      for (const partition of topic.partitions) throwIfError(partition.errorCode, `set offset of group ${groupId} for ${topic.name}-${partition.partitionIndex}`);
    }
  }

  /**
   * The offsets a reset would commit for `topic` (all partitions, or those listed): the earliest,
   * the latest, the first at or after a time (the latest when no record is that late), or a
   * given offset kept within earliest..latest, as kafka-consumer-groups --reset-offsets plans.
   */
  async planOffsetReset(topic: string, target: ResetTarget, partitions?: readonly number[]): Promise<TopicPartitionOffset[]> {
    const earliest = await this.listOffsets(topic, 'earliest');
    const latest = await this.listOffsets(topic, 'latest');
    const atTime = typeof target === 'object' && 'timestamp' in target ? await this.listOffsets(topic, target) : [];
    const chosen = partitions ?? earliest.map((entry) => entry.partition);
    return chosen.map((partition) => {
      const low = earliest.find((entry) => entry.partition === partition)?.offset;
      const high = latest.find((entry) => entry.partition === partition)?.offset;
      if (low === undefined || high === undefined) throw new KafkaProtocolError(3, `topic ${topic} partition ${partition}`);
      let offset: bigint;
      if (target === 'earliest') offset = low;
      else if (target === 'latest') offset = high;
      else if ('offset' in target) offset = target.offset < low ? low : target.offset > high ? high : target.offset;
      else {
        const found = atTime.find((entry) => entry.partition === partition)?.offset ?? -1n;
        offset = found < 0n ? high : found;
      }
      return { topic, partition, offset };
    });
  }

  /** Plans and commits a reset; the group must have no active members. Returns what was committed. */
  async resetGroupOffsets(groupId: string, topic: string, target: ResetTarget, partitions?: readonly number[]): Promise<TopicPartitionOffset[]> {
    const plan = await this.planOffsetReset(topic, target, partitions);
    await this.setGroupOffsets(groupId, plan);
    return plan;
  }

  /** Deletes records before `offset` in each partition (DeleteRecords); returns the new low watermarks. */
  async deleteRecords(topic: string, offsets: readonly { partition: number; offset: bigint }[]): Promise<PartitionOffset[]> {
    const info = await this.cluster.topic(topic, true);
    const results: PartitionOffset[] = [];
    for (const entry of offsets) {
      const leader = info.partitions[entry.partition]?.leader ?? -1;
      const connection = await this.cluster.connectionTo(leader);
      const { body } = await connection.send(ApiKey.DeleteRecords, {
        timeoutMs: this.timeoutMs, topics: [{ name: topic, partitions: [{ partitionIndex: entry.partition, offset: entry.offset }] }],
      });
      for (const result of body.topics.flatMap((item) => item.partitions)) {
        throwIfError(result.errorCode, `delete records of ${topic}-${result.partitionIndex}`);
        results.push({ partition: result.partitionIndex, offset: result.lowWatermark, timestamp: -1n });
      }
    }
    return results;
  }
}
