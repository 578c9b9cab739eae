// Heartbeat, versions 0-4. A broker that does not coordinate the group answers NOT_COORDINATOR.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const heartbeat = defineHandler({
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(request, { broker }) {
    const coordinatorError = broker.coordinators.groupError(request.groupId);
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError };
    return { throttleTimeMs: 0, errorCode: broker.groups.heartbeat(request.groupId, request.generationId, request.memberId) };
  },
});
