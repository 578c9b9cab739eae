// TxnOffsetCommit, versions 0-3: a transactional producer commits a group's offsets inside its
// transaction. They are written to __consumer_offsets at once, in a transactional batch, and
// become visible to OffsetFetch only when the transaction commits. Version 3 names the
// member and generation (KIP-447), which are checked like an OffsetCommit's. The transaction
// must hold the group's offsets partition (AddOffsetsToTxn came first), checked with the
// transaction coordinator wherever it is.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { TransactionalOffset } from '../group-coordinator.ts';
import { defineHandler } from '../handler.ts';
import { OFFSETS_TOPIC } from '../offsets-topic.ts';
import { fencedErrorFor } from '../transaction-coordinator.ts';
import { verificationErrorFor } from '../transaction-verification.ts';

export const txnOffsetCommit = defineHandler({
  apiKey: ApiKey.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 3,
  async handle(request, { broker, apiVersion }) {
    const unknown = (topic: string, partition: number) => {
      const known = broker.topics.get(topic);
      return known === undefined || partition < 0 || partition >= known.partitionCount;
    };
    // TxnOffsetCommit goes to the group's coordinator, which checks that the transaction holds
    // the group's offsets partition: itself when it coordinates the transaction too, else by
    // asking the transaction's coordinator on another broker (KIP-890 verification).
    let errorCode: number = request.groupId === '' ? ErrorCode.INVALID_GROUP_ID : broker.coordinators.groupError(request.groupId);
    const transactionHere = broker.coordinators.transactionError(request.transactionalId) === ErrorCode.NONE;
    const offsetsPartition = { topic: OFFSETS_TOPIC, partition: broker.offsetsTopic.partitionFor(request.groupId) };
    if (errorCode === ErrorCode.NONE && transactionHere) {
      errorCode = fencedErrorFor(
        broker.transactions.checkOffsetCommit(request.transactionalId, request.producerId, request.producerEpoch, offsetsPartition),
        apiVersion, 3,
      );
    } else if (errorCode === ErrorCode.NONE) {
      const verified = await broker.verifier.verifyPartition(request.transactionalId, request.producerId, request.producerEpoch, offsetsPartition.topic, offsetsPartition.partition);
      errorCode = fencedErrorFor(verificationErrorFor(verified, ErrorCode.PRODUCER_FENCED, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS), apiVersion, 3);
    }
    if (errorCode === ErrorCode.NONE) {
      errorCode = broker.groups.transactionalCommitError({
        groupId: request.groupId, generationId: request.generationId, memberId: request.memberId, groupInstanceId: request.groupInstanceId,
      });
    }
    if (errorCode === ErrorCode.NONE) {
      const nowMs = BigInt(Date.now());
      const offsets: TransactionalOffset[] = request.topics.flatMap((topic) => topic.partitions
        .filter((p) => !unknown(topic.name, p.partitionIndex))
        .map((p) => ({
          key: { kind: 'offset' as const, group: request.groupId, topic: topic.name, partition: p.partitionIndex },
          value: { offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata, commitTimestampMs: nowMs },
        })));
      errorCode = await broker.offsetsTopic.appendTransactional(request.groupId, request.producerId, request.producerEpoch, offsets);
    }
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: unknown(topic.name, p.partitionIndex) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : errorCode,
        })),
      })),
    };
  },
});
