// What a client knows about the cluster: the brokers, the topics it cares about with their
// partition leaders (from Metadata), and the coordinators of groups. Connections are opened on
// first use, one per broker address, and dropped when they close so the next use reconnects.
import { ApiKey } from '../../core/protocol/index.ts';
import { Connection, type ConnectionOptions } from './connection.ts';
import { KafkaClientError, KafkaConnectionError, KafkaProtocolError, isRetriableError } from './errors.ts';

export interface ClusterOptions {
  bootstrapServers: readonly string[];
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  retryBackoffMs: number;
  /** Attempts for metadata and coordinator lookups that fail with a retriable error. */
  retries: number;
  /** Whether Metadata may create a topic it does not know (allow.auto.create.topics). */
  allowAutoTopicCreation: boolean;
  /** Cached topic metadata older than this is fetched again (metadata.max.age.ms). */
  metadataMaxAgeMs: number;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  topicId: string;
  internal: boolean;
  /** Indexed by partition number. */
  partitions: PartitionInfo[];
}

export type CoordinatorType = 'group' | 'transaction';

export function parseAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new KafkaClientError(`'${address}' is not host:port`, false);
  }
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Cluster {
  readonly options: ClusterOptions;
  private readonly connections = new Map<string, Promise<Connection>>();
  private brokers = new Map<number, BrokerInfo>();
  private readonly topics = new Map<string, TopicInfo>();
  private readonly topicFetchedAt = new Map<string, number>();
  private readonly coordinators = new Map<string, number>();
  private controllerId = -1;
  private clusterIdValue: string | null = null;
  private closed = false;

  constructor(options: ClusterOptions) {
    if (options.bootstrapServers.length === 0) throw new KafkaClientError('bootstrap servers are empty', false);
    for (const server of options.bootstrapServers) parseAddress(server);
    this.options = options;
  }

  get clusterId(): string | null {
    return this.clusterIdValue;
  }

  brokerList(): BrokerInfo[] {
    return [...this.brokers.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** A connection to `address` (host:port), shared by every caller. */
  async connectionAt(address: string): Promise<Connection> {
    if (this.closed) throw new KafkaClientError('the client is closed', false);
    const existing = this.connections.get(address);
    if (existing !== undefined) {
      const connection = await existing.catch(() => null);
      if (connection !== null && !connection.closed) return connection;
      if (this.connections.get(address) === existing) this.connections.delete(address);
      return this.connectionAt(address);
    }
    const { host, port } = parseAddress(address);
    const options: ConnectionOptions = { host, port, clientId: this.options.clientId, connectTimeoutMs: this.options.connectTimeoutMs, requestTimeoutMs: this.options.requestTimeoutMs };
    const opening = Connection.open(options);
    this.connections.set(address, opening);
    opening.then(
      (connection) => connection.onClose(() => { if (this.connections.get(address) === opening) this.connections.delete(address); }),
      () => { if (this.connections.get(address) === opening) this.connections.delete(address); },
    );
    return opening;
  }

  async connectionTo(nodeId: number): Promise<Connection> {
    let broker = this.brokers.get(nodeId);
    if (broker === undefined) {
      await this.refreshMetadata();
      broker = this.brokers.get(nodeId);
    }
    if (broker === undefined) throw new KafkaConnectionError(`broker ${nodeId} is not in the cluster metadata`);
    return this.connectionAt(`${broker.host}:${broker.port}`);
  }

  /** Any live broker: a known one first, else the bootstrap servers in order. */
  async anyConnection(): Promise<Connection> {
    const candidates = [...this.brokerList().map((broker) => `${broker.host}:${broker.port}`), ...this.options.bootstrapServers];
    let lastError: unknown = null;
    for (const address of new Set(candidates)) {
      try {
        return await this.connectionAt(address);
      } catch (error) {
        if (!(error instanceof KafkaConnectionError)) throw error;
        lastError = error;
      }
    }
    throw new KafkaConnectionError(`no broker reachable (tried ${[...new Set(candidates)].join(', ')})`, { cause: lastError });
  }

  async controllerConnection(): Promise<Connection> {
    if (this.controllerId < 0) await this.refreshMetadata();
    return this.controllerId >= 0 ? this.connectionTo(this.controllerId) : this.anyConnection();
  }

  /**
   * Fetches metadata for `topics` (null: every topic) and updates the cache. Topic errors are
   * left in the cache's per-partition error codes and in the return value for callers to judge.
   */
  async refreshMetadata(topics: readonly string[] | null = [...this.topics.keys()], allowAutoTopicCreation = this.options.allowAutoTopicCreation): Promise<Map<string, { errorCode: number; info: TopicInfo | null }>> {
    const connection = await this.anyConnection();
    const request = topics === null ? null : topics.map((name) => ({ name }));
    const { body } = await connection.send(ApiKey.Metadata, { topics: request, allowAutoTopicCreation });
    this.brokers = new Map(body.brokers.map((broker) => [broker.nodeId, { nodeId: broker.nodeId, host: broker.host, port: broker.port, rack: broker.rack }]));
    this.controllerId = body.controllerId;
    this.clusterIdValue = body.clusterId;
    const result = new Map<string, { errorCode: number; info: TopicInfo | null }>();
    for (const topic of body.topics) {
      if (topic.name === null) continue;
      if (topic.errorCode !== 0 && topic.partitions.length === 0) {
        this.topics.delete(topic.name);
        result.set(topic.name, { errorCode: topic.errorCode, info: null });
        continue;
      }
      const partitions = topic.partitions
        .map((partition) => ({
          partition: partition.partitionIndex, leader: partition.leaderId, leaderEpoch: partition.leaderEpoch,
          replicas: partition.replicaNodes, isr: partition.isrNodes, offlineReplicas: partition.offlineReplicas, errorCode: partition.errorCode,
        }))
        .sort((a, b) => a.partition - b.partition);
      const info: TopicInfo = { name: topic.name, topicId: topic.topicId, internal: topic.isInternal, partitions };
      this.topics.set(topic.name, info);
      this.topicFetchedAt.set(topic.name, Date.now());
      result.set(topic.name, { errorCode: topic.errorCode, info });
    }
    return result;
  }

  /**
   * The topic's metadata, fetched when not cached (or when `refresh`), retried while the
   * broker reports a retriable error such as LEADER_NOT_AVAILABLE right after creation.
   */
  async topic(name: string, refresh = false): Promise<TopicInfo> {
    const cached = this.topics.get(name);
    const fresh = Date.now() - (this.topicFetchedAt.get(name) ?? 0) < this.options.metadataMaxAgeMs;
    if (cached !== undefined && !refresh && fresh && cached.partitions.every((partition) => partition.leader >= 0)) return cached;
    return this.withRetries(async () => {
      const result = (await this.refreshMetadata([name])).get(name);
      if (result === undefined) throw new KafkaProtocolError(3, `metadata for topic ${name}`);
      if (result.info === null) throw new KafkaProtocolError(result.errorCode, `metadata for topic ${name}`);
      const leaderless = result.info.partitions.find((partition) => partition.leader < 0);
      if (leaderless !== undefined) throw new KafkaProtocolError(5, `topic ${name} partition ${leaderless.partition}`);
      return result.info;
    });
  }

  /** True when the topic's cached metadata is younger than metadata.max.age.ms and has every leader. */
  isFresh(name: string): boolean {
    const cached = this.topics.get(name);
    if (cached === undefined || Date.now() - (this.topicFetchedAt.get(name) ?? 0) >= this.options.metadataMaxAgeMs) return false;
    return cached.partitions.every((partition) => partition.leader >= 0);
  }

  cachedTopic(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  async leaderConnection(topic: string, partition: number): Promise<{ nodeId: number; connection: Connection }> {
    const info = await this.topic(topic);
    const leader = info.partitions[partition]?.leader;
    if (leader === undefined) throw new KafkaProtocolError(3, `topic ${topic} has no partition ${partition}`);
    return { nodeId: leader, connection: await this.connectionTo(leader) };
  }

  /** The coordinator of a group or transactional id, found with FindCoordinator and cached. */
  async coordinatorConnection(key: string, type: CoordinatorType = 'group'): Promise<Connection> {
    const cacheKey = `${type}:${key}`;
    const cached = this.coordinators.get(cacheKey);
    if (cached !== undefined) return this.connectionTo(cached);
    const nodeId = await this.withRetries(async () => {
      const connection = await this.anyConnection();
      const keyType = type === 'group' ? 0 : 1;
      const { version, body } = await connection.send(ApiKey.FindCoordinator, { key, keyType, coordinatorKeys: [key] });
      const found = version >= 4 ? body.coordinators[0] : { nodeId: body.nodeId, host: body.host, port: body.port, errorCode: body.errorCode, errorMessage: body.errorMessage };
      if (found === undefined) throw new KafkaProtocolError(15, `FindCoordinator ${key}`);
      if (found.errorCode !== 0) throw new KafkaProtocolError(found.errorCode, `FindCoordinator ${key}`, found.errorMessage);
      this.brokers.set(found.nodeId, { nodeId: found.nodeId, host: found.host, port: found.port, rack: this.brokers.get(found.nodeId)?.rack ?? null });
      return found.nodeId;
    });
    this.coordinators.set(cacheKey, nodeId);
    return this.connectionTo(nodeId);
  }

  /** Forgets a coordinator after NOT_COORDINATOR or a broken connection. */
  invalidateCoordinator(key: string, type: CoordinatorType = 'group'): void {
    this.coordinators.delete(`${type}:${key}`);
  }

  /** Runs `attempt` until it succeeds, fails for good, or retries run out; backs off between. */
  async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 0; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        if (!isRetriableError(error) || tries >= this.options.retries || this.closed) throw error;
        await sleep(this.options.retryBackoffMs * Math.min(2 ** tries, 32));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const opened = await Promise.allSettled([...this.connections.values()]);
    for (const result of opened) if (result.status === 'fulfilled') result.value.close();
    this.connections.clear();
  }
}
