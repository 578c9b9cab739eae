// Fetch, versions 4-16. Full fetches only: the broker answers sessionId 0, which tells clients
// that send fetch sessions (KIP-227) to keep sending full requests. From version 13 topics are
// named by id. Waits in the purgatory up to maxWaitMs for minBytes. Under read_committed
// (isolation level 1) records stop at the last stable offset and the answer lists the aborted
// transactions among them, which the client filters out. In a cluster, a request with a
// replica id is a follower's (see follower-fetch.ts): it reads up to the log end and moves
// the high watermark.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { LIMITS } from '../../../core/limits.ts';
import { defineHandler, ZERO_UUID } from '../handler.ts';
import { serveFollowerFetch, type FollowerFetchPartition } from '../follower-fetch.ts';
import type { FetchPartitionRequest } from '../replica-manager.ts';
import type { ClusterView } from '../cluster-view.ts';

function currentLeaderOf(cluster: ClusterView, topic: string, partition: number): { leaderId: number; leaderEpoch: number } {
  const found = cluster.partition(topic, partition);
  return found === undefined ? { leaderId: -1, leaderEpoch: -1 } : { leaderId: found.leader, leaderEpoch: found.leaderEpoch };
}


export const fetch = defineHandler({
  apiKey: ApiKey.Fetch,
  minVersion: 4,
  maxVersion: 16,
  async handle(request, { broker, apiVersion }) {
    const byId = apiVersion >= 13;
    const replicaId = apiVersion >= 15 ? request.replicaState.replicaId : request.replicaId;
    if (replicaId >= 0 && broker.cluster !== null) {
      const partitions: FollowerFetchPartition[] = [];
      for (const topic of request.topics) {
        const name = byId ? broker.topics.getById(topic.topicId)?.name : topic.topic;
        for (const partition of topic.partitions) {
          partitions.push({ topic: name ?? '', partition: partition.partition, fetchOffset: partition.fetchOffset, currentLeaderEpoch: partition.currentLeaderEpoch, partitionMaxBytes: partition.partitionMaxBytes });
        }
      }
      const results = await serveFollowerFetch(broker.replicas, replicaId, partitions, {
        maxWaitMs: Math.min(request.maxWaitMs, LIMITS.fetchWaitMsMax), maxBytes: request.maxBytes, nowMs: Date.now(),
      });
      const responses = request.topics.map((topic) => ({
        topic: topic.topic,
        topicId: topic.topicId,
        partitions: topic.partitions.map((partition) => {
          const name = byId ? broker.topics.getById(topic.topicId)?.name ?? '' : topic.topic;
          const result = results.find((r) => r.topic === name && r.partition === partition.partition)!;
          return {
            partitionIndex: partition.partition, errorCode: result.errorCode, highWatermark: result.highWatermark, lastStableOffset: -1n,
            logStartOffset: result.logStartOffset, abortedTransactions: [], preferredReadReplica: -1, records: result.records,
          };
        }),
      }));
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
    }
    const wanted: FetchPartitionRequest[] = [];
    const unknownIds = new Set<string>();
    for (const topic of request.topics) {
      const name = byId ? broker.topics.getById(topic.topicId)?.name : topic.topic;
      if (name === undefined) { unknownIds.add(topic.topicId); continue; }
      for (const partition of topic.partitions) {
        wanted.push({
          topic: name, partition: partition.partition, fetchOffset: partition.fetchOffset, partitionMaxBytes: partition.partitionMaxBytes,
          currentLeaderEpoch: apiVersion >= 9 ? partition.currentLeaderEpoch : -1,
        });
      }
    }
    const maxBytes = apiVersion >= 3 ? request.maxBytes : LIMITS.requestFrameBytesMax;
    const results = await broker.replicas.fetch(wanted, {
      minBytes: request.minBytes,
      maxBytes,
      maxWaitMs: Math.min(request.maxWaitMs, LIMITS.fetchWaitMsMax),
      isolationLevel: request.isolationLevel,
    });
    const byTopic = new Map<string, typeof results>();
    for (const result of results) {
      let list = byTopic.get(result.topic);
      if (list === undefined) byTopic.set(result.topic, list = []);
      list.push(result);
    }
    const responses = [...byTopic].map(([name, partitions]) => ({
      topic: name,
      topicId: broker.topics.get(name)?.topicId ?? ZERO_UUID,
      partitions: partitions.map((p) => ({
        partitionIndex: p.partition,
        errorCode: p.errorCode,
        highWatermark: p.highWatermark,
        lastStableOffset: p.lastStableOffset,
        logStartOffset: p.logStartOffset,
        abortedTransactions: p.abortedTransactions,
        preferredReadReplica: -1,
        records: p.records,
        // In a cluster the answer names the partition's leader and epoch (v12+), so a client
        // told NOT_LEADER_OR_FOLLOWER can go straight there.
        ...(broker.cluster === null ? {} : { currentLeader: currentLeaderOf(broker.cluster, name, p.partition) }),
      })),
    }));
    for (const topicId of unknownIds) {
      const topic = request.topics.find((t) => t.topicId === topicId)!;
      responses.push({
        topic: '',
        topicId,
        partitions: topic.partitions.map((p) => ({
          partitionIndex: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_ID, highWatermark: -1n, lastStableOffset: -1n,
          logStartOffset: -1n, abortedTransactions: [], preferredReadReplica: -1, records: null,
        })),
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses };
  },
});
