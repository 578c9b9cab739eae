// AddPartitionsToTxn, versions 0-3: a transactional producer names the partitions it is about
// to write before it writes them. Versions 4+ batch many transactions for broker-to-broker
// verification (KIP-890) and are not served. If any partition is unknown, nothing is added:
// those get UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED, as in Kafka.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { fencedErrorFor } from '../transaction-coordinator.ts';

export const addPartitionsToTxn = defineHandler({
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, { broker, apiVersion }) {
    const known = (topic: string, partition: number) => {
      const record = broker.topics.get(topic);
      return record !== undefined && !record.internal && partition >= 0 && partition < record.partitionCount;
    };
    const wanted = request.v3AndBelowTopics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })));
    const anyUnknown = wanted.some(({ topic, partition }) => !known(topic, partition));
    const coordinatorError = broker.coordinators.transactionError(request.v3AndBelowTransactionalId);
    const errorCode = coordinatorError !== ErrorCode.NONE ? coordinatorError : anyUnknown ? ErrorCode.NONE : fencedErrorFor(
      await broker.transactions.addPartitions(request.v3AndBelowTransactionalId, request.v3AndBelowProducerId, request.v3AndBelowProducerEpoch, wanted),
      apiVersion, 2,
    );
    const codeFor = (topic: string, partition: number) => {
      if (!anyUnknown || coordinatorError !== ErrorCode.NONE) return errorCode;
      return known(topic, partition) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    };
    return {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: request.v3AndBelowTopics.map((topic) => ({
        name: topic.name,
        resultsByPartition: topic.partitions.map((partition) => ({ partitionIndex: partition, partitionErrorCode: codeFor(topic.name, partition) })),
      })),
    };
  },
});
