// InitProducerId, versions 0-5. Without a transactional id it hands out a fresh producer id for
// an idempotent producer, or (v3+, KIP-360) bumps the epoch of the one the producer names. With
// a transactional id the transaction coordinator answers: a new epoch that fences the previous
// producer, whose open transaction is aborted. PRODUCER_FENCED is sent from version 4 on;
// older clients get INVALID_PRODUCER_EPOCH (KIP-588).
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { fencedErrorFor, PRODUCER_EPOCH_MAX } from '../transaction-coordinator.ts';

export const initProducerId = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle(request, { broker, apiVersion }) {
    const expected = apiVersion >= 3 && request.producerId >= 0n ? { producerId: request.producerId, producerEpoch: request.producerEpoch } : null;
    if (request.transactionalId !== null && request.transactionalId !== '') {
      const coordinatorError = broker.coordinators.transactionError(request.transactionalId);
      if (coordinatorError !== ErrorCode.NONE) return { throttleTimeMs: 0, errorCode: coordinatorError, producerId: -1n, producerEpoch: -1 };
      const answer = await broker.transactions.initProducerId(request.transactionalId, request.transactionTimeoutMs, expected);
      return { throttleTimeMs: 0, ...answer, errorCode: fencedErrorFor(answer.errorCode, apiVersion, 4) };
    }
    // An idempotent producer that lost track of its sequences starts a new epoch of its id.
    if (expected !== null && expected.producerEpoch >= 0 && expected.producerEpoch < PRODUCER_EPOCH_MAX - 1) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: expected.producerId, producerEpoch: expected.producerEpoch + 1 };
    }
    const producerId = broker.producerIds.next();
    // In a cluster the next block of ids may still be on its way from the controller.
    if (producerId === null) return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, producerId: -1n, producerEpoch: -1 };
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
});
