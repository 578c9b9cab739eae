// Metadata, versions 0-12. A null topic list (v1+) or an empty one (v0) means all topics.
// Unknown topics are created when the request allows it (v4+, always before) and
// auto.create.topics.enable is set; the answer then names them with LEADER_NOT_AVAILABLE-free
// metadata because a single node creates them synchronously.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { CLUSTER_ID, type Broker } from '../broker.ts';
import { defineHandler, ZERO_UUID, OPERATIONS_OMITTED } from '../handler.ts';
import type { TopicRecord } from '../topic-registry.ts';


function describeTopic(broker: Broker, topic: TopicRecord) {
  const nodeId = broker.nodeId;
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: topic.internal,
    partitions: Array.from({ length: topic.partitionCount }, (_, index) => ({
      errorCode: ErrorCode.NONE,
      partitionIndex: index,
      leaderId: nodeId,
      leaderEpoch: broker.replicas.get(topic.name, index)?.leaderEpoch ?? 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

function missingTopic(name: string | null, topicId: string, errorCode: number) {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: OPERATIONS_OMITTED };
}

export const metadata = defineHandler({
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 12,
  handle(request, { broker, apiVersion }) {
    const { host, port } = broker.advertisedAddress;
    const allTopics = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
    const allowCreate = (apiVersion < 4 || request.allowAutoTopicCreation) && broker.config['auto.create.topics.enable'];
    const topics = allTopics
      ? broker.topics.list().map((topic) => describeTopic(broker, topic))
      : (request.topics ?? []).map((wanted) => {
        const byId = wanted.name === null || wanted.name === undefined;
        const existing = byId ? broker.topics.getById(wanted.topicId) : broker.topics.get(wanted.name!);
        if (existing !== undefined) return describeTopic(broker, existing);
        if (byId) return missingTopic(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID);
        if (!allowCreate) return missingTopic(wanted.name!, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        const created = broker.autoCreateTopic(wanted.name!);
        return 'errorCode' in created ? missingTopic(wanted.name!, ZERO_UUID, created.errorCode) : describeTopic(broker, created);
      });
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: broker.nodeId, host, port, rack: null }],
      clusterId: CLUSTER_ID,
      controllerId: broker.nodeId,
      topics,
      clusterAuthorizedOperations: OPERATIONS_OMITTED,
    };
  },
});
