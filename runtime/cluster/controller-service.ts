// The controller on a node with the controller role: it serves BrokerRegistration,
// BrokerHeartbeat, AlterPartition and forwarded CreateTopics, DeleteTopics, CreatePartitions,
// AlterPartitionReassignments and ListPartitionReassignments on the controller listener (the
// quorum's port), and while its QuorumNode is the active leader it turns them into metadata
// records (ControllerLogic) and appends them to the metadata log.
//
// It acts only while the quorum says it leads with a quorum behind it, and only after its
// image has caught up with everything the previous leaders wrote (the high watermark passed
// the log end it found on election). Operations run one at a time: each waits for its records
// to commit, and so for the image to show them, before the next one decides.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ApiKey, decodeRequestBody, decodeRequestHeader, encodeResponseFrame, type BodyInput, type RequestBodyByKey, type ResponseBodyByKey } from '../../core/protocol/index.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import { validateTopicConfigs } from '../broker/topic-config.ts';
import { topicNameProblem } from '../broker/topic-registry.ts';
import { ControllerLogic, type ControllerSettings, type Outcome } from './controller-logic.ts';
import type { MetadataImage } from './metadata-image.ts';
import { encodeMetadataRecord } from './metadata-records.ts';
import type { QuorumNode } from './quorum-node.ts';

/** Producer ids per AllocateProducerIds block, Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE. */
const PRODUCER_ID_BLOCK_SIZE = 1000;

/** How often the controller looks for expired broker sessions. */
const SESSION_CHECK_INTERVAL_MS = 100;

/** Versions a controller serves to brokers; brokers send exactly these. */
export const CONTROLLER_VERSIONS = {
  [ApiKey.BrokerRegistration]: 0,
  [ApiKey.BrokerHeartbeat]: 0,
  [ApiKey.AlterPartition]: 2,
  [ApiKey.CreateTopics]: 7,
  [ApiKey.DeleteTopics]: 5,
  [ApiKey.CreatePartitions]: 3,
  [ApiKey.AllocateProducerIds]: 0,
  [ApiKey.AlterPartitionReassignments]: 0,
  [ApiKey.ListPartitionReassignments]: 0,
} as const;

export interface TopicDefaults {
  numPartitions: number;
  replicationFactor: number;
  /** delete.topic.enable */
  deleteTopicEnable: boolean;
}

const notController = (): Outcome => ({ errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'this node is not the active controller', records: [] });

export class ControllerService {
  private readonly logic: ControllerLogic;
  private chain: Promise<unknown> = Promise.resolve();
  private electedEpoch = -1;
  private readyOffset = -1n;
  private activated = false;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly quorum: QuorumNode,
    private readonly image: MetadataImage,
    settings: ControllerSettings,
    private readonly defaults: TopicDefaults,
    private readonly logger: Logger,
  ) {
    this.logic = new ControllerLogic(image, settings);
    this.timer = setInterval(() => this.tick(), SESSION_CHECK_INTERVAL_MS);
  }

  /** True while this node may act as the controller. */
  get isActive(): boolean {
    this.checkActivation();
    return this.activated && this.quorum.isActiveLeader;
  }

  private checkActivation(): void {
    const status = this.quorum.status;
    if (status.role !== 'leader') {
      this.activated = false;
      return;
    }
    if (status.epoch !== this.electedEpoch) {
      this.electedEpoch = status.epoch;
      this.readyOffset = status.logEndOffset;
      this.activated = false;
    }
    if (!this.activated && status.highWatermark >= this.readyOffset && this.quorum.isActiveLeader) {
      this.activated = true;
      this.logic.activate(performance.now());
      this.logger.info('active controller', { epoch: status.epoch });
    }
  }

  private tick(): void {
    if (this.closed || !this.isActive) return;
    void this.run(() => ({ errorCode: ErrorCode.NONE, errorMessage: null, records: this.logic.expireSessions(performance.now()) }));
  }

  /** Runs one decision after the previous one committed; its records commit before it resolves. */
  private run(decide: () => Outcome): Promise<Outcome> {
    const next = this.chain.then(async () => {
      if (this.closed || !this.isActive) return notController();
      const outcome = decide();
      if (outcome.records.length === 0) return outcome;
      try {
        await this.quorum.append(outcome.records.map(encodeMetadataRecord));
        return outcome;
      } catch (error) {
        this.logger.warn('metadata records not committed', { error: (error as Error).message });
        return notController();
      }
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Serves one request frame from a broker; returns the response frame, size prefix included. */
  async serve(frame: Buffer): Promise<Buffer> {
    const header = decodeRequestHeader(frame);
    const apiKey = header.apiKey;
    if (header.status !== 'ok' || !(apiKey in CONTROLLER_VERSIONS) || CONTROLLER_VERSIONS[apiKey as keyof typeof CONTROLLER_VERSIONS] !== header.apiVersion) {
      throw new Error(`the controller does not serve api ${apiKey} v${header.apiVersion}`);
    }
    const respond = <K extends keyof typeof CONTROLLER_VERSIONS>(key: K, body: BodyInput<ResponseBodyByKey[K]>): Buffer =>
      encodeResponseFrame(key, CONTROLLER_VERSIONS[key], header.correlationId, body);
    switch (apiKey) {
      case ApiKey.BrokerRegistration:
        return respond(ApiKey.BrokerRegistration, await this.register(decodeRequestBody(ApiKey.BrokerRegistration, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.BrokerHeartbeat:
        return respond(ApiKey.BrokerHeartbeat, await this.heartbeat(decodeRequestBody(ApiKey.BrokerHeartbeat, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.AlterPartition:
        return respond(ApiKey.AlterPartition, await this.alterPartition(decodeRequestBody(ApiKey.AlterPartition, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.DeleteTopics:
        return respond(ApiKey.DeleteTopics, await this.deleteTopics(decodeRequestBody(ApiKey.DeleteTopics, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.CreatePartitions:
        return respond(ApiKey.CreatePartitions, await this.createPartitions(decodeRequestBody(ApiKey.CreatePartitions, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.AllocateProducerIds:
        return respond(ApiKey.AllocateProducerIds, await this.allocateProducerIds(decodeRequestBody(ApiKey.AllocateProducerIds, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.AlterPartitionReassignments:
        return respond(ApiKey.AlterPartitionReassignments, await this.alterReassignments(decodeRequestBody(ApiKey.AlterPartitionReassignments, header.apiVersion, frame, header.bodyOffset)));
      case ApiKey.ListPartitionReassignments:
        return respond(ApiKey.ListPartitionReassignments, this.listReassignments(decodeRequestBody(ApiKey.ListPartitionReassignments, header.apiVersion, frame, header.bodyOffset)));
      default:
        return respond(ApiKey.CreateTopics, await this.createTopics(decodeRequestBody(ApiKey.CreateTopics, header.apiVersion, frame, header.bodyOffset)));
    }
  }

  private async register(request: RequestBodyByKey[62]): Promise<BodyInput<ResponseBodyByKey[62]>> {
    const listener = request.listeners[0];
    if (listener === undefined) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, brokerEpoch: -1n };
    const outcome = await this.run(() => this.logic.registerBroker({
      brokerId: request.brokerId, incarnationId: request.incarnationId, host: listener.host, port: listener.port, rack: request.rack,
    }, performance.now()));
    const registered = this.image.brokers.get(request.brokerId);
    const current = outcome.errorCode === ErrorCode.NONE && registered?.incarnationId === request.incarnationId;
    return { throttleTimeMs: 0, errorCode: current ? ErrorCode.NONE : outcome.errorCode || ErrorCode.NOT_CONTROLLER, brokerEpoch: current ? registered.brokerEpoch : -1n };
  }

  private async heartbeat(request: RequestBodyByKey[63]): Promise<BodyInput<ResponseBodyByKey[63]>> {
    const outcome = await this.run(() => this.logic.heartbeat({
      brokerId: request.brokerId, brokerEpoch: request.brokerEpoch, wantFence: request.wantFence, wantShutdown: request.wantShutDown,
    }, performance.now()));
    const broker = this.image.brokers.get(request.brokerId);
    const fenced = broker === undefined || broker.brokerEpoch !== request.brokerEpoch || broker.fenced;
    return { throttleTimeMs: 0, errorCode: outcome.errorCode, isCaughtUp: request.currentMetadataOffset >= this.image.appliedOffset - 1n, isFenced: fenced, shouldShutDown: request.wantShutDown && fenced };
  }

  private async alterPartition(request: RequestBodyByKey[56]): Promise<BodyInput<ResponseBodyByKey[56]>> {
    const topics = [];
    for (const topic of request.topics) {
      const partitions = [];
      for (const partition of topic.partitions) {
        const outcome = await this.run(() => this.logic.alterPartition({
          brokerId: request.brokerId, topicId: topic.topicId, partition: partition.partitionIndex,
          leaderEpoch: partition.leaderEpoch, partitionEpoch: partition.partitionEpoch, newIsr: partition.newIsr,
        }));
        const now = this.image.topicsById.get(topic.topicId)?.partitions[partition.partitionIndex];
        partitions.push({
          partitionIndex: partition.partitionIndex, errorCode: outcome.errorCode, leaderId: now?.leader ?? -1,
          leaderEpoch: now?.leaderEpoch ?? -1, isr: now?.isr ?? [], partitionEpoch: now?.partitionEpoch ?? -1,
        });
      }
      topics.push({ topicId: topic.topicId, partitions });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, topics };
  }

  private async createTopics(request: RequestBodyByKey[19]): Promise<BodyInput<ResponseBodyByKey[19]>> {
    const topics = [];
    for (const topic of request.topics) {
      const partitionCount = topic.numPartitions === -1 ? this.defaults.numPartitions : topic.numPartitions;
      const replicationFactor = topic.replicationFactor === -1 ? this.defaults.replicationFactor : topic.replicationFactor;
      const configs: Record<string, string> = {};
      for (const config of topic.configs) if (config.value !== null) configs[config.name] = config.value;
      const problem = this.topicProblem(topic.name, partitionCount, topic.assignments.length, configs);
      const outcome = problem ?? (request.validateOnly
        ? { errorCode: ErrorCode.NONE, errorMessage: null, records: [] }
        : await this.run(() => this.logic.createTopic(topic.name, partitionCount, replicationFactor, configs, randomUUID())));
      const created = this.image.topics.get(topic.name);
      topics.push({
        name: topic.name, topicId: created?.topicId ?? '00000000-0000-0000-0000-000000000000', errorCode: outcome.errorCode, errorMessage: outcome.errorMessage,
        topicConfigErrorCode: 0, numPartitions: outcome.errorCode === ErrorCode.NONE ? partitionCount : -1,
        replicationFactor: outcome.errorCode === ErrorCode.NONE ? replicationFactor : -1, configs: null,
      });
    }
    return { throttleTimeMs: 0, topics };
  }

  private async deleteTopics(request: RequestBodyByKey[20]): Promise<BodyInput<ResponseBodyByKey[20]>> {
    const responses = [];
    for (const name of request.topicNames) {
      const outcome = this.defaults.deleteTopicEnable
        ? await this.run(() => this.logic.deleteTopic(name))
        : { errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'delete.topic.enable is false', records: [] };
      responses.push({ name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
    }
    return { throttleTimeMs: 0, responses };
  }

  /** KIP-730: a block of producer ids, committed to the metadata log before the broker gets it. */
  private async allocateProducerIds(request: RequestBodyByKey[67]): Promise<BodyInput<ResponseBodyByKey[67]>> {
    let start = -1n;
    const outcome = await this.run(() => {
      const decided = this.logic.allocateProducerIds(request.brokerId, request.brokerEpoch, PRODUCER_ID_BLOCK_SIZE);
      start = decided.start;
      return decided;
    });
    const granted = outcome.errorCode === ErrorCode.NONE;
    return { throttleTimeMs: 0, errorCode: outcome.errorCode, producerIdStart: granted ? start : -1n, producerIdLen: granted ? PRODUCER_ID_BLOCK_SIZE : 0 };
  }

  private async createPartitions(request: RequestBodyByKey[37]): Promise<BodyInput<ResponseBodyByKey[37]>> {
    const results = [];
    for (const topic of request.topics) {
      const outcome = topic.assignments !== null && topic.assignments.length > 0
        ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'manual replica assignment is not supported yet' }
        : request.validateOnly
          ? { errorCode: ErrorCode.NONE, errorMessage: null }
          : await this.run(() => this.logic.createPartitions(topic.name, topic.count));
      results.push({ name: topic.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
    }
    return { throttleTimeMs: 0, results };
  }

  /** Each partition is one decision; its answer comes once its records committed. */
  private async alterReassignments(request: RequestBodyByKey[45]): Promise<BodyInput<ResponseBodyByKey[45]>> {
    if (!this.isActive) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'this node is not the active controller', responses: [] };
    const responses = [];
    for (const topic of request.topics) {
      const partitions = [];
      for (const partition of topic.partitions) {
        const outcome = await this.run(() => this.logic.alterReassignment({ topic: topic.name, partition: partition.partitionIndex, replicas: partition.replicas }));
        partitions.push({ partitionIndex: partition.partitionIndex, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage });
      }
      responses.push({ name: topic.name, partitions });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  }

  /** The reassignments in progress in the committed image; null topics lists every one. */
  private listReassignments(request: RequestBodyByKey[46]): BodyInput<ResponseBodyByKey[46]> {
    if (!this.isActive) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: 'this node is not the active controller', topics: [] };
    const wanted = request.topics === null ? null : new Map(request.topics.map((topic) => [topic.name, new Set(topic.partitionIndexes)]));
    const byTopic = new Map<string, { partitionIndex: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[]>();
    for (const { topic, partition } of this.image.reassigning()) {
      if (wanted !== null && wanted.get(topic.name)?.has(partition.partition) !== true) continue;
      let list = byTopic.get(topic.name);
      if (list === undefined) byTopic.set(topic.name, list = []);
      list.push({ partitionIndex: partition.partition, replicas: [...partition.replicas], addingReplicas: [...partition.addingReplicas], removingReplicas: [...partition.removingReplicas] });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
  }

  private topicProblem(name: string, partitionCount: number, assignmentCount: number, configs: Record<string, string>): Outcome | null {
    const nameProblem = topicNameProblem(name);
    if (nameProblem !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: nameProblem, records: [] };
    if (!Number.isInteger(partitionCount) || partitionCount < 1) return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `partition count ${partitionCount} must be at least 1`, records: [] };
    if (assignmentCount > 0) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'manual replica assignment is not supported yet', records: [] };
    const problems = validateTopicConfigs(configs);
    if (problems.length > 0) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: problems.map((p) => p.reason).join('; '), records: [] };
    return null;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}
