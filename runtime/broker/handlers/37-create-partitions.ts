// CreatePartitions, versions 0-3: partitions only grow. In a cluster the active controller
// places the new partitions' replicas as it would have at creation.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const createPartitions = defineHandler({
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  handle(request, { broker }) {
    if (broker.cluster !== null) return broker.cluster.createPartitions(request);
    return {
      throttleTimeMs: 0,
      results: request.topics.map((topic) => {
        const problem = broker.createPartitions(topic.name, topic.count, request.validateOnly);
        return { name: topic.name, errorCode: problem?.errorCode ?? ErrorCode.NONE, errorMessage: problem?.errorMessage ?? null };
      }),
    };
  },
});
