// Start-up work on the cluster: read the partition counts of the user topics the topology reads,
// then create the internal topics the plan needs. An internal topic that already exists with a
// different partition count is an error, not something to paper over: its keys would no longer
// land on the partitions the tasks expect.
import type { Topology } from '../../../core/topology/topology.ts';
import { KafkaProtocolError, type Admin } from '../../client/index.ts';
import { globalSourceTopics, planTopology, TopologyPlanError, userSinkTopics, userSourceTopics, type TopologyPlan } from './plan.ts';

/** TOPIC_ALREADY_EXISTS: another instance created it first, which is fine. */
const TOPIC_ALREADY_EXISTS = 36;

async function partitionCounts(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const existing = new Set(await admin.listTopics());
  const present = topics.filter((topic) => existing.has(topic));
  const counts = new Map<string, number>();
  if (present.length === 0) return counts;
  for (const description of await admin.describeTopics(present)) counts.set(description.name, description.partitions.length);
  return counts;
}

/** Creates the topics that do not exist yet; one created meanwhile by someone else is fine. */
async function createMissing(admin: Admin, topics: readonly { name: string; partitions: number; config: Readonly<Record<string, string>> }[]): Promise<void> {
  for (const topic of topics) {
    try {
      await admin.createTopics([{ topic: topic.name, numPartitions: topic.partitions, configs: topic.config }]);
    } catch (error) {
      if (!(error instanceof KafkaProtocolError && error.code === TOPIC_ALREADY_EXISTS)) throw error;
    }
  }
}

/**
 * Plans the topology against the cluster and makes sure every internal topic exists as planned.
 * With userTopicPartitions set (the embedded broker), missing source and sink topics are created
 * with that many partitions; otherwise a missing source topic is an error, as in Kafka Streams.
 */
export async function prepareTopics(admin: Admin, topology: Topology, applicationId: string, userTopicPartitions: number | null = null): Promise<TopologyPlan> {
  if (userTopicPartitions !== null) {
    const userTopics = [...new Set([...userSourceTopics(topology), ...globalSourceTopics(topology), ...userSinkTopics(topology)])];
    const present = await partitionCounts(admin, userTopics);
    await createMissing(admin, userTopics.filter((topic) => !present.has(topic)).map((name) => ({ name, partitions: userTopicPartitions, config: {} })));
  }
  // Existing sink topics are described too, so custom partitioners learn their partition counts.
  const plan = planTopology(topology, applicationId, await partitionCounts(admin, [...new Set([...userSourceTopics(topology), ...globalSourceTopics(topology), ...userSinkTopics(topology)])]));
  const existing = await partitionCounts(admin, plan.internalTopics.map((topic) => topic.name));
  for (const topic of plan.internalTopics) {
    const count = existing.get(topic.name);
    if (count !== undefined && count !== topic.partitions) {
      throw new TopologyPlanError(`internal topic ${topic.name} has ${count} partitions but the topology needs ${topic.partitions}; reset the application (delete its internal topics) after changing source partition counts`);
    }
  }
  await createMissing(admin, plan.internalTopics.filter((topic) => !existing.has(topic.name)));
  return plan;
}
