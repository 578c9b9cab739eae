// DescribeGroups, versions 0-5.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler, OPERATIONS_OMITTED } from '../handler.ts';


export const describeGroups = defineHandler({
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      groups: request.groups.map((groupId) => {
        const coordinatorError = broker.coordinators.groupError(groupId);
        if (coordinatorError !== ErrorCode.NONE) {
          return { errorCode: coordinatorError, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: OPERATIONS_OMITTED };
        }
        const group = broker.groups.describe(groupId);
        if (group === undefined) {
          return { errorCode: ErrorCode.NONE, groupId, groupState: 'Dead', protocolType: '', protocolData: '', members: [], authorizedOperations: OPERATIONS_OMITTED };
        }
        return {
          errorCode: ErrorCode.NONE,
          groupId,
          groupState: group.state,
          protocolType: group.protocolType,
          protocolData: group.protocolName,
          members: group.members.map((m) => ({
            memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
            memberMetadata: m.metadata, memberAssignment: m.assignment,
          })),
          authorizedOperations: OPERATIONS_OMITTED,
        };
      }),
    };
  },
});
