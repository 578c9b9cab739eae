// SyncGroup, versions 0-5. The leader's request carries every member's assignment; the others
// wait for it.
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const syncGroup = defineHandler({
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(request, { broker }) {
    const result = await broker.groups.sync(request.groupId, request.generationId, request.memberId, request.assignments);
    return { throttleTimeMs: 0, ...result };
  },
});
