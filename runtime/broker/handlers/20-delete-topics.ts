// DeleteTopics, versions 0-6. Version 6 may name topics by id.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler, ZERO_UUID } from '../handler.ts';


export const deleteTopics = defineHandler({
  apiKey: ApiKey.DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  handle(request, { broker, apiVersion }) {
    const wanted = apiVersion >= 6
      ? request.topics.map((t) => ({ name: t.name ?? broker.topics.getById(t.topicId)?.name ?? null, topicId: t.topicId }))
      : request.topicNames.map((name) => ({ name, topicId: broker.topics.get(name)?.topicId ?? ZERO_UUID }));
    return {
      throttleTimeMs: 0,
      responses: wanted.map(({ name, topicId }) => {
        const errorCode = name === null ? ErrorCode.UNKNOWN_TOPIC_ID : broker.deleteTopic(name);
        return { name, topicId, errorCode, errorMessage: errorCode === ErrorCode.NONE ? null : `could not delete topic ${name ?? topicId}` };
      }),
    };
  },
});
