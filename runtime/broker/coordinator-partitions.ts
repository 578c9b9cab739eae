// Which groups and transactional ids this broker coordinates, and how their records reach the
// internal topics. On a single node the broker coordinates everything. In a cluster, as in
// Kafka, `__consumer_offsets` and `__transaction_state` are ordinary replicated, compacted
// topics created through the controller, and the coordinator of a group (or transactional id)
// is the leader of partition abs(javaStringHash(id)) % partitions. When this broker becomes
// leader of such a partition it loads the partition's groups or transactions from its log;
// when it stops leading it unloads them, and their requests are answered NOT_COORDINATOR.
//
// Coordinator records are acknowledged only once the high watermark covers them (acks=all),
// and refused while the partition has fewer in-sync replicas than min.insync.replicas, so an
// acknowledged offset commit or transaction state survives the loss of its coordinator.
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Broker } from './broker.ts';
import { offsetsPartitionFor } from './group-codec.ts';
import { OFFSETS_TOPIC } from './offsets-topic.ts';
import { partitionKey } from './replica-manager.ts';
import { TRANSACTION_STATE_TOPIC } from './transaction-log.ts';

/** Kafka's offsets.commit.timeout.ms default: how long a coordinator write waits for the ISR. */
export const COORDINATOR_WRITE_TIMEOUT_MS = 5000;

type InternalTopic = typeof OFFSETS_TOPIC | typeof TRANSACTION_STATE_TOPIC;

/** Is this one of the coordinators' internal topics, which clients neither write nor delete? */
export function isInternalTopic(name: string | null): name is InternalTopic {
  return name === OFFSETS_TOPIC || name === TRANSACTION_STATE_TOPIC;
}

export class CoordinatorPartitions {
  /** Partitions of the internal topics whose state is loaded here, with the leader epoch it was loaded in. */
  private readonly loadedEpochs = new Map<string, number>();
  private readonly pendingCreations = new Set<string>();
  /** Internal topics whose creation waits for enough live brokers (logged once). */
  private readonly waitingForBrokers = new Set<string>();

  constructor(private readonly broker: Broker) {}

  // ---------------------------------------------------------------- who coordinates

  partitionCount(topic: InternalTopic): number {
    const configured = topic === OFFSETS_TOPIC ? this.broker.config['offsets.topic.num.partitions'] : this.broker.config['transaction.state.log.num.partitions'];
    return this.broker.topics.get(topic)?.partitionCount ?? configured;
  }

  partitionFor(topic: InternalTopic, id: string): number {
    return offsetsPartitionFor(id, this.partitionCount(topic));
  }

  /**
   * NONE when this broker coordinates the id now; else the error its requests get:
   * COORDINATOR_NOT_AVAILABLE (no topic or no leader yet), NOT_COORDINATOR (led elsewhere) or
   * COORDINATOR_LOAD_IN_PROGRESS (led here, state not loaded yet).
   */
  errorFor(topic: InternalTopic, id: string): number {
    const cluster = this.broker.cluster;
    if (cluster === null) return ErrorCode.NONE;
    const partition = this.partitionFor(topic, id);
    const described = cluster.partition(topic, partition);
    if (described === undefined) {
      this.requestCreation(topic);
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    if (described.leader < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (described.leader !== this.broker.nodeId) return ErrorCode.NOT_COORDINATOR;
    return this.isLoaded(topic, partition) ? ErrorCode.NONE : ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  groupError(groupId: string): number {
    return this.errorFor(OFFSETS_TOPIC, groupId);
  }

  transactionError(transactionalId: string): number {
    return this.errorFor(TRANSACTION_STATE_TOPIC, transactionalId);
  }

  /** The broker that coordinates the id, as FindCoordinator names it, or an error code. */
  coordinatorOf(topic: InternalTopic, id: string): { nodeId: number; host: string; port: number } | number {
    const cluster = this.broker.cluster;
    if (cluster === null) return { nodeId: this.broker.nodeId, ...this.broker.advertisedAddress };
    const described = cluster.partition(topic, this.partitionFor(topic, id));
    if (described === undefined) {
      this.requestCreation(topic);
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    const leader = cluster.liveBrokers().find((broker) => broker.nodeId === described.leader);
    return leader === undefined ? ErrorCode.COORDINATOR_NOT_AVAILABLE : { nodeId: leader.nodeId, host: leader.host, port: leader.port };
  }

  /** The leader epoch of the id's partition here, stamped on transaction markers as the coordinator epoch. */
  coordinatorEpoch(topic: InternalTopic, id: string): number {
    return this.broker.cluster === null ? 0 : this.loadedEpochs.get(partitionKey(topic, this.partitionFor(topic, id))) ?? -1;
  }

  private isLoaded(topic: InternalTopic, partition: number): boolean {
    const state = this.broker.replicas.get(topic, partition);
    if (state?.replication === undefined || state.replication.role !== 'leader') return false;
    return this.loadedEpochs.get(partitionKey(topic, partition)) === state.leaderEpoch;
  }

  // ---------------------------------------------------------------- loading

  /**
   * Called after every change of the metadata image: unloads the partitions this broker no
   * longer leads (or leads in a newer epoch) and loads those it now leads.
   */
  reconcile(): void {
    if (this.broker.cluster === null) return;
    for (const [key, epoch] of [...this.loadedEpochs]) {
      const [topic, partitionText] = key.split('\u0000') as [InternalTopic, string];
      const partition = Number(partitionText);
      const state = this.broker.replicas.get(topic, partition);
      if (state?.replication?.role === 'leader' && state.leaderEpoch === epoch) continue;
      this.loadedEpochs.delete(key);
      this.unload(topic, partition);
    }
    // Groups load before transactions: a transaction completed at load may commit staged offsets.
    for (const topic of [OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC] as const) {
      const record = this.broker.topics.get(topic);
      if (record === undefined) continue;
      for (let partition = 0; partition < record.partitionCount; partition++) {
        const state = this.broker.replicas.get(topic, partition);
        if (state?.replication?.role !== 'leader' || this.loadedEpochs.has(partitionKey(topic, partition))) continue;
        this.loadedEpochs.set(partitionKey(topic, partition), state.leaderEpoch);
        this.load(topic, partition, state.leaderEpoch);
      }
    }
  }

  /** A single node coordinates every partition, loaded once at start. */
  async loadAll(): Promise<void> {
    this.broker.offsetsTopic.load();
    await this.broker.transactions.load(this.broker.transactionLog.load());
  }

  private load(topic: InternalTopic, partition: number, leaderEpoch: number): void {
    if (topic === OFFSETS_TOPIC) {
      const records = this.broker.offsetsTopic.loadPartition(partition);
      this.broker.logger.info('coordinating groups', { partition, leaderEpoch, records });
      return;
    }
    const stored = this.broker.transactionLog.loadPartition(partition);
    this.broker.logger.info('coordinating transactions', { partition, leaderEpoch, transactionalIds: stored.size });
    void this.broker.transactions.load(stored);
  }

  private unload(topic: InternalTopic, partition: number): void {
    const storedHere = (id: string): boolean => this.partitionFor(topic, id) === partition;
    const count = topic === OFFSETS_TOPIC ? this.broker.groups.unloadGroups(storedHere) : this.broker.transactions.unload(storedHere);
    this.broker.logger.info(topic === OFFSETS_TOPIC ? 'no longer coordinating groups' : 'no longer coordinating transactions', { partition, unloaded: count });
  }

  // ---------------------------------------------------------------- writing

  /**
   * Appends a batch the coordinator built to an internal partition this broker leads and
   * resolves once it is committed: NONE, NOT_COORDINATOR (not the leader, or it lost
   * leadership meanwhile) or COORDINATOR_NOT_AVAILABLE (too few in-sync replicas, or the ISR
   * did not catch up within the timeout), as Kafka's coordinators map those append errors.
   */
  async appendDurably(topic: InternalTopic, partition: number, batch: Buffer): Promise<number> {
    const state = this.broker.replicas.get(topic, partition);
    if (state === undefined) return this.broker.cluster === null ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NOT_COORDINATOR;
    const replication = state.replication;
    if (replication !== undefined) {
      if (replication.role !== 'leader') return ErrorCode.NOT_COORDINATOR;
      if (replication.isr.length < state.minInsyncReplicas) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    const problem = this.broker.replicas.appendInternal(topic, partition, batch);
    if (problem !== null) return ErrorCode.NOT_COORDINATOR;
    const errorCode = await this.broker.replicas.awaitReplication(topic, partition, state.log.logEndOffset, COORDINATOR_WRITE_TIMEOUT_MS);
    if (errorCode === ErrorCode.NONE) return ErrorCode.NONE;
    return errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? ErrorCode.NOT_COORDINATOR : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }

  // ---------------------------------------------------------------- creation

  /**
   * Asks the controller to create an internal topic (once at a time), with Kafka's settings:
   * compacted, the configured replication factor, and for __transaction_state
   * min.insync.replicas from transaction.state.log.min.isr. As in Kafka, nothing is created
   * while fewer brokers are live than the replication factor (coordinator lookups answer
   * COORDINATOR_NOT_AVAILABLE meanwhile): a topic created with fewer replicas during a
   * restart would keep them, and with its min ISR stop transactions when one node dies.
   * Clusters with fewer nodes lower `offsets.topic.replication.factor` and
   * `transaction.state.log.replication.factor` (`runnel cluster start` does).
   */
  requestCreation(topic: InternalTopic): void {
    const cluster = this.broker.cluster;
    if (cluster === null || this.pendingCreations.has(topic)) return;
    const config = this.broker.config;
    const liveCount = cluster.liveBrokers().length;
    const offsets = topic === OFFSETS_TOPIC;
    const replicationFactor = offsets ? config['offsets.topic.replication.factor'] : config['transaction.state.log.replication.factor'];
    if (liveCount < replicationFactor) {
      if (!this.waitingForBrokers.has(topic)) {
        this.waitingForBrokers.add(topic);
        this.broker.logger.warn('internal topic waits for brokers', { topic, replicationFactor, liveBrokers: liveCount, hint: 'start more brokers or lower the replication factor setting' });
      }
      return;
    }
    const configs = [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: String(100 * 1024 * 1024) }];
    if (!offsets) configs.push({ name: 'min.insync.replicas', value: String(Math.min(config['transaction.state.log.min.isr'], replicationFactor)) });
    this.pendingCreations.add(topic);
    this.broker.logger.info('creating internal topic', { topic, partitions: this.partitionCount(topic), replicationFactor });
    void cluster.createTopics({
      topics: [{ name: topic, numPartitions: this.partitionCount(topic), replicationFactor, assignments: [], configs }], timeoutMs: COORDINATOR_WRITE_TIMEOUT_MS, validateOnly: false,
    }).catch(() => undefined).finally(() => this.pendingCreations.delete(topic));
  }
}
