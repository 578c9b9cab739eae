// FindCoordinator, versions 0-6. Version 4 batched the keys. On one node this broker
// coordinates every group and transaction. In a cluster the coordinator of a group is the
// leader of its __consumer_offsets partition, and of a transactional id the leader of its
// __transaction_state partition (abs(Java hashCode) % partitions, as in Kafka); the first
// request creates the internal topic through the controller, and COORDINATOR_NOT_AVAILABLE
// answers while the topic or its leader is not there yet.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { Broker } from '../broker.ts';
import { defineHandler } from '../handler.ts';
import { OFFSETS_TOPIC } from '../offsets-topic.ts';
import { TRANSACTION_STATE_TOPIC } from '../transaction-log.ts';

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

function find(broker: Broker, keyType: number, key: string): { nodeId: number; host: string; port: number; errorCode: number } {
  const none = { nodeId: -1, host: '', port: -1 };
  if (keyType !== KEY_TYPE_GROUP && keyType !== KEY_TYPE_TRANSACTION) return { ...none, errorCode: ErrorCode.INVALID_REQUEST };
  if (keyType === KEY_TYPE_GROUP && key === '') return { ...none, errorCode: ErrorCode.INVALID_GROUP_ID };
  const found = broker.coordinators.coordinatorOf(keyType === KEY_TYPE_GROUP ? OFFSETS_TOPIC : TRANSACTION_STATE_TOPIC, key);
  return typeof found === 'number' ? { ...none, errorCode: found } : { ...found, errorCode: ErrorCode.NONE };
}

export const findCoordinator = defineHandler({
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  handle(request, { broker, apiVersion }) {
    if (apiVersion < 4) {
      const { errorCode, nodeId, host, port } = find(broker, apiVersion >= 1 ? request.keyType : KEY_TYPE_GROUP, request.key);
      return { throttleTimeMs: 0, errorCode, errorMessage: null, nodeId, host, port, coordinators: [] };
    }
    return {
      throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId: -1, host: '', port: -1,
      coordinators: request.coordinatorKeys.map((key) => ({ key, ...find(broker, request.keyType, key), errorMessage: null })),
    };
  },
});
