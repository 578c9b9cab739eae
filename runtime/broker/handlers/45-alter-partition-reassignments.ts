// AlterPartitionReassignments, version 0 (KIP-455): moves partitions to new replicas, or
// cancels a move (replicas null). In a cluster the request goes to the active controller, which
// adds the target replicas, waits for them to join the ISR and then removes the others; the
// answer comes once the start (or the cancellation) is committed, not when the move is done.
// A single-node broker has one replica per partition and nothing to move.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const alterPartitionReassignments = defineHandler({
  apiKey: ApiKey.AlterPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  handle(request, { broker }) {
    if (broker.cluster !== null) return broker.cluster.alterPartitionReassignments(request);
    return {
      throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null,
      responses: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          const known = partition.partitionIndex < (broker.topics.get(topic.name)?.partitionCount ?? 0);
          const errorCode = !known ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            : partition.replicas === null ? ErrorCode.NO_REASSIGNMENT_IN_PROGRESS : ErrorCode.INVALID_REPLICA_ASSIGNMENT;
          return { partitionIndex: partition.partitionIndex, errorCode, errorMessage: known && partition.replicas !== null ? 'a single-node broker cannot move replicas' : null };
        }),
      })),
    };
  },
});
