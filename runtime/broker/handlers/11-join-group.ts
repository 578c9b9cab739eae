// JoinGroup, versions 0-9. From version 4 a new member first gets MEMBER_ID_REQUIRED with the id
// to rejoin with (KIP-394). The answer waits until the rebalance completes.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const joinGroup = defineHandler({
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  async handle(request, { broker, apiVersion, clientId, connection }) {
    const coordinatorError = broker.coordinators.groupError(request.groupId);
    if (coordinatorError !== ErrorCode.NONE) {
      return { throttleTimeMs: 0, errorCode: coordinatorError, generationId: -1, protocolType: null, protocolName: apiVersion >= 7 ? null : '', leader: '', skipAssignment: false, memberId: request.memberId, members: [] };
    }
    const result = await broker.groups.join({
      groupId: request.groupId,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
      clientId: clientId ?? '',
      clientHost: `/${connection.remoteAddress.replace(/:\d+$/, '')}`,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: apiVersion >= 1 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      requireKnownMemberId: apiVersion >= 4,
      reason: request.reason,
    });
    return {
      throttleTimeMs: 0,
      errorCode: result.errorCode,
      generationId: result.generationId,
      protocolType: result.protocolType,
      protocolName: apiVersion >= 7 ? result.protocolName : result.protocolName ?? '',
      leader: result.leader,
      skipAssignment: false,
      memberId: result.memberId,
      members: result.members,
    };
  },
});
