// StreamsApp configuration, validated with zod. Kafka Streams users write `application.id` or
// `commit.interval.ms`; TypeScript users write `applicationId` or `commitIntervalMs`. Both are
// accepted: Kafka names are translated first, then a strict schema rejects anything unknown with
// the option's name in the message.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { STREAMS_APP_LIMITS } from './limits.ts';

/** Kafka Streams config names and the option each one sets. */
export const STREAMS_KAFKA_NAMES: Readonly<Record<string, string>> = {
  'application.id': 'applicationId',
  'bootstrap.servers': 'bootstrapServers',
  bootstrap: 'bootstrapServers',
  'client.id': 'clientId',
  'state.dir': 'stateDir',
  'processing.guarantee': 'processingGuarantee',
  'commit.interval.ms': 'commitIntervalMs',
  'num.standby.replicas': 'numStandbyReplicas',
  'application.server': 'applicationServer',
  'default.dsl.store': 'defaultDslStore',
  'default.deserialization.exception.handler': 'deserializationExceptionHandler',
  'default.production.exception.handler': 'productionExceptionHandler',
  'poll.ms': 'pollMs',
  'max.poll.records': 'maxPollRecords',
  'session.timeout.ms': 'sessionTimeoutMs',
  'heartbeat.interval.ms': 'heartbeatIntervalMs',
  'max.poll.interval.ms': 'maxPollIntervalMs',
  'request.timeout.ms': 'requestTimeoutMs',
  'repartition.purge.interval.ms': 'repartitionPurgeIntervalMs',
  'embedded.data.dir': 'embeddedDataDir',
  'embedded.topic.partitions': 'embeddedTopicPartitions',
};

const integer = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  z.union([z.number(), z.string().trim().regex(/^-?\d+$/, 'must be a whole number').transform(Number)]).pipe(z.number().int().min(min).max(max));

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9092');

const bootstrapSchema = z.union([
  z.literal('embedded'),
  z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (typeof value === 'string' ? value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '') : value))
    .pipe(z.array(hostPort).min(1, 'needs at least one host:port, or "embedded"')),
]);

export const streamsConfigSchema = z
  .strictObject({
    /** Names the consumer group, the internal topics and the state folder; keep it stable. */
    applicationId: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'may hold letters, digits, ".", "_" and "-" only'),
    /** Brokers to bootstrap from, or 'embedded' to start a Runnel broker in this process. */
    bootstrapServers: bootstrapSchema,
    /** Data directory of the embedded broker; default `<state.dir>/<application.id>-broker`. */
    embeddedDataDir: z.string().min(1).optional(),
    /** With the embedded broker, missing source and sink topics are created with this many partitions. */
    embeddedTopicPartitions: integer(1, 1_000).default(4),
    clientId: z.string().min(1).optional(),
    stateDir: z.string().min(1).default(path.join(os.tmpdir(), 'runnel-streams')),
    processingGuarantee: z.enum(['at_least_once', 'exactly_once_v2']).default('at_least_once'),
    /** Default 30 s under at-least-once and 100 ms under exactly-once, as in Kafka Streams. */
    commitIntervalMs: integer(0).optional(),
    numStandbyReplicas: integer(0, 8).default(0),
    /** host:port where this instance answers interactive queries; shared through the group. */
    applicationServer: hostPort.optional(),
    /** Where stores keep their state: RocksDB under state.dir, or memory only (rebuilt from changelogs). */
    defaultDslStore: z.enum(['rocksDB', 'in_memory']).default('rocksDB'),
    deserializationExceptionHandler: z.enum(['log-and-continue', 'fail']).default('fail'),
    productionExceptionHandler: z.enum(['log-and-continue', 'fail']).default('fail'),
    /** Consumed repartition records are deleted at most this often. */
    repartitionPurgeIntervalMs: integer(0).default(STREAMS_APP_LIMITS.repartitionPurgeIntervalMs),
    pollMs: integer(1, 60_000).default(STREAMS_APP_LIMITS.pollMsDefault),
    maxPollRecords: integer(1, 1_000_000).default(STREAMS_APP_LIMITS.maxPollRecordsDefault),
    sessionTimeoutMs: integer(1).default(45_000),
    heartbeatIntervalMs: integer(1).default(3_000),
    maxPollIntervalMs: integer(1).default(300_000),
    requestTimeoutMs: integer(1).default(30_000),
  })
  .refine((config) => config.heartbeatIntervalMs < config.sessionTimeoutMs, { message: 'heartbeatIntervalMs must be below sessionTimeoutMs', path: ['heartbeatIntervalMs'] });

export type StreamsConfigInput = z.input<typeof streamsConfigSchema> | Readonly<Record<string, unknown>>;
type ParsedConfig = z.output<typeof streamsConfigSchema>;

export interface StreamsConfig extends Omit<ParsedConfig, 'commitIntervalMs' | 'clientId'> {
  readonly commitIntervalMs: number;
  readonly clientId: string;
}

export class StreamsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamsConfigError';
  }
}

/** Renames Kafka-style keys; a key given under two names is an error rather than a silent pick. */
function translate(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const output: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const name = STREAMS_KAFKA_NAMES[key] ?? key;
    if (name in output) throw new StreamsConfigError(`option ${name} is given twice (as ${key} too); keep one`);
    if (value !== undefined) output[name] = value;
  }
  return output;
}

export function parseStreamsConfig(input: StreamsConfigInput): StreamsConfig {
  const result = streamsConfigSchema.safeParse(translate(input as Readonly<Record<string, unknown>>));
  if (!result.success) {
    const problems = result.error.issues.map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`));
    throw new StreamsConfigError(`invalid streams config: ${problems.join('; ')}`);
  }
  const parsed = result.data;
  const commitIntervalMs = parsed.commitIntervalMs
    ?? (parsed.processingGuarantee === 'exactly_once_v2' ? STREAMS_APP_LIMITS.commitIntervalMsExactlyOnce : STREAMS_APP_LIMITS.commitIntervalMsAtLeastOnce);
  // A transaction stays open for one commit interval; the broker aborts it after the timeout.
  if (parsed.processingGuarantee === 'exactly_once_v2' && commitIntervalMs >= STREAMS_APP_LIMITS.transactionTimeoutMs) {
    throw new StreamsConfigError(`invalid streams config: commit.interval.ms ${commitIntervalMs} must stay below the transaction timeout (${STREAMS_APP_LIMITS.transactionTimeoutMs} ms) under exactly_once_v2`);
  }
  return { ...parsed, commitIntervalMs, clientId: parsed.clientId ?? `${parsed.applicationId}-client` };
}
