// ListOffsets, versions 1-7: earliest (-2), latest (-1), max timestamp (-3, v7) and by time.
// Under read_committed (isolation level 1, v2+) latest is the last stable offset.
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const listOffsets = defineHandler({
  apiKey: ApiKey.ListOffsets,
  minVersion: 1,
  maxVersion: 7,
  handle(request, { broker, apiVersion }) {
    const isolationLevel = apiVersion >= 2 ? request.isolationLevel : 0;
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          const result = broker.replicas.listOffset(topic.name, partition.partitionIndex, partition.timestamp, isolationLevel);
          return {
            partitionIndex: partition.partitionIndex,
            errorCode: result.errorCode,
            oldStyleOffsets: [],
            timestamp: result.timestamp,
            offset: result.offset,
            leaderEpoch: result.leaderEpoch,
          };
        }),
      })),
    };
  },
});
