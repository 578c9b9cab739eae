// Metadata, versions 0-12. A null topic list (v1+) or an empty one (v0) means all topics.
// Unknown topics are created when the request allows it (v4+, always before) and
// auto.create.topics.enable is set; the answer then names them with LEADER_NOT_AVAILABLE-free
// metadata because a single node creates them synchronously. In a cluster the answer comes
// from the metadata image: every live broker, each partition's leader, leader epoch, replicas
// and ISR; topics being created answer LEADER_NOT_AVAILABLE until the controller commits them.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { CLUSTER_ID, type Broker } from '../broker.ts';
import { defineHandler, ZERO_UUID, OPERATIONS_OMITTED } from '../handler.ts';
import type { TopicRecord } from '../topic-registry.ts';
import type { ClusterTopic, ClusterView } from '../cluster-view.ts';
import type { RequestBodyByKey } from '../../../core/protocol/index.ts';
import { isInternalTopic } from '../coordinator-partitions.ts';


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

function describeClusterTopic(topic: ClusterTopic) {
  return {
    errorCode: ErrorCode.NONE,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: isInternalTopic(topic.name),
    partitions: topic.partitions.map((partition) => ({
      errorCode: partition.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      partitionIndex: partition.partition,
      leaderId: partition.leader,
      leaderEpoch: partition.leaderEpoch,
      replicaNodes: partition.replicas,
      isrNodes: partition.isr,
      offlineReplicas: partition.offline,
    })),
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

function clusterMetadata(request: RequestBodyByKey[3], broker: Broker, cluster: ClusterView, apiVersion: number) {
  const allTopics = request.topics === null || (apiVersion === 0 && request.topics.length === 0);
  const allowCreate = (apiVersion < 4 || request.allowAutoTopicCreation) && broker.config['auto.create.topics.enable'];
  const topics = allTopics
    ? cluster.topics().map(describeClusterTopic)
    : (request.topics ?? []).map((wanted) => {
      const byId = wanted.name === null || wanted.name === undefined;
      const existing = byId ? cluster.topicById(wanted.topicId) : cluster.topic(wanted.name!);
      if (existing !== undefined) return describeClusterTopic(existing);
      if (byId) return missingTopic(null, wanted.topicId, ErrorCode.UNKNOWN_TOPIC_ID);
      if (!allowCreate) return missingTopic(wanted.name!, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      cluster.requestTopicCreation(wanted.name!);
      return missingTopic(wanted.name!, ZERO_UUID, ErrorCode.LEADER_NOT_AVAILABLE);
    });
  const brokers = cluster.liveBrokers();
  return {
    throttleTimeMs: 0,
    brokers,
    clusterId: cluster.clusterId,
    controllerId: controllerForClients(cluster.controllerId(), brokers, broker.nodeId),
    topics,
    clusterAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

/**
 * The controller id clients see. Clients send admin requests to it, and every broker forwards
 * them to the active controller, so as in KRaft a controller that is not also a broker (a
 * controller-only node, which clients cannot reach) is reported as a live broker: this one.
 */
function controllerForClients(activeController: number, brokers: readonly { nodeId: number }[], self: number): number {
  if (brokers.some((candidate) => candidate.nodeId === activeController)) return activeController;
  if (brokers.some((candidate) => candidate.nodeId === self)) return self;
  return brokers[0]?.nodeId ?? -1;
}

export const metadata = defineHandler({
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 12,
  handle(request, { broker, apiVersion }) {
    if (broker.cluster !== null) return clusterMetadata(request, broker, broker.cluster, apiVersion);
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
