// FindCoordinator, versions 0-6. Version 4 batched the keys. On one node this broker
// coordinates every group and transaction. In a cluster, until the coordinators follow the
// leaders of replicated __consumer_offsets partitions, every broker names the same one (the
// live broker with the lowest id), so the members of a group meet in one place.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const findCoordinator = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  handle(request, { broker, apiVersion }) {
    const chosen = broker.cluster?.liveBrokers()[0];
    const { host, port } = chosen ?? broker.advertisedAddress;
    const nodeId = chosen?.nodeId ?? broker.nodeId;
    if (apiVersion < 4) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId, host, port, coordinators: [] };
    }
    return {
      throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: -1, host: '', port: -1,
      coordinators: request.coordinatorKeys.map((key) => ({ key, nodeId, host, port, errorCode: ErrorCode.NONE, errorMessage: null })),
    };
  },
});
