// EndTxn, versions 0-3: commits or aborts the producer's transaction. The answer comes after
// the markers are in every partition of the transaction, so a read_committed consumer sees a
// committed transaction as soon as the producer hears it committed.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { fencedErrorFor } from '../transaction-coordinator.ts';

export const endTxn = defineHandler({
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, { broker, apiVersion }) {
    const coordinatorError = broker.coordinators.transactionError(request.transactionalId);
    if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError, producerId: -1n, producerEpoch: -1 };
    const errorCode = await broker.transactions.endTransaction(request.transactionalId, request.producerId, request.producerEpoch, request.committed);
    return { throttleTimeMs: 0, errorCode: fencedErrorFor(errorCode, apiVersion, 2), producerId: -1n, producerEpoch: -1 };
  },
});
