// AddOffsetsToTxn, versions 0-3: the group's __consumer_offsets partition joins the
// transaction, so that its commit or abort marker decides the fate of the offsets the producer
// then sends with TxnOffsetCommit.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { OFFSETS_TOPIC } from '../offsets-topic.ts';
import { fencedErrorFor } from '../transaction-coordinator.ts';

export const addOffsetsToTxn = defineHandler({
  apiKey: ApiKey.AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, { broker, apiVersion }) {
    if (request.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID };
    const coordinatorError = broker.coordinators.transactionError(request.transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError };
    broker.offsetsTopic.ensureExists();
    const partition = { topic: OFFSETS_TOPIC, partition: broker.offsetsTopic.partitionFor(request.groupId) };
    const errorCode = await broker.transactions.addPartitions(request.transactionalId, request.producerId, request.producerEpoch, [partition]);
    return { throttleTimeMs: 0, errorCode: fencedErrorFor(errorCode, apiVersion, 2) };
  },
});
