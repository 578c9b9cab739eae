// Options shared by producer, consumer and admin, validated with zod. Users coming from Kafka
// write `bootstrap.servers` or `linger.ms`; users of a TypeScript API write `bootstrapServers`
// or `lingerMs`. Both are accepted: Kafka names are translated before validation, and zod's
// strict objects reject anything unknown with the option's name in the message.
import { z } from 'zod';
import type { ClusterOptions } from './cluster.ts';
import { KafkaConfigError } from './errors.ts';

/** Kafka config names accepted as aliases, mapped to the option names of this client. */
export const KAFKA_NAMES: Readonly<Record<string, string>> = {
  'bootstrap.servers': 'bootstrapServers',
  'client.id': 'clientId',
  'request.timeout.ms': 'requestTimeoutMs',
  'socket.connection.setup.timeout.ms': 'connectTimeoutMs',
  'retry.backoff.ms': 'retryBackoffMs',
  'metadata.max.age.ms': 'metadataMaxAgeMs',
  retries: 'retries',
  'allow.auto.create.topics': 'allowAutoTopicCreation',
  acks: 'acks',
  'linger.ms': 'lingerMs',
  'batch.size': 'batchSize',
  'compression.type': 'compression',
  'max.request.size': 'maxRequestSize',
  'group.id': 'groupId',
  'group.instance.id': 'groupInstanceId',
  'session.timeout.ms': 'sessionTimeoutMs',
  'heartbeat.interval.ms': 'heartbeatIntervalMs',
  'max.poll.interval.ms': 'maxPollIntervalMs',
  'max.poll.records': 'maxPollRecords',
  'enable.idempotence': 'idempotent',
  'max.in.flight.requests.per.connection': 'maxInFlightRequests',
  'delivery.timeout.ms': 'deliveryTimeoutMs',
  'buffer.memory': 'bufferMemory',
  'max.block.ms': 'maxBlockMs',
  'enable.auto.commit': 'autoCommit',
  'auto.commit.interval.ms': 'autoCommitIntervalMs',
  'auto.offset.reset': 'autoOffsetReset',
  'partition.assignment.strategy': 'partitionAssignors',
  'fetch.min.bytes': 'fetchMinBytes',
  'fetch.max.bytes': 'fetchMaxBytes',
  'fetch.max.wait.ms': 'fetchMaxWaitMs',
  'max.partition.fetch.bytes': 'maxPartitionFetchBytes',
  'isolation.level': 'isolationLevel',
  'transactional.id': 'transactionalId',
  'transaction.timeout.ms': 'transactionTimeoutMs',
};

/** A whole number given as a number or as a string (properties files hold only strings). */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z
    .union([z.number(), z.string().trim().regex(/^-?\d+$/, 'must be a whole number').transform(Number)])
    .pipe(z.number().int().min(min).max(max));
}

/** Options may also be written with Kafka's dotted config names, e.g. 'linger.ms'. */
export type KafkaStyleOptions = { [name: `${string}.${string}`]: unknown };

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9092');

export const commonOptionsShape = {
  /** A list or a comma-separated string, as bootstrap.servers is written in properties files. */
  bootstrapServers: z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (typeof value === 'string' ? value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') : value))
    .pipe(z.array(hostPort).min(1, 'needs at least one host:port')),
  clientId: z.string().min(1).default('runnel'),
  requestTimeoutMs: integer(1).default(30_000),
  connectTimeoutMs: integer(1).default(10_000),
  retryBackoffMs: integer(0).default(100),
  retries: integer(0, 1_000).default(5),
  metadataMaxAgeMs: integer(0).default(300_000),
};

/** Renames Kafka-style keys to this client's names; a key given under both names is an error. */
export function translateKafkaNames(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const output: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const name = KAFKA_NAMES[key] ?? key;
    if (name in output) throw new KafkaConfigError(`option ${name} is given twice (as ${key} too); keep one`);
    if (value !== undefined) output[name] = value;
  }
  return output;
}

/** Parses options with `schema`, turning zod's report into one readable KafkaConfigError. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(translateKafkaNames(input));
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  throw new KafkaConfigError(`invalid ${what} options: ${problems.join('; ')}`);
}

export interface CommonOptions {
  bootstrapServers: string[];
  clientId: string;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  retryBackoffMs: number;
  retries: number;
  metadataMaxAgeMs: number;
}

export function clusterOptions(options: CommonOptions, allowAutoTopicCreation: boolean): ClusterOptions {
  return {
    bootstrapServers: options.bootstrapServers,
    clientId: options.clientId,
    connectTimeoutMs: options.connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    retryBackoffMs: options.retryBackoffMs,
    retries: options.retries,
    metadataMaxAgeMs: options.metadataMaxAgeMs,
    allowAutoTopicCreation,
  };
}
