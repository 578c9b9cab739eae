// The Kafka clients one StreamsApp instance uses: an admin for topics, one producer for outputs
// and changelogs (transactional under exactly-once), the main consumer (assigned the active
// tasks' partitions; offsets go through the group member), a restore consumer and a standby
// consumer (no group), and the client's group membership running the task-aware assignor. With
// bootstrap 'embedded' the broker itself starts here too.
import path from 'node:path';
import { Cluster } from '../../client/cluster.ts';
import { GroupMembership } from '../../client/group-membership.ts';
import { Admin, Consumer, Producer } from '../../client/index.ts';
import { StreamsPartitionAssignor } from './assignment-info.ts';
import { ProducerCollector } from './collector.ts';
import type { StreamsConfig } from './config.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';
import type { TopologyPlan } from './plan.ts';

export interface Clients {
  readonly bootstrap: string;
  readonly admin: Admin;
  readonly producer: Producer;
  readonly consumer: Consumer;
  readonly restoreConsumer: Consumer;
  /** Follows the changelogs of standby tasks; no group. */
  readonly standbyConsumer: Consumer;
  /** Reads every partition of the global stores' topics; no group. */
  readonly globalConsumer: Consumer;
  /** The group member's own connections. */
  readonly cluster: Cluster;
  /** Membership in the group application.id under the "consumer" protocol type, so Kafka tools describe it. */
  readonly member: GroupMembership;
  /** The member's assignor: the subscription to send at the next join, the assignment of the last one. */
  readonly assignor: StreamsPartitionAssignor;
  readonly collector: ProducerCollector;
  readonly embedded: EmbeddedBroker | null;
}

export interface ClientOptions {
  readonly config: StreamsConfig;
  /** Set under exactly-once. */
  readonly transactionalId: string | null;
  /** Plans the topology (creating internal topics); the group leader runs it before assigning. */
  readonly plan: (admin: Admin) => Promise<TopologyPlan>;
  readonly log: (message: string) => void;
}

export async function createClients(options: ClientOptions): Promise<Clients> {
  const { config } = options;
  const embedded = config.bootstrapServers === 'embedded' ? await startEmbeddedBroker(config.embeddedDataDir ?? path.join(config.stateDir, `${config.applicationId}-broker`)) : null;
  try {
    return await connect(options, embedded);
  } catch (error) {
    await embedded?.stop().catch(() => undefined);
    throw error;
  }
}

/** The restore consumer's fetch settings (see STREAMS_APP_LIMITS.restoreFetch*). */
export const restoreConsumerFetch = { fetchMaxWaitMs: STREAMS_APP_LIMITS.restoreFetchMaxWaitMs, maxPartitionFetchBytes: STREAMS_APP_LIMITS.restorePartitionFetchBytes };

async function connect(options: ClientOptions, embedded: EmbeddedBroker | null): Promise<Clients> {
  const { config } = options;
  const bootstrap = embedded?.bootstrap ?? (config.bootstrapServers as string[]).join(',');
  const common = { bootstrapServers: bootstrap, requestTimeoutMs: config.requestTimeoutMs };
  const isolationLevel = options.transactionalId === null ? 'read_uncommitted' : 'read_committed';
  const admin = new Admin({ ...common, clientId: `${config.clientId}-admin` });
  const transactional = options.transactionalId === null ? {} : { transactionalId: options.transactionalId, transactionTimeoutMs: STREAMS_APP_LIMITS.transactionTimeoutMs };
  const producer = new Producer({ ...common, ...transactional, clientId: `${config.clientId}-producer`, lingerMs: 5, batchSize: STREAMS_APP_LIMITS.producerBatchBytes, allowAutoTopicCreation: false });
  const consumer = new Consumer({
    ...common, clientId: `${config.clientId}-consumer`, groupId: config.applicationId, autoCommit: false, autoOffsetReset: 'earliest', maxPollRecords: config.maxPollRecords, isolationLevel,
  });
  const changelogReader = (name: string, fetch: { fetchMaxWaitMs?: number; maxPartitionFetchBytes?: number } = {}) => new Consumer({ ...common, ...fetch, clientId: `${config.clientId}-${name}`, autoCommit: false, autoOffsetReset: 'earliest', maxPollRecords: STREAMS_APP_LIMITS.restoreBatchRecords, isolationLevel });
  const cluster = new Cluster({
    bootstrapServers: bootstrap.split(','), clientId: `${config.clientId}-group`, connectTimeoutMs: 10_000, requestTimeoutMs: config.requestTimeoutMs,
    retryBackoffMs: 100, retries: 5, allowAutoTopicCreation: false, metadataMaxAgeMs: 300_000,
  });
  const assignor = new StreamsPartitionAssignor(() => options.plan(admin), config.numStandbyReplicas);
  const member = new GroupMembership(cluster, {
    groupId: config.applicationId, sessionTimeoutMs: config.sessionTimeoutMs, rebalanceTimeoutMs: config.maxPollIntervalMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs, requestTimeoutMs: config.requestTimeoutMs, retryBackoffMs: 100, assignors: [assignor],
  });
  const collector = new ProducerCollector(producer, config.productionExceptionHandler, options.log);
  const clients: Clients = { bootstrap, admin, producer, consumer, restoreConsumer: changelogReader('restore-consumer', restoreConsumerFetch), standbyConsumer: changelogReader('standby-consumer'), globalConsumer: changelogReader('global-consumer'), cluster, member, assignor, collector, embedded };
  try {
    await admin.connect();
    if (options.transactionalId === null) await producer.connect();
    else await producer.initTransactions();
  } catch (error) {
    await closeClients(clients);
    throw error;
  }
  return clients;
}

/** Leaves the group and closes every client (and the embedded broker); never throws. */
export async function closeClients(clients: Clients): Promise<void> {
  await clients.member.leave('the streams application is closing').catch(() => undefined);
  const closers = [clients.consumer, clients.restoreConsumer, clients.standbyConsumer, clients.globalConsumer, clients.producer, clients.admin, clients.cluster];
  for (const client of closers) await client.close().catch(() => undefined);
  await clients.embedded?.stop().catch(() => undefined);
}
