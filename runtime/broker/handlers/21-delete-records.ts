// DeleteRecords, versions 0-2: moves a partition's log start offset forward.
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const deleteRecords = defineHandler({
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({ partitionIndex: p.partitionIndex, ...broker.replicas.deleteRecords(topic.name, p.partitionIndex, p.offset) })),
      })),
    };
  },
});
