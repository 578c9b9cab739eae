// FindCoordinator, versions 0-6. Version 4 batched the keys. On one node this broker
// coordinates every group and transaction.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const findCoordinator = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  handle(request, { broker, apiVersion }) {
    const { host, port } = broker.advertisedAddress;
    const nodeId = broker.nodeId;
    if (apiVersion < 4) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId, host, port, coordinators: [] };
    }
    return {
      throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: -1, host: '', port: -1,
      coordinators: request.coordinatorKeys.map((key) => ({ key, nodeId, host, port, errorCode: ErrorCode.NONE, errorMessage: null })),
    };
  },
});
