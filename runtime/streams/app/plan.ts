// The physical plan of a topology on a cluster: which tasks exist (one per sub-topology and
// partition of its widest source), which input partitions each task reads, and the internal
// topics (repartition, changelog) with their partition counts and configs. The counts follow
// core/topology/partition-counts.ts, which also refuses co-partitioned topics that disagree.
import { resolvePartitionCounts } from '../../../core/topology/partition-counts.ts';
import { findStore, resolveTopicName, subtopologySourceTopics, subtopologyStores, type Topology } from '../../../core/topology/topology.ts';
import type { TopicPartition } from '../../client/index.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

export interface TaskPlan {
  /** `<subtopology>_<partition>`. */
  readonly id: string;
  readonly subtopologyId: number;
  readonly partition: number;
  /** Input partitions under their names on the cluster. */
  readonly inputs: readonly TopicPartition[];
  /** True when the task owns stores, so its placement should follow its local state. */
  readonly stateful: boolean;
}

export interface InternalTopicPlan {
  /** Name on the cluster, `<application.id>-<name>`. */
  readonly name: string;
  readonly kind: 'repartition' | 'changelog';
  readonly partitions: number;
  readonly config: Readonly<Record<string, string>>;
}

export interface TopologyPlan {
  readonly tasks: readonly TaskPlan[];
  readonly internalTopics: readonly InternalTopicPlan[];
  /** Sub-topology reading each input topic (cluster names). */
  readonly subtopologyByTopic: ReadonlyMap<string, number>;
  /** Task count of each sub-topology. */
  readonly taskCounts: ReadonlyMap<number, number>;
  /** User topics the topology reads; they must exist before it starts. */
  readonly userSourceTopics: readonly string[];
  /** Partition counts of every topic known at planning: sources, existing sinks, internal topics. */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

export class TopologyPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopologyPlanError';
  }
}

export function taskId(subtopologyId: number, partition: number): string {
  return `${subtopologyId}_${partition}`;
}

/** Topics global stores read, sorted. */
export function globalSourceTopics(topology: Topology): string[] {
  return [...new Set(topology.globalStores.flatMap((global) => global.source.topics))].sort();
}

/** Topics sinks write to by name (internal ones excluded), sorted. */
export function userSinkTopics(topology: Topology): string[] {
  const internal = new Set(topology.internalTopics.map((topic) => topic.name));
  const topics = new Set<string>();
  for (const subtopology of topology.subtopologies) {
    for (const node of subtopology.nodes) if (node.kind === 'sink' && typeof node.topic === 'string' && !internal.has(node.topic)) topics.add(node.topic);
  }
  return [...topics].sort();
}

/** User source topics of a topology (internal ones excluded), sorted. */
export function userSourceTopics(topology: Topology): string[] {
  const internal = new Set(topology.internalTopics.map((topic) => topic.name));
  const topics = new Set<string>();
  for (const subtopology of topology.subtopologies) for (const topic of subtopologySourceTopics(subtopology)) if (!internal.has(topic)) topics.add(topic);
  return [...topics].sort();
}

/**
 * Plans the topology against the partition counts of its user source topics. Throws a
 * TopologyPlanError for what the runtime cannot run: pattern sources, missing source topics and
 * co-partitioned topics whose partition counts differ.
 */
export function planTopology(topology: Topology, applicationId: string, userPartitions: ReadonlyMap<string, number>): TopologyPlan {
  for (const subtopology of topology.subtopologies) {
    for (const node of subtopology.nodes) if (node.kind === 'source' && node.pattern !== null) throw new TopologyPlanError(`source ${node.name} subscribes to a pattern; StreamsApp needs topic names`);
  }
  const sources = userSourceTopics(topology);
  for (const topic of [...sources, ...globalSourceTopics(topology)]) if (!userPartitions.has(topic)) throw new TopologyPlanError(`source topic ${topic} does not exist; create it before starting the application`);
  let counts;
  try {
    counts = resolvePartitionCounts(topology, (topic) => (typeof topic === 'string' ? (userPartitions.get(topic) ?? 1) : 1));
  } catch (error) {
    throw new TopologyPlanError(`cannot plan the topology: ${error instanceof Error ? error.message : String(error)}`);
  }
  const subtopologyByTopic = new Map<string, number>();
  const tasks: TaskPlan[] = [];
  for (const subtopology of topology.subtopologies) {
    const inputTopics = subtopologySourceTopics(subtopology).map((topic) => resolveTopicName(topology, applicationId, topic));
    for (const topic of inputTopics) {
      const reader = subtopologyByTopic.get(topic);
      if (reader !== undefined && reader !== subtopology.id) throw new TopologyPlanError(`topic ${topic} is read by sub-topologies ${reader} and ${subtopology.id}; a topic may feed one only`);
      subtopologyByTopic.set(topic, subtopology.id);
    }
    const taskCount = counts.tasks.get(subtopology.id) ?? 1;
    const stateful = subtopologyStores(subtopology).length > 0;
    for (let partition = 0; partition < taskCount; partition++) {
      const inputs = inputTopics
        .filter((topic) => partition < (partitionCountOf(topology, applicationId, counts.topics, userPartitions, topic) ?? 0))
        .map((topic) => ({ topic, partition }));
      tasks.push({ id: taskId(subtopology.id, partition), subtopologyId: subtopology.id, partition, inputs, stateful });
    }
  }
  if (tasks.length > STREAMS_APP_LIMITS.tasksPerInstanceMax) throw new TopologyPlanError(`the topology has ${tasks.length} tasks, above ${STREAMS_APP_LIMITS.tasksPerInstanceMax}`);
  const internalTopics = topology.internalTopics.map((topic): InternalTopicPlan => ({
    name: `${applicationId}-${topic.name}`,
    kind: topic.kind,
    partitions: counts.topics.get(topic.name) ?? 1,
    config: topicConfig(topology, topic.name, topic.kind, topic.config),
  }));
  const partitionCounts = new Map(userPartitions);
  for (const topic of internalTopics) partitionCounts.set(topic.name, topic.partitions);
  return { tasks, internalTopics, subtopologyByTopic, taskCounts: counts.tasks, userSourceTopics: sources, partitionCounts };
}

function partitionCountOf(topology: Topology, applicationId: string, internal: ReadonlyMap<string, number>, user: ReadonlyMap<string, number>, clusterName: string): number | undefined {
  const prefix = `${applicationId}-`;
  if (clusterName.startsWith(prefix)) {
    const count = internal.get(clusterName.slice(prefix.length));
    if (count !== undefined && topology.internalTopics.some((topic) => `${prefix}${topic.name}` === clusterName)) return count;
  }
  return user.get(clusterName);
}

/**
 * Window and session changelogs are compacted and deleted: retention must cover the store's
 * retention plus a day, as Kafka Streams sets it, or the broker would drop windows still live.
 */
function topicConfig(topology: Topology, name: string, kind: 'repartition' | 'changelog', config: Readonly<Record<string, string>>): Record<string, string> {
  const result: Record<string, string> = { ...config };
  if (kind === 'repartition') {
    result['cleanup.policy'] ??= 'delete';
    return result;
  }
  const store = topology.stores.find((candidate) => candidate.changelogTopic === name);
  const descriptor = store === undefined ? undefined : findStore(topology, store.name);
  if (descriptor !== undefined && descriptor.kind !== 'key-value' && descriptor.retentionMs !== null && result['retention.ms'] === undefined) {
    result['retention.ms'] = String(descriptor.retentionMs + STREAMS_APP_LIMITS.windowChangelogAdditionalRetentionMs);
  }
  result['cleanup.policy'] ??= descriptor === undefined || descriptor.kind === 'key-value' ? 'compact' : 'compact,delete';
  return result;
}
