// InitProducerId, versions 0-5. Hands out producer ids for idempotent producers. Transactional
// ids are refused until the transaction coordinator exists.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const initProducerId = defineHandler({
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  handle(request, { broker }) {
    if (request.transactionalId !== null) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 };
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: broker.producerIds.next(), producerEpoch: 0 };
  },
});
