// SyncGroup, versions 0-5. The leader's request carries every member's assignment; the others
// wait for it.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const syncGroup = defineHandler({
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(request, { broker }) {
    const coordinatorError = broker.coordinators.groupError(request.groupId);
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
    const result = await broker.groups.sync(request.groupId, request.generationId, request.memberId, request.assignments);
    return { throttleTimeMs: 0, ...result };
  },
});
