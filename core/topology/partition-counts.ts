// How many partitions each topic of a topology has and how many tasks each sub-topology runs,
// Kafka Streams' way: user topics have the counts the cluster (or the test driver) gives them;
// a sub-topology runs one task per partition of its widest source; a repartition topic without
// a fixed count gets the task count of the sub-topology writing to it; co-partitioned topics
// must agree, and repartition topics in a co-partition group follow the group's user topics;
// a changelog has one partition per task of the sub-topology that owns the store.
import { isInternalTopic, subtopologySourceTopics, subtopologyStores, type Subtopology, type Topology } from './topology.ts';

export interface PartitionCounts {
  /** Partition count per topic, internal topics under their unprefixed names. */
  readonly topics: ReadonlyMap<string, number>;
  /** Task count per sub-topology id. */
  readonly tasks: ReadonlyMap<number, number>;
}

/** Partition count of a user topic, or of the topics a pattern source matches. */
export type UserTopicPartitions = (topic: string | RegExp) => number;

function checkCount(topic: string | RegExp, count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new Error(`topic ${String(topic)} has ${count} partitions; it needs at least one`);
  return count;
}

function sinkTopics(subtopology: Subtopology): string[] {
  return subtopology.nodes.flatMap((node) => (node.kind === 'sink' && typeof node.topic === 'string' ? [node.topic] : []));
}

export function resolvePartitionCounts(topology: Topology, userTopicPartitions: UserTopicPartitions): PartitionCounts {
  const topics = new Map<string, number>();
  /** Repartition topics whose count is settled: fixed by the user or by co-partitioning. */
  const settled = new Set<string>();
  for (const topic of topology.internalTopics) {
    if (topic.kind !== 'repartition' || topic.partitions === null) continue;
    topics.set(topic.name, checkCount(topic.name, topic.partitions));
    settled.add(topic.name);
  }
  const countOf = (topic: string): number | undefined => {
    if (isInternalTopic(topology, topic)) return topics.get(topic);
    if (!topics.has(topic)) topics.set(topic, checkCount(topic, userTopicPartitions(topic)));
    return topics.get(topic);
  };
  const taskCount = (subtopology: Subtopology): number | undefined => {
    const counts = subtopologySourceTopics(subtopology).map(countOf);
    for (const node of subtopology.nodes) if (node.kind === 'source' && node.pattern !== null) counts.push(checkCount(node.pattern, userTopicPartitions(node.pattern)));
    const known = counts.filter((count): count is number => count !== undefined);
    return known.length === 0 ? undefined : Math.max(...known);
  };
  // Each pass settles at least one more topic or stops; more passes than topics mean a cycle.
  const passesMax = topology.internalTopics.length + topology.copartitionGroups.length + 2;
  for (let pass = 0; ; pass++) {
    if (pass > passesMax) throw new Error('partition counts of the repartition topics do not settle');
    let changed = false;
    for (const subtopology of topology.subtopologies) {
      const count = taskCount(subtopology);
      if (count === undefined) continue;
      for (const topic of sinkTopics(subtopology)) {
        if (!isInternalTopic(topology, topic) || settled.has(topic) || topics.get(topic) === count) continue;
        topics.set(topic, count);
        changed = true;
      }
    }
    for (const group of topology.copartitionGroups) changed = copartition(topology, group, topics, settled, countOf) || changed;
    if (!changed) break;
  }
  const tasks = new Map<number, number>();
  for (const subtopology of topology.subtopologies) tasks.set(subtopology.id, taskCount(subtopology) ?? 1);
  for (const store of topology.stores) {
    if (!store.logging || store.changelogTopic === null) continue;
    const owner = topology.subtopologies.find((subtopology) => subtopologyStores(subtopology).includes(store.name));
    topics.set(store.changelogTopic, owner === undefined ? 1 : (tasks.get(owner.id) ?? 1));
  }
  return { topics, tasks };
}

/**
 * Makes one co-partition group agree. User topics and fixed repartition topics must already
 * have one count (Kafka Streams refuses to start otherwise); the other repartition topics take
 * it, or the largest count in the group when only repartition topics are in it. Settled
 * topics keep their count, so the passes cannot undo each other.
 */
function copartition(topology: Topology, group: readonly string[], topics: Map<string, number>, settled: Set<string>, countOf: (topic: string) => number | undefined): boolean {
  const fixed = group.filter((topic) => !isInternalTopic(topology, topic) || settled.has(topic));
  const fixedCounts = new Set(fixed.map(countOf));
  if (fixedCounts.size > 1) {
    throw new Error(`co-partitioned topics [${fixed.join(', ')}] have different partition counts [${fixed.map((topic) => countOf(topic)).join(', ')}]`);
  }
  // Wait until every member is known, so the largest count is the real one.
  const counts = group.map(countOf);
  if (counts.some((count) => count === undefined)) return false;
  const target = fixed.length > 0 ? countOf(fixed[0] ?? '') : Math.max(...(counts as number[]));
  if (target === undefined) return false;
  let changed = false;
  for (const topic of group) {
    if (fixed.includes(topic)) continue;
    settled.add(topic);
    if (topics.get(topic) !== target) {
      topics.set(topic, target);
      changed = true;
    }
  }
  return changed;
}
