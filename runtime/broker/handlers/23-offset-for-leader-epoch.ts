// OffsetForLeaderEpoch, versions 0-4. For each partition: the largest leader epoch at or below
// the requested one in this leader's log, and the offset where it ends (the start of the next
// epoch, or the log end for the current one). A follower that comes back truncates its log
// there before it fetches (KIP-101, KIP-279), so it drops exactly the records the new leader
// never had. Consumers (librdkafka) use it to validate their position after a leader change.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { leaderEpochProblem } from '../follower-fetch.ts';
import type { ReplicaManager } from '../replica-manager.ts';

const UNDEFINED = { leaderEpoch: -1, endOffset: -1n };

export function endOffsetForLeaderEpoch(replicas: ReplicaManager, topic: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number): { errorCode: number; leaderEpoch: number; endOffset: bigint } {
  const state = replicas.get(topic, partition);
  if (state === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ...UNDEFINED };
  const replication = state.replication;
  if (replication !== undefined && replication.role !== 'leader') return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, ...UNDEFINED };
  const epochProblem = leaderEpochProblem(state, currentLeaderEpoch);
  if (epochProblem !== ErrorCode.NONE) return { errorCode: epochProblem, ...UNDEFINED };
  // An epoch newer than ours is one this leader never saw.
  if (leaderEpoch > state.leaderEpoch) return { errorCode: ErrorCode.NONE, ...UNDEFINED };
  if (replication === undefined) return { errorCode: ErrorCode.NONE, leaderEpoch: state.leaderEpoch, endOffset: state.log.logEndOffset };
  const found = replication.epochs.endOffsetForEpoch(leaderEpoch, state.log.logEndOffset);
  return { errorCode: ErrorCode.NONE, leaderEpoch: found.epoch, endOffset: found.endOffset };
}

export const offsetForLeaderEpoch = defineHandler({
  apiKey: ApiKey.OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((partition) => ({
          partition: partition.partition,
          ...endOffsetForLeaderEpoch(broker.replicas, topic.topic, partition.partition, partition.currentLeaderEpoch, partition.leaderEpoch),
        })),
      })),
    };
  },
});
