// OffsetCommit, versions 2-9. Metadata strings round-trip as sent. A commit with generation -1
// and no member id is a "simple" commit from a client outside the group protocol. The answer
// waits until the offsets are committed in __consumer_offsets (on every in-sync replica).
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const offsetCommit = defineHandler({
  apiKey: ApiKey.OffsetCommit,
  minVersion: 2,
  maxVersion: 9,
  async handle(request, { broker }) {
    const offsets = request.topics.flatMap((topic) => topic.partitions.map((p) => ({
      topic: topic.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata,
    })));
    const unknown = (topic: string, partition: number) => {
      const known = broker.topics.get(topic);
      return known === undefined || partition < 0 || partition >= known.partitionCount;
    };
    const coordinatorError = request.groupId === '' ? ErrorCode.INVALID_GROUP_ID : broker.coordinators.groupError(request.groupId);
    const errorCode = coordinatorError !== ErrorCode.NONE
      ? coordinatorError
      : await broker.groups.commitOffsets({
        groupId: request.groupId,
        generationId: request.generationIdOrMemberEpoch,
        memberId: request.memberId,
        groupInstanceId: request.groupInstanceId,
        offsets: offsets.filter((o) => !unknown(o.topic, o.partition)),
      }, Date.now());
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: unknown(topic.name, p.partitionIndex) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : errorCode,
        })),
      })),
    };
  },
});
