// Produce, versions 3-11 (record batches only; 0-2 carried the old message sets).
// acks=0 gets no response at all. A topic that does not exist is created first when
// auto.create.topics.enable is set, as Kafka does for producers. Internal topics
// (__consumer_offsets, __transaction_state) are written only by their coordinators. Batches
// with a producer id pass the partition's sequence and epoch checks (see producer-state.ts);
// transactional ones may first be verified with the transaction coordinator
// (transaction-verification.ts).
// In a cluster only the partition leader accepts records, and acks=all (-1) answers once the
// high watermark passes them, that is once every in-sync replica has them.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { partitionKey } from '../replica-manager.ts';

export const produce = defineHandler({
  apiKey: ApiKey.Produce,
  minVersion: 3,
  maxVersion: 11,
  async handle(request, { broker }) {
    // KIP-890: a transactional batch that would open a transaction on a partition whose
    // transaction coordinator is another broker waits for that coordinator's word first.
    const verifying = broker.verifier.verify(request);
    const refusals = verifying === null ? null : await verifying;
    const replicated: Promise<void>[] = [];
    const responses = request.topicData.map((topic) => {
      const known = broker.topics.get(topic.name) ?? (broker.config['auto.create.topics.enable'] ? broker.autoCreateTopic(topic.name) : undefined);
      return {
        name: topic.name,
        partitionResponses: topic.partitionData.map((partition) => {
          if (known === undefined || 'errorCode' in known) {
            return { index: partition.index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: null };
          }
          if (known.internal) {
            return { index: partition.index, errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n, recordErrors: [], errorMessage: `clients may not write to the internal topic ${topic.name}` };
          }
          const result = refusals?.get(partitionKey(topic.name, partition.index))
            ?? broker.replicas.append(topic.name, partition.index, partition.records, request.acks, request.transactionalId);
          const state = broker.replicas.get(topic.name, partition.index);
          const response = {
            index: partition.index,
            errorCode: result.errorCode,
            baseOffset: result.baseOffset,
            logAppendTimeMs: result.logAppendTimeMs,
            logStartOffset: result.logStartOffset,
            recordErrors: [],
            errorMessage: result.errorMessage,
          };
          if (request.acks === -1 && result.errorCode === ErrorCode.NONE && state?.replication !== undefined) {
            const requiredOffset = state.log.logEndOffset;
            replicated.push(broker.replicas.awaitReplication(topic.name, partition.index, requiredOffset, request.timeoutMs).then((errorCode) => {
              response.errorCode = errorCode;
            }));
          }
          return response;
        }),
      };
    });
    await Promise.all(replicated);
    if (request.acks === 0) return null;
    return { responses, throttleTimeMs: 0 };
  },
});
