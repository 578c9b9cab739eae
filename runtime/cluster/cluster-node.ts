// One node of a cluster: a broker, a controller, or both in one process (combined mode).
// The controller part is a QuorumNode (metadata log, Raft) plus the ControllerService; a
// broker-only node (one added to a running cluster, not among the voters) follows the metadata
// log as an observer (MetadataObserver) instead. The broker part is the ordinary Broker with a
// ClusterView, a BrokerLifecycle (registration and heartbeats), a ReplicaFetcher (follower
// side) and the ISR upkeep of the partitions it leads.
//
// Every committed metadata record is applied to this node's MetadataImage, and then the broker
// is reconciled with it: topics and partitions it hosts are opened, each partition leads or
// follows as the image says, and topics the image no longer has are dropped.
//
// Data directory: the broker's logs as on a single node, and the metadata quorum under
// `metadata-quorum/` (a name the log manager does not take for a partition).
import path from 'node:path';
import { LIMITS } from '../../core/limits.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { ApiKey, type BodyInput, type RequestBodyByKey, type ResponseBodyByKey } from '../../core/protocol/index.ts';
import { Broker } from '../broker/broker.ts';
import type { ClusterPartition, ClusterTopic, ClusterView } from '../broker/cluster-view.ts';
import type { BrokerConfig } from '../broker/config.ts';
import { partitionKey, type PartitionState } from '../broker/replica-manager.ts';
import { desiredIsr } from '../broker/replication.ts';
import { createLogger, type Logger } from '../logger.ts';
import { BrokerLifecycle } from './broker-lifecycle.ts';
import { ControllerService } from './controller-service.ts';
import { MetadataImage, type PartitionImage, type TopicImage } from './metadata-image.ts';
import { MetadataObserver } from './metadata-observer.ts';
import { decodeMetadataRecord } from './metadata-records.ts';
import type { CommittedBatch } from './quorum-core.ts';
import { QuorumNode } from './quorum-node.ts';
import { ReplicaFetcher } from './replica-fetcher.ts';
import type { Endpoint } from './request-channel.ts';

export const DEFAULT_CLUSTER_ID = 'runnel-cluster';
const CREATED_TOPIC_WAIT_MS = LIMITS.metadataPropagationWaitMsMax;
const CONTROLLED_SHUTDOWN_WAIT_MS = LIMITS.controlledShutdownWaitMsMax;
const ISR_RESEND_MS = LIMITS.isrProposalResendMs;
/** AlterPartition errors that mean the proposal was refused against the committed state. */
const REFUSALS = new Set<number>([
  ErrorCode.INELIGIBLE_REPLICA, ErrorCode.INVALID_REQUEST, ErrorCode.FENCED_LEADER_EPOCH, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
]);

/** Parses controller.quorum.voters ("1@host:port,2@host:port"). */
export function parseVoters(text: string): Map<number, Endpoint> {
  const voters = new Map<number, Endpoint>();
  for (const entry of text.split(',')) {
    const match = /^(\d+)@([^:]+):(\d+)$/.exec(entry.trim());
    if (match === null) throw new Error(`controller.quorum.voters: '${entry}' is not id@host:port`);
    voters.set(Number(match[1]), { host: match[2] as string, port: Number(match[3]) });
  }
  return voters;
}

export class ClusterNode {
  readonly image = new MetadataImage();
  readonly logger: Logger;
  readonly voters: Map<number, Endpoint>;
  broker: Broker | null = null;
  quorum: QuorumNode | null = null;
  controller: ControllerService | null = null;
  lifecycle: BrokerLifecycle | null = null;
  fetcher: ReplicaFetcher | null = null;
  /** A broker-only node's copy of the metadata log; voters have the quorum instead. */
  observer: MetadataObserver | null = null;
  private isrTimer: NodeJS.Timeout | null = null;
  private readonly pendingCreations = new Set<string>();
  /** When each partition's pending ISR proposal was last sent. */
  private readonly isrSentMs = new Map<string, number>();
  private stopped = false;

  private constructor(readonly config: BrokerConfig) {
    this.logger = createLogger(`node-${config['node.id']}`);
    const voters = config['controller.quorum.voters'];
    if (voters === undefined) throw new Error('a cluster node needs controller.quorum.voters');
    this.voters = parseVoters(voters);
  }

  get nodeId(): number {
    return this.config['node.id'];
  }

  get clusterId(): string {
    return this.config['cluster.id'] ?? DEFAULT_CLUSTER_ID;
  }

  static async start(config: BrokerConfig): Promise<ClusterNode> {
    const roles = (config['process.roles'] ?? '').split(',');
    const node = new ClusterNode(config);
    const isController = roles.includes('controller');
    const isBroker = roles.includes('broker');
    if (!isBroker && !isController) throw new Error(`process.roles must name broker, controller or both, not '${config['process.roles'] ?? ''}'`);
    if (isController && !node.voters.has(node.nodeId)) throw new Error(`node.id ${node.nodeId} is not among controller.quorum.voters`);
    if (!isController && node.voters.has(node.nodeId)) throw new Error(`node.id ${node.nodeId} is a voter in controller.quorum.voters, so it needs the controller role`);
    const dataDirectory = path.resolve(config['log.dirs'].split(',')[0] as string);
    if (isBroker) node.broker = await Broker.start(config, { cluster: node.view() });
    if (isController) await node.startController(path.join(dataDirectory, 'metadata-quorum'));
    else node.startObserver();
    if (isBroker) node.startBroker();
    return node;
  }

  private async startController(dataDirectory: string): Promise<void> {
    const config = this.config;
    const own = this.voters.get(this.nodeId) as Endpoint;
    this.quorum = await QuorumNode.start({
      config: {
        nodeId: this.nodeId, voters: [...this.voters.keys()], clusterId: this.clusterId,
        electionTimeoutMs: config['controller.quorum.election.timeout.ms'], fetchTimeoutMs: config['controller.quorum.fetch.timeout.ms'],
        requestTimeoutMs: Math.min(1000, config['controller.quorum.fetch.timeout.ms']),
        fetchMaxWaitMs: Math.min(250, Math.floor(config['controller.quorum.fetch.timeout.ms'] / 4)),
      },
      dataDirectory, host: own.host, port: own.port, peers: this.voters,
      onCommit: (batches) => this.applyCommitted(batches),
      serveOther: (frame) => (this.controller as ControllerService).serve(frame),
      logger: this.logger.child('quorum'),
    });
    this.controller = new ControllerService(this.quorum, this.image, {
      sessionTimeoutMs: config['broker.session.timeout.ms'], uncleanLeaderElection: config['unclean.leader.election.enable'],
    }, {
      numPartitions: config['num.partitions'], replicationFactor: config['default.replication.factor'], deleteTopicEnable: config['delete.topic.enable'],
    }, this.logger.child('controller'));
  }

  /** A broker-only node follows the metadata log as an observer of the quorum. */
  private startObserver(): void {
    const timeoutMs = this.config['controller.quorum.fetch.timeout.ms'];
    this.observer = new MetadataObserver({
      nodeId: this.nodeId, clusterId: this.clusterId, voters: this.voters,
      fetchMaxWaitMs: Math.min(250, Math.floor(timeoutMs / 4)), fetchMaxBytes: 1024 * 1024, requestTimeoutMs: Math.min(1000, timeoutMs),
      onCommit: (batches) => this.applyCommitted(batches), logger: this.logger.child('observer'),
    });
    this.observer.start();
  }

  /** The active controller as this node last heard: the quorum leader. */
  private controllerId(): number {
    return this.quorum?.status.leaderId ?? this.observer?.leaderId ?? -1;
  }

  private startBroker(): void {
    const broker = this.broker as Broker;
    this.fetcher = new ReplicaFetcher({
      broker,
      endpointOf: (brokerId) => {
        const registration = this.image.brokers.get(brokerId);
        return registration === undefined ? undefined : { host: registration.host, port: registration.port };
      },
      maxWaitMs: this.config['replica.fetch.wait.max.ms'],
      maxBytes: this.config['replica.fetch.max.bytes'],
      logger: this.logger.child('fetcher'),
    });
    this.lifecycle = new BrokerLifecycle({
      brokerId: this.nodeId, clusterId: this.clusterId, listener: () => broker.advertisedAddress, rack: this.config['broker.rack'] ?? null,
      voters: this.voters, heartbeatIntervalMs: this.config['broker.heartbeat.interval.ms'], image: this.image,
      controllerHint: () => this.controllerId(), logger: this.logger.child('lifecycle'),
    });
    this.lifecycle.start();
    const intervalMs = Math.max(10, Math.min(250, Math.floor(this.config['replica.lag.time.max.ms'] / 4)));
    this.isrTimer = setInterval(() => this.maintainIsr(), intervalMs);
    this.reconcile();
  }

  // ---------------------------------------------------------------- metadata

  private applyCommitted(batches: CommittedBatch[]): void {
    for (const batch of batches) {
      for (const record of batch.records) this.image.apply(decodeMetadataRecord(record.value), record.offset);
    }
    this.reconcile();
  }

  /** Makes the broker's partitions match the image: open, lead, follow or drop them. */
  private reconcile(): void {
    const broker = this.broker;
    if (broker === null || this.stopped) return;
    for (const topic of this.image.topics.values()) {
      const record = broker.syncTopicFromCluster(topic.name, topic.topicId, topic.partitions.length, { ...topic.configs });
      for (const partition of topic.partitions) {
        if (partition.replicas.includes(this.nodeId)) this.applyPartition(broker.hostPartition(record, partition.partition), partition);
        else if (broker.replicas.get(topic.name, partition.partition) !== undefined) {
          this.fetcher?.unfollow(topic.name, partition.partition);
          broker.dropPartition(topic.name, partition.partition);
        }
      }
    }
    // Deletions wait until the image holds this broker's own registration: before that it may
    // simply not have replayed the topic's records yet.
    if (this.image.brokers.get(this.nodeId)?.incarnationId !== this.lifecycle?.incarnationId) return;
    for (const local of broker.topics.list()) {
      if (local.internal || this.image.topics.has(local.name)) continue;
      for (let partition = 0; partition < local.partitionCount; partition++) this.fetcher?.unfollow(local.name, partition);
      broker.forgetTopic(local.name);
    }
  }

  private applyPartition(state: PartitionState, partition: PartitionImage): void {
    const replication = state.replication;
    if (replication === undefined) return;
    replication.replicas = [...partition.replicas];
    if (partition.partitionEpoch >= replication.partitionEpoch) {
      if (partition.partitionEpoch > replication.partitionEpoch) replication.pendingIsr = null;
      replication.isr = [...partition.isr];
      replication.partitionEpoch = partition.partitionEpoch;
    }
    if (partition.leader === this.nodeId) {
      if (replication.role !== 'leader' || state.leaderEpoch !== partition.leaderEpoch) this.becomeLeader(state, partition);
      this.broker?.replicas.advanceHighWatermark(state);
      return;
    }
    if (replication.role === 'leader') this.stepDown(state);
    replication.role = 'follower';
    replication.leaderId = partition.leader;
    state.leaderEpoch = partition.leaderEpoch;
    if (partition.leader >= 0) this.fetcher?.follow(state, partition.leader, partition.leaderEpoch);
    else this.fetcher?.unfollow(state.topic, state.partition);
  }

  private becomeLeader(state: PartitionState, partition: PartitionImage): void {
    const replication = state.replication as NonNullable<PartitionState['replication']>;
    this.fetcher?.unfollow(state.topic, state.partition);
    const now = Date.now();
    const logEndOffset = state.log.logEndOffset;
    replication.role = 'leader';
    replication.leaderId = this.nodeId;
    replication.leaderEpochStartOffset = logEndOffset;
    if (partition.leaderEpoch >= replication.epochs.lastEpoch) replication.epochs.assign(partition.leaderEpoch, logEndOffset);
    replication.followers = new Map();
    for (const replica of partition.replicas) {
      if (replica === this.nodeId) continue;
      // In-sync followers get one full lag period to show up before they are dropped.
      replication.followers.set(replica, {
        logEndOffset: -1n, lastCaughtUpTimeMs: partition.isr.includes(replica) ? now : 0, lastFetchTimeMs: 0, lastFetchLeaderLogEndOffset: -1n,
      });
    }
    state.leaderEpoch = partition.leaderEpoch;
    this.logger.info('leading partition', { topic: state.topic, partition: state.partition, leaderEpoch: partition.leaderEpoch, logEndOffset: String(logEndOffset), isr: partition.isr.join(',') });
  }

  private stepDown(state: PartitionState): void {
    const broker = this.broker as Broker;
    const key = partitionKey(state.topic, state.partition);
    broker.replicas.producePurgatory.failAll(key, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    broker.replicas.purgatory.wakeAll(key);
    (state.replication as NonNullable<PartitionState['replication']>).pendingIsr = null;
  }

  /**
   * Proposes ISR changes for the partitions this broker leads (AlterPartition to the
   * controller), and proposes again a pending one whose answer was lost.
   */
  private maintainIsr(): void {
    const broker = this.broker;
    const lifecycle = this.lifecycle;
    if (broker === null || lifecycle === null || lifecycle.brokerEpoch < 0n) return;
    const now = Date.now();
    broker.replicas.forEach((state) => {
      const replication = state.replication;
      if (replication === undefined || replication.role !== 'leader') return;
      const key = partitionKey(state.topic, state.partition);
      let newIsr = desiredIsr(replication, state.highWatermark, now, this.config['replica.lag.time.max.ms']);
      if (newIsr === null && replication.pendingIsr !== null && now - (this.isrSentMs.get(key) ?? 0) >= ISR_RESEND_MS) newIsr = replication.pendingIsr;
      if (newIsr === null) return;
      const topicId = broker.topics.get(state.topic)?.topicId;
      if (topicId === undefined) return;
      replication.pendingIsr = newIsr;
      this.isrSentMs.set(key, now);
      this.logger.info('proposing ISR', { topic: state.topic, partition: state.partition, isr: newIsr.join(','), was: replication.isr.join(',') });
      this.proposeIsr(lifecycle, state, topicId, newIsr);
    });
  }

  private proposeIsr(lifecycle: BrokerLifecycle, state: PartitionState, topicId: string, newIsr: number[]): void {
    const replication = state.replication as NonNullable<PartitionState['replication']>;
    const sent = { leaderEpoch: state.leaderEpoch, partitionEpoch: replication.partitionEpoch };
    void lifecycle.sendToController(ApiKey.AlterPartition, {
      brokerId: this.nodeId, brokerEpoch: lifecycle.brokerEpoch,
      topics: [{ topicId, partitions: [{ partitionIndex: state.partition, leaderEpoch: sent.leaderEpoch, newIsr, partitionEpoch: sent.partitionEpoch }] }],
    }).then((response) => {
      const result = response.topics[0]?.partitions[0];
      if (result === undefined || replication.pendingIsr !== newIsr) return;
      if (result.errorCode === ErrorCode.NONE && result.partitionEpoch > replication.partitionEpoch) {
        replication.isr = [...result.isr];
        replication.partitionEpoch = result.partitionEpoch;
        replication.pendingIsr = null;
      } else if (REFUSALS.has(result.errorCode) && replication.partitionEpoch === sent.partitionEpoch) {
        // An active controller checked the committed state and said no: it will never apply.
        replication.pendingIsr = null;
      }
      (this.broker as Broker).replicas.advanceHighWatermark(state);
    }).catch((error: unknown) => {
      // The outcome is unknown: the proposal stays pending and is sent again later.
      this.logger.warn('AlterPartition failed', { error: (error as Error).message });
    });
  }

  // ---------------------------------------------------------------- the broker's view

  private view(): ClusterView {
    const describe = (topic: TopicImage): ClusterTopic => ({
      name: topic.name, topicId: topic.topicId, partitions: topic.partitions.map((partition) => this.describePartition(partition)),
    });
    return {
      clusterId: this.clusterId,
      controllerId: () => this.controllerId(),
      liveBrokers: () => this.image.liveBrokers().map((broker) => ({ nodeId: broker.brokerId, host: broker.host, port: broker.port, rack: broker.rack })),
      topics: () => [...this.image.topics.values()].map(describe),
      topic: (name) => {
        const topic = this.image.topics.get(name);
        return topic === undefined ? undefined : describe(topic);
      },
      topicById: (topicId) => {
        const topic = this.image.topicsById.get(topicId);
        return topic === undefined ? undefined : describe(topic);
      },
      partition: (topic, index) => {
        const partition = this.image.partition(topic, index);
        return partition === undefined ? undefined : this.describePartition(partition);
      },
      createTopics: (request) => this.forwardCreateTopics(request),
      requestTopicCreation: (name) => this.requestTopicCreation(name),
      deleteTopics: (names, timeoutMs) => this.forwardDeleteTopics(names, timeoutMs),
      createPartitions: (request) => this.forwardCreatePartitions(request),
      alterPartitionReassignments: (request) => this.forwardReassignments(request),
      listPartitionReassignments: (request) => this.forwardListReassignments(request),
      allocateProducerIds: async () => {
        const lifecycle = this.lifecycle;
        if (lifecycle === null || lifecycle.brokerEpoch < 0n) return { errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED, start: -1n, length: 0 };
        const response = await lifecycle.sendToController(ApiKey.AllocateProducerIds, { brokerId: this.nodeId, brokerEpoch: lifecycle.brokerEpoch });
        return { errorCode: response.errorCode, start: response.producerIdStart, length: response.producerIdLen };
      },
    };
  }

  private describePartition(partition: PartitionImage): ClusterPartition {
    const offline = partition.replicas.filter((replica) => this.image.brokers.get(replica)?.fenced !== false);
    return { partition: partition.partition, leader: partition.leader, leaderEpoch: partition.leaderEpoch, replicas: partition.replicas, isr: partition.isr, offline };
  }

  private async forwardCreateTopics(request: RequestBodyByKey[19]): Promise<BodyInput<ResponseBodyByKey[19]>> {
    const lifecycle = this.lifecycle;
    const failed = (errorCode: number, errorMessage: string): BodyInput<ResponseBodyByKey[19]> => ({
      throttleTimeMs: 0, topics: request.topics.map((topic) => ({ name: topic.name, errorCode, errorMessage })),
    });
    if (lifecycle === null) return failed(ErrorCode.NOT_CONTROLLER, 'this node has no broker role');
    let response: ResponseBodyByKey[19];
    try {
      response = await lifecycle.sendToController(ApiKey.CreateTopics, request);
    } catch (error) {
      return failed(ErrorCode.REQUEST_TIMED_OUT, `no active controller answered: ${(error as Error).message}`);
    }
    // Clients ask this broker for metadata next; wait until its image shows the new topics.
    const created = response.topics.filter((topic) => topic.errorCode === ErrorCode.NONE && !request.validateOnly).map((topic) => topic.name);
    const deadline = Date.now() + CREATED_TOPIC_WAIT_MS;
    while (created.some((name) => !this.image.topics.has(name)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return response;
  }

  private async forwardDeleteTopics(names: string[], timeoutMs: number): Promise<{ name: string; errorCode: number; errorMessage: string | null }[]> {
    if (names.length === 0) return [];
    try {
      const response = await (this.lifecycle as BrokerLifecycle).sendToController(ApiKey.DeleteTopics, { topicNames: names, timeoutMs });
      const deleted = response.responses.filter((r) => r.errorCode === ErrorCode.NONE).map((r) => r.name);
      await this.waitForImage(() => deleted.every((name) => name === null || !this.image.topics.has(name)));
      return response.responses.map((r) => ({ name: r.name ?? '', errorCode: r.errorCode, errorMessage: r.errorMessage }));
    } catch (error) {
      return names.map((name) => ({ name, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `no active controller answered: ${(error as Error).message}` }));
    }
  }

  private async forwardCreatePartitions(request: RequestBodyByKey[37]): Promise<BodyInput<ResponseBodyByKey[37]>> {
    try {
      const response = await (this.lifecycle as BrokerLifecycle).sendToController(ApiKey.CreatePartitions, request);
      await this.waitForImage(() => request.validateOnly || response.results.every((r) => r.errorCode !== ErrorCode.NONE
        || (this.image.topics.get(r.name)?.partitions.length ?? 0) >= (request.topics.find((t) => t.name === r.name)?.count ?? 0)));
      return response;
    } catch (error) {
      return { throttleTimeMs: 0, results: request.topics.map((topic) => ({ name: topic.name, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: (error as Error).message })) };
    }
  }

  /** AlterPartitionReassignments to the active controller, as it came. */
  private forwardReassignments(request: RequestBodyByKey[45]): Promise<BodyInput<ResponseBodyByKey[45]>> {
    return this.viaController<BodyInput<ResponseBodyByKey[45]>>((lifecycle) => lifecycle.sendToController(ApiKey.AlterPartitionReassignments, request),
      (errorMessage) => ({ throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage, responses: [] }));
  }

  /** ListPartitionReassignments to the active controller, which answers from committed metadata. */
  private forwardListReassignments(request: RequestBodyByKey[46]): Promise<BodyInput<ResponseBodyByKey[46]>> {
    return this.viaController<BodyInput<ResponseBodyByKey[46]>>((lifecycle) => lifecycle.sendToController(ApiKey.ListPartitionReassignments, request),
      (errorMessage) => ({ throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage, topics: [] }));
  }

  /** The active controller's answer to what `send` sends, or `failed` when none answered. */
  private async viaController<T>(send: (lifecycle: BrokerLifecycle) => Promise<T>, failed: (message: string) => T): Promise<T> {
    try {
      if (this.lifecycle === null) throw new Error('this node has no broker role');
      return await send(this.lifecycle);
    } catch (error) {
      return failed(`no active controller answered: ${(error as Error).message}`);
    }
  }

  /** Clients ask this broker next; waits (a bounded time) until its image shows a change. */
  private async waitForImage(done: () => boolean): Promise<void> {
    const deadline = Date.now() + CREATED_TOPIC_WAIT_MS;
    while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  private requestTopicCreation(name: string): void {
    if (this.pendingCreations.has(name) || this.lifecycle === null) return;
    this.pendingCreations.add(name);
    void this.lifecycle.sendToController(ApiKey.CreateTopics, {
      topics: [{ name, numPartitions: -1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false,
    }).catch(() => undefined).finally(() => this.pendingCreations.delete(name));
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops the node. `graceful` first asks the controller to fence this broker (controlled
   * shutdown) so that its partitions get new leaders, and hands quorum leadership away.
   */
  async stop(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    if (options.graceful === true && this.lifecycle !== null && (await this.lifecycle.shutdown(true))) {
      // Serve until the image shows the partitions led elsewhere, so clients are told where to go.
      const deadline = Date.now() + CONTROLLED_SHUTDOWN_WAIT_MS;
      const leadsSomething = (): boolean => [...this.image.allPartitions()].some(({ partition }) => partition.leader === this.nodeId);
      while (leadsSomething() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.stopped = true;
    if (this.isrTimer !== null) clearInterval(this.isrTimer);
    await this.lifecycle?.shutdown(false);
    this.fetcher?.close();
    this.controller?.close();
    await this.observer?.close();
    await this.quorum?.close(options.graceful === true ? { graceful: true } : {});
    await this.broker?.stop();
  }
}
