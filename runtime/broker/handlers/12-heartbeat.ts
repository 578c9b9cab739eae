// Heartbeat, versions 0-4.
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const heartbeat = defineHandler({
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(request, { broker }) {
    return { throttleTimeMs: 0, errorCode: broker.groups.heartbeat(request.groupId, request.generationId, request.memberId) };
  },
});
