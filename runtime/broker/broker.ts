// A single-node broker: the topic catalogue, the partition logs, the replica manager, the
// group and transaction coordinators and the TCP server, wired together. `Broker.start` is what both the CLI and
// an embedding application call.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApiKey, decodeRequestBody, decodeRequestHeader, encodeResponseFrame, encodeResponseFrameChunks, ProtocolDecodeError } from '../../core/protocol/index.ts';
import { LIMITS } from '../../core/limits.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import { LogManager } from '../../state/log/log-manager.ts';
import { createLogger, type Logger } from '../logger.ts';
import { KafkaServer, type Connection, type Response } from '../net/server.ts';
import type { ClusterView } from './cluster-view.ts';
import { listenerAddress, type BrokerConfig } from './config.ts';
import { COORDINATOR_WRITE_TIMEOUT_MS, CoordinatorPartitions, isInternalTopic } from './coordinator-partitions.ts';
import { GroupCoordinator } from './group-coordinator.ts';
import { HANDLERS, handlerFor } from './handlers/index.ts';
import type { RequestContext } from './handler.ts';
import { OFFSETS_TOPIC, OffsetsTopic } from './offsets-topic.ts';
import { ProducerIdAllocator } from './producer-ids.ts';
import { ProducerStateTable } from './producer-state.ts';
import { lastStableOffset, ReplicaManager, type PartitionState } from './replica-manager.ts';
import { loadEpochCache } from './replication.ts';
import type { PartitionLog } from '../../state/log/partition-log.ts';
import { TransactionCoordinator, type TransactionMarker } from './transaction-coordinator.ts';
import { TRANSACTION_STATE_TOPIC, TransactionLog, type TransactionStatus } from './transaction-log.ts';
import { markerCoordinatorEpoch, TransactionMarkerWriter } from './transaction-markers.ts';
import { TransactionVerifier } from './transaction-verification.ts';
import { toLogConfig, validateTopicConfigs } from './topic-config.ts';
import { topicNameProblem, TopicRegistry, type TopicRecord } from './topic-registry.ts';

export const CLUSTER_ID = 'runnel-single-node-0000';
/** How often a cluster broker loads and unloads coordinator state as internal partitions change leader. */
const COORDINATOR_RECONCILE_INTERVAL_MS = 50;

export interface TopicProblem {
  errorCode: number;
  errorMessage: string;
}

export class Broker {
  readonly logger: Logger;
  readonly replicas: ReplicaManager;
  readonly groups: GroupCoordinator;
  readonly offsetsTopic: OffsetsTopic;
  readonly producerIds: ProducerIdAllocator;
  readonly transactionLog: TransactionLog;
  readonly transactions: TransactionCoordinator;
  /** Which groups and transactional ids this broker coordinates, and their durable writes. */
  readonly coordinators: CoordinatorPartitions;
  readonly markers: TransactionMarkerWriter;
  /** Asks the transaction coordinator on another broker before a transactional batch opens a transaction here. */
  readonly verifier: TransactionVerifier;
  /** Set in a cluster: partitions follow the metadata image and changes go to the controller. */
  readonly cluster: ClusterView | null;
  private server: KafkaServer | null = null;
  private producerExpiryTimer: NodeJS.Timeout | null = null;
  private coordinatorTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  private constructor(
    readonly config: BrokerConfig,
    readonly dataDirectory: string,
    readonly topics: TopicRegistry,
    readonly logs: LogManager,
    private readonly lockPath: string,
    cluster: ClusterView | null,
  ) {
    this.cluster = cluster;
    this.logger = createLogger(`broker-${config['node.id']}`);
    // The transaction coordinator is created below; the check reaches it only once requests flow.
    // In a cluster only the coordinator of the transactional id knows its transaction; a
    // partition led elsewhere takes the write only once the produce handler had the verifier
    // ask the coordinator (KIP-890) and the answer is in the partition's producer state.
    this.replicas = new ReplicaManager(this.logger.child('replicas'), (write) => {
      if (write.transactionalId === null || this.coordinators.transactionError(write.transactionalId) === ErrorCode.NONE) {
        return this.transactions.checkTransactionalWrite(write);
      }
      const producers = this.replicas.get(write.topic, write.partition)?.producers;
      return producers?.isVerified(write.producerId, write.producerEpoch) === true ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
    });
    this.coordinators = new CoordinatorPartitions(this);
    this.markers = new TransactionMarkerWriter(this);
    this.verifier = new TransactionVerifier(this);
    this.offsetsTopic = new OffsetsTopic(this);
    this.producerIds = new ProducerIdAllocator(dataDirectory, cluster, this.logger.child('producer-ids'));
    this.groups = new GroupCoordinator({
      logger: this.logger.child('groups'),
      initialRebalanceDelayMs: config['group.initial.rebalance.delay.ms'],
      minSessionTimeoutMs: config['group.min.session.timeout.ms'],
      maxSessionTimeoutMs: config['group.max.session.timeout.ms'],
      maxGroupSize: config['group.max.size'],
      restoreMembers: cluster !== null,
      persist: (groupId, records) => this.offsetsTopic.append(groupId, records),
    });
    this.transactionLog = new TransactionLog(this);
    this.transactions = new TransactionCoordinator({
      logger: this.logger.child('transactions'),
      maxTimeoutMs: config['transaction.max.timeout.ms'],
      idExpirationMs: config['transactional.id.expiration.ms'],
      cleanupIntervalMs: config['transaction.abort.timed.out.transaction.cleanup.interval.ms'],
      nextProducerId: () => this.producerIds.next(),
      persist: (transactionalId, value) => this.transactionLog.append(transactionalId, value),
      writeMarker: (transactionalId, topic, partition, marker) => this.markers.write(transactionalId, topic, partition, marker),
      coordinatorEpoch: (transactionalId) => markerCoordinatorEpoch(this, transactionalId),
      afterPrepare: crashHook(),
    });
  }

  /**
   * Starts the broker. With `options.cluster` it is one broker of a cluster: its replicated
   * partitions lead or follow only as the metadata image says (the cluster layer sets that
   * with becomeLeader/becomeFollower), and until then they answer NOT_LEADER_OR_FOLLOWER.
   */
  static async start(config: BrokerConfig, options: { cluster?: ClusterView } = {}): Promise<Broker> {
    const dataDirectory = path.resolve(config['log.dirs'].split(',')[0]!);
    mkdirSync(dataDirectory, { recursive: true });
    const lockPath = acquireLock(dataDirectory);
    const topics = new TopicRegistry(dataDirectory);
    const logLogger = createLogger(`broker-${config['node.id']}.log`);
    let broker: Broker | undefined;
    const logs = LogManager.open(dataDirectory, {
      retentionCheckIntervalMs: config['log.retention.check.interval.ms'],
      cleanerEnabled: config['log.cleaner.enable'],
      cleanerBackoffMs: config['log.cleaner.backoff.ms'],
      // The cleaner never compacts past the last stable offset: records of an open transaction
      // may still be aborted, and consumers have not been allowed to see them.
      cleanableOffsetLimitFor: (topic, partition) => {
        const state = broker?.replicas.get(topic, partition);
        return state === undefined ? 0n : lastStableOffset(state);
      },
      log: (line) => logLogger.warn(line),
    });
    broker = new Broker(config, dataDirectory, topics, logs, lockPath, options.cluster ?? null);
    for (const topic of topics.list()) broker.openPartitions(topic, 0);
    // Groups load before transactions: staged transactional offsets must be in place when the
    // coordinator completes the transactions a crash interrupted. In a cluster each internal
    // partition loads when this broker becomes its leader.
    if (broker.cluster === null) await broker.coordinators.loadAll();
    else broker.startCoordinatorReconciliation();
    broker.transactions.start();
    broker.startProducerExpiry();
    const { host, port } = listenerAddress(config.listeners);
    broker.server = await KafkaServer.listen({
      host, port, logger: broker.logger.child('net'), frameBytesMax: config['socket.request.max.bytes'],
      handler: (frame, connection) => broker.handleFrame(frame, connection),
    });
    broker.logger.info('broker started', { listener: `${host}:${broker.port}`, dataDirectory, topics: topics.list().length });
    return broker;
  }

  get port(): number {
    if (this.server === null) throw new Error('broker is not listening');
    return this.server.port;
  }

  /** Host and port clients should use, from advertised.listeners or the bound listener. */
  get advertisedAddress(): { host: string; port: number } {
    const advertised = this.config['advertised.listeners'];
    if (advertised !== undefined) return listenerAddress(advertised);
    const { host } = listenerAddress(this.config.listeners);
    return { host: host === '0.0.0.0' ? '127.0.0.1' : host, port: this.port };
  }

  get nodeId(): number {
    return this.config['node.id'];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.server?.close();
    this.replicas.purgatory.shutdown();
    this.replicas.producePurgatory.shutdown();
    this.groups.shutdown();
    this.transactions.shutdown();
    this.markers.close();
    this.verifier.close();
    if (this.coordinatorTimer !== null) clearInterval(this.coordinatorTimer);
    if (this.producerExpiryTimer !== null) clearInterval(this.producerExpiryTimer);
    this.replicas.forEach((state) => state.producers.snapshotOnClose(state.log));
    this.logs.closeAll();
    try { unlinkSync(this.lockPath); } catch { /* already gone */ }
    this.logger.info('broker stopped');
  }

  // ---------------------------------------------------------------- topics

  createTopic(name: string, partitionCount: number, configs: Record<string, string>, options: { validateOnly?: boolean; internal?: boolean } = {}): TopicProblem | TopicRecord {
    const nameProblem = topicNameProblem(name);
    if (nameProblem !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: nameProblem };
    if (this.topics.get(name) !== undefined) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `topic '${name}' already exists` };
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > LIMITS.partitionsPerTopicMax) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `partition count ${partitionCount} must be between 1 and ${LIMITS.partitionsPerTopicMax}` };
    }
    const problems = validateTopicConfigs(configs);
    if (problems.length > 0) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: problems.map((p) => p.reason).join('; ') };
    if (options.validateOnly === true) return { name, topicId: '', partitionCount, configs, internal: false };
    const topic = this.topics.create(name, partitionCount, configs, options.internal ?? false);
    this.openPartitions(topic, 0);
    this.logger.info('topic created', { topic: name, partitions: partitionCount });
    return topic;
  }

  deleteTopic(name: string): number {
    const topic = this.topics.get(name);
    if (topic === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (topic.internal) return ErrorCode.INVALID_TOPIC_EXCEPTION;
    if (!this.config['delete.topic.enable']) return ErrorCode.TOPIC_DELETION_DISABLED;
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      this.replicas.remove(name, partition);
      this.logs.delete(name, partition);
      rmSync(this.producerSnapshotPath(name, partition), { force: true });
    }
    this.topics.delete(name);
    this.groups.deleteTopicOffsets(name);
    this.logger.info('topic deleted', { topic: name });
    return ErrorCode.NONE;
  }

  createPartitions(name: string, count: number, validateOnly: boolean): TopicProblem | null {
    const topic = this.topics.get(name);
    if (topic === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${name}' does not exist` };
    if (count <= topic.partitionCount) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `topic '${name}' has ${topic.partitionCount} partitions; the new count must be larger` };
    }
    if (count > LIMITS.partitionsPerTopicMax) return { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `at most ${LIMITS.partitionsPerTopicMax} partitions` };
    if (validateOnly) return null;
    const previous = topic.partitionCount;
    this.topics.update(name, { partitionCount: count });
    this.openPartitions(topic, previous);
    return null;
  }

  alterTopicConfigs(name: string, configs: Record<string, string>): void {
    const topic = this.topics.update(name, { configs });
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      const state = this.replicas.get(name, partition);
      if (state === undefined) continue;
      state.log.reconfigure(toLogConfig(this.config, configs));
      Object.assign(state, this.partitionSettings(topic));
    }
  }

  /** Creates a topic with broker defaults when a client names one that does not exist. */
  autoCreateTopic(name: string): TopicRecord | TopicProblem {
    if (this.cluster !== null && !name.startsWith('__')) {
      // In a cluster the controller creates it; the client retries until the leaders are known.
      this.cluster.requestTopicCreation(name);
      return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, errorMessage: `topic '${name}' is being created` };
    }
    return this.createTopic(name, this.config['num.partitions'], {});
  }

  // ---------------------------------------------------------------- cluster

  /**
   * Makes the local catalogue hold a topic of the metadata image (same id, partition count
   * and configs) and opens the partitions this broker hosts. Returns the local record.
   */
  syncTopicFromCluster(name: string, topicId: string, partitionCount: number, configs: Record<string, string>): TopicRecord {
    let topic = this.topics.get(name);
    if (topic !== undefined && topic.topicId !== topicId) {
      this.forgetTopic(name, { internalToo: true });
      topic = undefined;
    }
    if (topic === undefined) return this.topics.create(name, partitionCount, configs, isInternalTopic(name), topicId);
    const changed = topic.partitionCount !== partitionCount || JSON.stringify(topic.configs) !== JSON.stringify(configs);
    return changed ? this.topics.update(name, { partitionCount: Math.max(partitionCount, topic.partitionCount), configs }) : topic;
  }

  /**
   * Drops a topic the metadata image no longer has: its logs and its catalogue entry. Internal
   * topics stay unless `internalToo` (the image holds another topic of that name).
   */
  forgetTopic(name: string, options: { internalToo?: boolean } = {}): void {
    const topic = this.topics.get(name);
    if (topic === undefined || (topic.internal && options.internalToo !== true)) return;
    for (let partition = 0; partition < topic.partitionCount; partition++) this.dropPartition(name, partition);
    this.topics.delete(name);
  }

  /** Opens (or returns) a hosted partition's log and state; the caller sets its replication. */
  hostPartition(topic: TopicRecord, partition: number): PartitionState {
    const existing = this.replicas.get(topic.name, partition);
    if (existing !== undefined) return existing;
    const log = this.logs.getOrCreate(topic.name, partition, toLogConfig(this.config, topic.configs));
    const producers = ProducerStateTable.load(log, this.producerSnapshotPath(topic.name, partition));
    const state: PartitionState = {
      topic: topic.name, partition, log, highWatermark: 0n, leaderEpoch: -1, producers, ...this.partitionSettings(topic),
      replication: unassignedReplication(this.nodeId, log),
    };
    this.replicas.add(state);
    return state;
  }

  /** Stops hosting a partition (reassigned away or deleted) and removes its log. */
  dropPartition(name: string, partition: number): void {
    if (this.replicas.get(name, partition) === undefined) return;
    this.replicas.remove(name, partition);
    this.logs.delete(name, partition);
    rmSync(this.producerSnapshotPath(name, partition), { force: true });
  }

  /** Rebuilds a partition's producer state after its log was truncated (a follower's divergent tail). */
  reloadProducerState(state: PartitionState): void {
    const snapshotPath = this.producerSnapshotPath(state.topic, state.partition);
    rmSync(snapshotPath, { force: true });
    state.producers = ProducerStateTable.load(state.log, snapshotPath);
  }

  private partitionSettings(topic: TopicRecord): { maxMessageBytes: number; requireKeys: boolean; minInsyncReplicas: number } {
    const value = (key: string, fallback: number): number => Number(topic.configs[key] ?? fallback);
    return {
      maxMessageBytes: value('max.message.bytes', this.config['message.max.bytes']),
      requireKeys: (topic.configs['cleanup.policy'] ?? this.config['log.cleanup.policy']).includes('compact'),
      minInsyncReplicas: value('min.insync.replicas', this.config['min.insync.replicas']),
    };
  }

  private openPartitions(topic: TopicRecord, fromPartition: number): void {
    // In a cluster every partition, the internal ones too, is opened by the cluster layer as the image says.
    if (this.cluster !== null) return;
    const logConfig = toLogConfig(this.config, topic.configs);
    for (let partition = fromPartition; partition < topic.partitionCount; partition++) {
      const log = this.logs.getOrCreate(topic.name, partition, logConfig);
      const producers = ProducerStateTable.load(log, this.producerSnapshotPath(topic.name, partition));
      this.replicas.add({
        topic: topic.name, partition, log, highWatermark: log.logEndOffset, leaderEpoch: 0, producers, ...this.partitionSettings(topic),
      });
    }
  }

  /**
   * In a cluster the coordinators follow the leadership of the internal partitions: a short
   * timer compares what is loaded with what this broker leads (the cluster layer changes roles
   * as metadata arrives). Requests never see a stale answer meanwhile: they check the
   * partition's role themselves, so the timer only decides how soon state loads and unloads.
   */
  private startCoordinatorReconciliation(): void {
    this.coordinatorTimer = setInterval(() => this.coordinators.reconcile(), COORDINATOR_RECONCILE_INTERVAL_MS);
    this.coordinatorTimer.unref();
  }

  private startProducerExpiry(): void {
    const expirationMs = this.config['producer.id.expiration.ms'];
    this.producerExpiryTimer = setInterval(() => {
      const now = Date.now();
      let removed = 0;
      this.replicas.forEach((state) => { removed += state.producers.expireProducers(now, expirationMs); });
      if (removed > 0) this.logger.info('expired idle producer ids', { removed });
    }, this.config['producer.id.expiration.check.interval.ms']);
    this.producerExpiryTimer.unref();
  }

  /** Producer state snapshots live beside the logs, not in them: the log directories belong to state/log. */
  private producerSnapshotPath(topic: string, partition: number): string {
    return path.join(this.dataDirectory, 'runnel-producer-state', `${topic}-${partition}.json`);
  }

  /**
   * A transaction marker for a partition this broker leads (from the local coordinator or
   * WriteTxnMarkers), plus the offsets it makes visible on __consumer_offsets. Resolves once
   * the marker is committed (acks=all), with an error code when it was not written: among
   * them TRANSACTION_COORDINATOR_FENCED for a marker of a deposed coordinator.
   */
  async writeMarkerLocally(topic: string, partition: number, marker: TransactionMarker): Promise<number> {
    const state = this.replicas.get(topic, partition);
    if (state === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const replication = state.replication;
    if (replication !== undefined) {
      if (replication.role !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
      if (replication.isr.length < state.minInsyncReplicas) return ErrorCode.NOT_ENOUGH_REPLICAS;
    }
    const refused = state.producers.checkMarker(marker);
    if (refused !== ErrorCode.NONE) {
      this.logger.warn('refused a transaction marker', { topic, partition, producerId: marker.producerId.toString(), producerEpoch: marker.producerEpoch, coordinatorEpoch: marker.coordinatorEpoch, errorCode: refused });
      return refused;
    }
    if (!this.replicas.appendMarker(topic, partition, marker)) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (topic === OFFSETS_TOPIC) {
      this.groups.completeTransactionalOffsets(marker.producerId, marker.commit, (groupId) => this.offsetsTopic.partitionFor(groupId) === partition);
    }
    return this.replicas.awaitReplication(topic, partition, state.log.logEndOffset, COORDINATOR_WRITE_TIMEOUT_MS);
  }


  // ---------------------------------------------------------------- requests

  /** Decodes one frame, runs its handler and encodes the answer. Throws only on unparseable frames. */
  private async handleFrame(frame: Buffer, connection: Connection): Promise<Response> {
    // A client probing with an ApiVersions version we do not know may use a header layout we
    // cannot parse; it still gets version 0 with UNSUPPORTED_VERSION, from the fixed prefix alone.
    if (frame.length >= 8 && frame.readInt16BE(0) === ApiKey.ApiVersions && frame.readInt16BE(2) > handlerFor(ApiKey.ApiVersions)!.maxVersion) {
      return this.unsupportedApiVersions(frame.readInt32BE(4));
    }
    const header = decodeRequestHeader(frame);
    const handler = handlerFor(header.apiKey);
    if (handler === undefined || header.status === 'unknown-api') throw new ProtocolDecodeError(`unknown api key ${header.apiKey}`);
    if (header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
      throw new ProtocolDecodeError(`api key ${header.apiKey} version ${header.apiVersion} is not supported (${handler.minVersion}-${handler.maxVersion})`);
    }
    const request = decodeRequestBody(header.apiKey as never, header.apiVersion, frame, header.bodyOffset);
    const context: RequestContext = { broker: this, connection, apiVersion: header.apiVersion, clientId: header.clientId, correlationId: header.correlationId };
    const response = await handler.handle(request as never, context);
    if (response === null) return null;
    // Fetch answers carry record bytes straight from the log; chunks avoid copying them again.
    if (header.apiKey === ApiKey.Fetch) return encodeResponseFrameChunks(ApiKey.Fetch, header.apiVersion, header.correlationId, response as never);
    return encodeResponseFrame(header.apiKey as never, header.apiVersion, header.correlationId, response as never);
  }

  /** A client asking for an ApiVersions version we lack gets version 0 with the error and our list. */
  private unsupportedApiVersions(correlationId: number): Buffer {
    return encodeResponseFrame(ApiKey.ApiVersions, 0, correlationId, {
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: this.supportedApis(),
    } as never);
  }

  /** Every API this broker serves with the version range it advertises. */
  supportedApis(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return HANDLERS.map((h) => ({ apiKey: h.apiKey as number, minVersion: h.minVersion, maxVersion: h.maxVersion }));
  }
}

/**
 * Crash tests need the broker to die between a transaction's Prepare record and its markers,
 * a window no outside signal can hit. RUNNEL_TEST_CRASH_AFTER=PrepareCommit (or PrepareAbort)
 * makes the process SIGKILL itself there; without the variable nothing is hooked. With
 * RUNNEL_TEST_CRASH_ARMED_FILE as well, only a process that removes that file crashes, so a
 * test on a cluster arms one crash at the moment it chooses by creating the file.
 */
function crashHook(): ((transactionalId: string, status: TransactionStatus) => void) | undefined {
  const target = process.env['RUNNEL_TEST_CRASH_AFTER'];
  if (target === undefined || target === '') return undefined;
  const armedFile = process.env['RUNNEL_TEST_CRASH_ARMED_FILE'];
  return (_transactionalId, status) => {
    if (status !== target) return;
    if (armedFile !== undefined && armedFile !== '') {
      try {
        unlinkSync(armedFile);
      } catch {
        return;
      }
    }
    process.kill(process.pid, 'SIGKILL');
  };
}

/** One broker per data directory: a second one would corrupt the logs. */
function acquireLock(dataDirectory: string): string {
  const lockPath = path.join(dataDirectory, '.lock');
  try {
    const fd = openSync(lockPath, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    return lockPath;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(readFileSync(lockPath, 'utf8'));
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
    throw new Error(`data directory ${dataDirectory} is in use by process ${holder}; stop it or choose another --data-dir`);
  }
  writeFileSync(lockPath, String(process.pid));
  return lockPath;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A hosted partition before the metadata image gave it a role: it serves nobody. */
function unassignedReplication(brokerId: number, log: PartitionLog): NonNullable<PartitionState['replication']> {
  return {
    brokerId, role: 'follower', leaderId: -1, partitionEpoch: -1, replicas: [], isr: [], pendingIsr: null,
    followers: new Map(), epochs: loadEpochCache(log), leaderEpochStartOffset: log.logEndOffset,
  };
}
