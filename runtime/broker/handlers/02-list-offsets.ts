// ListOffsets, versions 1-7: earliest (-2), latest (-1), max timestamp (-3, v7) and by time.
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const listOffsets = defineHandler({
  apiKey: ApiKey.ListOffsets,
  minVersion: 1,
  maxVersion: 7,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          const result = broker.replicas.listOffset(topic.name, partition.partitionIndex, partition.timestamp);
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
