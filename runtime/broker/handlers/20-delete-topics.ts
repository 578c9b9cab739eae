// DeleteTopics, versions 0-6. Version 6 may name topics by id. In a cluster the active
// controller deletes them (RemoveTopic), and every broker drops its replicas.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler, ZERO_UUID } from '../handler.ts';
import { isInternalTopic } from '../coordinator-partitions.ts';


export const deleteTopics = defineHandler({
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  async handle(request, { broker, apiVersion }) {
    const wanted = apiVersion >= 6
      ? request.topics.map((t) => ({ name: t.name ?? broker.topics.getById(t.topicId)?.name ?? null, topicId: t.topicId }))
      : request.topicNames.map((name) => ({ name, topicId: broker.topics.get(name)?.topicId ?? ZERO_UUID }));
    if (broker.cluster !== null) {
      // The coordinators' internal topics are refused, as on a single node.
      const names = wanted.flatMap(({ name }) => (name === null || isInternalTopic(name) ? [] : [name]));
      const results = await broker.cluster.deleteTopics(names, request.timeoutMs);
      return {
        throttleTimeMs: 0,
        responses: wanted.map(({ name, topicId }) => {
          if (isInternalTopic(name)) return { name, topicId, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: `internal topic ${name} cannot be deleted` };
          const result = results.find((r) => r.name === name);
          return { name, topicId, errorCode: name === null ? ErrorCode.UNKNOWN_TOPIC_ID : result?.errorCode ?? ErrorCode.REQUEST_TIMED_OUT, errorMessage: result?.errorMessage ?? null };
        }),
      };
    }
    return {
      throttleTimeMs: 0,
      responses: wanted.map(({ name, topicId }) => {
        const errorCode = name === null ? ErrorCode.UNKNOWN_TOPIC_ID : broker.deleteTopic(name);
        return { name, topicId, errorCode, errorMessage: errorCode === ErrorCode.NONE ? null : `could not delete topic ${name ?? topicId}` };
      }),
    };
  },
});
