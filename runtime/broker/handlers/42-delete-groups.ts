// DeleteGroups, versions 0-2. Only empty groups can be deleted (NON_EMPTY_GROUP otherwise).
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const deleteGroups = defineHandler({
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(request, { broker }) {
    const results = await Promise.all(request.groupsNames.map(async (groupId) => {
      const coordinatorError = broker.coordinators.groupError(groupId);
      return { groupId, errorCode: coordinatorError !== ErrorCode.NONE ? coordinatorError : await broker.groups.delete(groupId) };
    }));
    return { throttleTimeMs: 0, results };
  },
});
