// AddPartitionsToTxn, versions 0-4. Versions 0-3: a transactional producer names the partitions
// it is about to write before it writes them. If any partition is unknown, nothing is added:
// those get UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED, as in Kafka.
// Version 4 (KIP-890) is what brokers send each other, many transactions at once: with
// verifyOnly, a partition leader asks whether its partitions are part of the ongoing
// transaction before a transactional batch may open one there (transaction-verification.ts);
// each partition answers NONE or INVALID_TXN_STATE, and nothing is added. Version 5 only adds
// TRANSACTION_ABORTABLE (KIP-890 part 2) and is not served.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { AddPartitionsToTxnRequest } from '../../../core/protocol/messages/index.ts';
import type { Broker } from '../broker.ts';
import { defineHandler } from '../handler.ts';
import { fencedErrorFor } from '../transaction-coordinator.ts';

type Topics = AddPartitionsToTxnRequest['v3AndBelowTopics'];
type TopicResults = { name: string; resultsByPartition: { partitionIndex: number; partitionErrorCode: number }[] }[];

export const addPartitionsToTxn = defineHandler({
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 4,
  async handle(request, { broker, apiVersion }) {
    if (apiVersion >= 4) {
      const resultsByTransaction = await Promise.all(request.transactions.map(async (transaction) => ({
        transactionalId: transaction.transactionalId,
        topicResults: transaction.verifyOnly
          ? verify(broker, transaction.transactionalId, transaction.producerId, transaction.producerEpoch, transaction.topics)
          : await add(broker, transaction.transactionalId, transaction.producerId, transaction.producerEpoch, transaction.topics, apiVersion),
      })));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
    }
    const resultsByTopicV3AndBelow = await add(broker, request.v3AndBelowTransactionalId, request.v3AndBelowProducerId, request.v3AndBelowProducerEpoch, request.v3AndBelowTopics, apiVersion);
    return { throttleTimeMs: 0, resultsByTopicV3AndBelow };
  },
});

async function add(broker: Broker, transactionalId: string, producerId: bigint, producerEpoch: number, topics: Topics, apiVersion: number): Promise<TopicResults> {
  const known = (topic: string, partition: number) => {
    const record = broker.topics.get(topic);
    return record !== undefined && !record.internal && partition >= 0 && partition < record.partitionCount;
  };
  const wanted = topics.flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition })));
  const anyUnknown = wanted.some(({ topic, partition }) => !known(topic, partition));
  const coordinatorError = broker.coordinators.transactionError(transactionalId);
  const errorCode = coordinatorError !== ErrorCode.NONE ? coordinatorError : anyUnknown ? ErrorCode.NONE : fencedErrorFor(
    await broker.transactions.addPartitions(transactionalId, producerId, producerEpoch, wanted),
    apiVersion, 2,
  );
  const codeFor = (topic: string, partition: number) => {
    if (!anyUnknown || coordinatorError !== ErrorCode.NONE) return errorCode;
    return known(topic, partition) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  };
  return topics.map((topic) => ({
    name: topic.name,
    resultsByPartition: topic.partitions.map((partition) => ({ partitionIndex: partition, partitionErrorCode: codeFor(topic.name, partition) })),
  }));
}

/** verifyOnly: is each partition part of the producer's ongoing transaction? Nothing changes. */
function verify(broker: Broker, transactionalId: string, producerId: bigint, producerEpoch: number, topics: Topics): TopicResults {
  const coordinatorError = broker.coordinators.transactionError(transactionalId);
  return topics.map((topic) => ({
    name: topic.name,
    resultsByPartition: topic.partitions.map((partition) => ({
      partitionIndex: partition,
      partitionErrorCode: coordinatorError !== ErrorCode.NONE
        ? coordinatorError
        : broker.transactions.checkTransactionalWrite({ transactionalId, producerId, producerEpoch, topic: topic.name, partition }),
    })),
  }));
}
