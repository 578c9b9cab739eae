// OffsetFetch, versions 1-9. Version 8 asks for many groups at once. A null topic list (v2+)
// means every partition the group has committed. Partitions without a commit answer offset -1.
// With requireStable (v7+, KIP-447) a partition whose offset an open transaction is about to
// commit answers UNSTABLE_OFFSET_COMMIT, which the client retries, so that a read_committed
// consumer does not start from an offset that is about to change.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { Broker } from '../broker.ts';
import { defineHandler } from '../handler.ts';

interface PartitionAnswer {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

function fetchGroup(broker: Broker, groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, requireStable: boolean): { name: string; partitions: PartitionAnswer[] }[] {
  if (broker.coordinators.groupError(groupId) !== ErrorCode.NONE) return [];
  const answer = (topic: string, partition: number): PartitionAnswer => {
    if (requireStable && broker.groups.hasPendingTransactionalOffset(groupId, topic, partition)) {
      return { partitionIndex: partition, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
    }
    const committed = broker.groups.committedOffset(groupId, topic, partition);
    return committed === undefined
      ? { partitionIndex: partition, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }
      : { partitionIndex: partition, committedOffset: committed.offset, committedLeaderEpoch: committed.leaderEpoch, metadata: committed.metadata, errorCode: ErrorCode.NONE };
  };
  if (topics === null) {
    return [...broker.groups.committedTopics(groupId)].map(([name, partitions]) => ({
      name, partitions: [...partitions.keys()].sort((a, b) => a - b).map((partition) => answer(name, partition)),
    }));
  }
  return topics.map((topic) => ({ name: topic.name, partitions: topic.partitionIndexes.map((partition) => answer(topic.name, partition)) }));
}

export const offsetFetch = defineHandler({
  apiKey: ApiKey.OffsetFetch,
  minVersion: 1,
  maxVersion: 9,
  handle(request, { broker, apiVersion }) {
    if (apiVersion >= 8) {
      return {
        throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NONE,
        groups: request.groups.map((group) => ({
          groupId: group.groupId, topics: fetchGroup(broker, group.groupId, group.topics, request.requireStable), errorCode: broker.coordinators.groupError(group.groupId),
        })),
      };
    }
    const requireStable = apiVersion >= 7 && request.requireStable;
    const errorCode = broker.coordinators.groupError(request.groupId);
    // Version 1 has no group-level error; it answers per partition.
    if (errorCode !== ErrorCode.NONE && apiVersion < 2) {
      const topics = (request.topics ?? []).map((topic) => ({ name: topic.name, partitions: topic.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode })) }));
      return { throttleTimeMs: 0, topics, errorCode, groups: [] };
    }
    return { throttleTimeMs: 0, topics: fetchGroup(broker, request.groupId, request.topics, requireStable), errorCode, groups: [] };
  },
});
