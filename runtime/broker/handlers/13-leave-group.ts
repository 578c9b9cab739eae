// LeaveGroup, versions 0-5. Version 3 made it a batch of members (KIP-345).
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const leaveGroup = defineHandler({
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  handle(request, { broker, apiVersion }) {
    const members = apiVersion >= 3
      ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
      : [{ memberId: request.memberId, groupInstanceId: null }];
    const coordinatorError = broker.coordinators.groupError(request.groupId);
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError, members: [] };
    const result = broker.groups.leave(request.groupId, members);
    return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
  },
});
