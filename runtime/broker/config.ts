// Broker settings under Kafka's names, read from a properties file and overridden by CLI
// flags, validated by zod so a wrong value is reported with its key and the reason.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LIMITS } from '../../core/limits.ts';

/** Accepts a number or its decimal text, as a properties file or a CLI flag gives it. */
const whole = (min: number, max = Number.MAX_SAFE_INTEGER) => z.preprocess(
  (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
  z.number({ error: 'must be a whole number' }).int('must be a whole number')
    .min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
);
const flag = z.preprocess(
  (value) => (value === 'true' ? true : value === 'false' ? false : value),
  z.boolean({ error: 'must be true or false' }),
);

const listenerPattern = /^(?:[A-Za-z_]+:\/\/)?([^:,]*):(\d+)$/;

export const BrokerConfigSchema = z.object({
  'node.id': whole(0, 2 ** 31 - 1).default(1),
  'listeners': z.string().regex(listenerPattern, 'must look like PLAINTEXT://host:port (port 0 picks a free one)').default('PLAINTEXT://127.0.0.1:9092'),
  'advertised.listeners': z.string().regex(listenerPattern, 'must look like PLAINTEXT://host:port').optional(),
  'log.dirs': z.string().min(1, 'must name a directory').default('./data'),
  'num.partitions': whole(1, LIMITS.partitionsPerTopicMax).default(1),
  'default.replication.factor': whole(1, 32).default(1),
  'auto.create.topics.enable': flag.default(true),
  'delete.topic.enable': flag.default(true),
  'message.max.bytes': whole(0).default(1_048_588),
  'socket.request.max.bytes': whole(1024).default(104_857_600),
  'log.cleanup.policy': z.string().default('delete'),
  'compression.type': z.string().default('producer'),
  'log.segment.bytes': whole(1024).default(1_073_741_824),
  'log.roll.ms': whole(1).default(7 * 24 * 3_600_000),
  'log.retention.ms': whole(-1).default(7 * 24 * 3_600_000),
  'log.retention.bytes': whole(-1).default(-1),
  'log.retention.check.interval.ms': whole(1).default(300_000),
  'log.index.interval.bytes': whole(0).default(4096),
  'log.flush.interval.messages': whole(1).default(Number.MAX_SAFE_INTEGER),
  'log.flush.interval.ms': whole(0).default(Number.MAX_SAFE_INTEGER),
  'log.message.timestamp.type': z.enum(['CreateTime', 'LogAppendTime']).default('CreateTime'),
  'min.insync.replicas': whole(1).default(1),
  'log.cleaner.enable': flag.default(true),
  'log.cleaner.backoff.ms': whole(1).default(15_000),
  'log.cleaner.min.cleanable.ratio': z.preprocess(
    (value) => (typeof value === 'string' && value.trim() !== '' ? Number(value) : value),
    z.number({ error: 'must be a number between 0 and 1' }).min(0, 'must be at least 0').max(1, 'must be at most 1'),
  ).default(0.5),
  'log.cleaner.delete.retention.ms': whole(0).default(86_400_000),
  'log.cleaner.min.compaction.lag.ms': whole(0).default(0),
  'log.cleaner.max.compaction.lag.ms': whole(1).default(Number.MAX_SAFE_INTEGER),
  'unclean.leader.election.enable': flag.default(false),
  'offsets.topic.num.partitions': whole(1, 1000).default(50),
  // In a cluster: min(this, live brokers) when __consumer_offsets is created.
  'offsets.topic.replication.factor': whole(1, 32).default(3),
  'offsets.retention.minutes': whole(1).default(10_080),
  'group.initial.rebalance.delay.ms': whole(0).default(3000),
  'group.min.session.timeout.ms': whole(1).default(6000),
  'group.max.session.timeout.ms': whole(1).default(1_800_000),
  'group.max.size': whole(1).default(1000),
  'transaction.max.timeout.ms': whole(1).default(900_000),
  'transactional.id.expiration.ms': whole(1, 2 ** 31 - 1).default(604_800_000),
  'transaction.state.log.num.partitions': whole(1, 1000).default(50),
  // In a cluster: min(this, live brokers) when __transaction_state is created, and its min.insync.replicas.
  'transaction.state.log.replication.factor': whole(1, 32).default(3),
  'transaction.state.log.min.isr': whole(1, 32).default(2),
  'transaction.abort.timed.out.transaction.cleanup.interval.ms': whole(1).default(10_000),
  'producer.id.expiration.ms': whole(1, 2 ** 31 - 1).default(86_400_000),
  'producer.id.expiration.check.interval.ms': whole(1).default(600_000),
  // A cluster (runtime/cluster). Without process.roles the broker runs alone, as before.
  'process.roles': z.enum(['broker', 'controller', 'broker,controller', 'controller,broker']).optional(),
  'controller.quorum.voters': z.string().regex(/^\d+@[^:,]+:\d+(,\d+@[^:,]+:\d+)*$/, 'must look like 1@host:port,2@host:port').optional(),
  'cluster.id': z.string().min(1).optional(),
  'broker.rack': z.string().min(1).optional(),
  'broker.session.timeout.ms': whole(1).default(9000),
  'broker.heartbeat.interval.ms': whole(1).default(2000),
  'replica.lag.time.max.ms': whole(1).default(30_000),
  'replica.fetch.wait.max.ms': whole(0).default(500),
  'replica.fetch.max.bytes': whole(1).default(1_048_576),
  'controller.quorum.election.timeout.ms': whole(1).default(1000),
  'controller.quorum.fetch.timeout.ms': whole(1).default(2000),
}).strict();

export type BrokerConfig = z.output<typeof BrokerConfigSchema>;
export type BrokerConfigInput = z.input<typeof BrokerConfigSchema>;

/** Kafka accepts coarser units for some settings; they are folded into the ms form here. */
const UNIT_ALIASES: Record<string, { target: string; factor: number }> = {
  'broker.id': { target: 'node.id', factor: 1 },
  'log.dir': { target: 'log.dirs', factor: 1 },
  'log.retention.minutes': { target: 'log.retention.ms', factor: 60_000 },
  'log.retention.hours': { target: 'log.retention.ms', factor: 3_600_000 },
  'log.roll.hours': { target: 'log.roll.ms', factor: 3_600_000 },
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid broker configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** Parses Java properties text: key=value or key: value, # and ! comments, \ continuations. */
export function parseProperties(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (line.endsWith('\\') && index + 1 < lines.length) line = line.slice(0, -1) + lines[++index]!.trim();
    const match = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (match === null) result[line] = '';
    else result[match[1]!] = match[2]!;
  }
  return result;
}

/** Combines layers (later wins), applies aliases, validates; throws ConfigError naming each bad key. */
export function resolveBrokerConfig(...layers: Record<string, string | number | boolean | undefined>[]): BrokerConfig {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const alias = UNIT_ALIASES[key];
      if (alias === undefined) { merged[key] = value; continue; }
      const number = Number(value);
      merged[alias.target] = alias.factor === 1 ? value : Number.isFinite(number) ? number * alias.factor : value;
    }
  }
  const result = BrokerConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown setting(s) ${issue.keys.join(', ')}: check the spelling against Kafka's broker configs`;
    const key = issue.path.join('.');
    return `${key}=${String(merged[key])}: ${issue.message}`;
  }));
}

export function loadBrokerConfig(propertiesPath: string | undefined, overrides: Record<string, string | number | boolean | undefined>): BrokerConfig {
  const fromFile = propertiesPath === undefined ? {} : parseProperties(readFileSync(propertiesPath, 'utf8'));
  return resolveBrokerConfig(fromFile, overrides);
}

export function listenerAddress(listener: string): { host: string; port: number } {
  const match = listenerPattern.exec(listener);
  if (match === null) throw new Error(`bad listener ${listener}`);
  return { host: match[1] === '' ? '0.0.0.0' : match[1]!, port: Number(match[2]) };
}
