// DeleteGroups, versions 0-2. Only empty groups can be deleted (NON_EMPTY_GROUP otherwise).
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const deleteGroups = defineHandler({
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  handle(request, { broker }) {
    return { throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode: broker.groups.delete(groupId) })) };
  },
});
