// Topic-level settings under Kafka's names. Every setting has a default (often taken from a
// broker setting, which DescribeConfigs reports as the synonym), a zod schema for the string
// form clients send, and a mapping onto the log's own config. DescribeConfigs lists all of
// them, since librdkafka-based tools expect the full list.
import { z } from 'zod';
import type { BrokerConfig } from './config.ts';
import { FLUSH_NEVER, resolveLogConfig, type CleanupPolicy, type LogConfig } from '../../state/log/config.ts';

export type ConfigType = 'BOOLEAN' | 'STRING' | 'INT' | 'SHORT' | 'LONG' | 'DOUBLE' | 'LIST' | 'CLASS' | 'PASSWORD';

/** DescribeConfigs' configType numbers, used from version 3 on. */
export const CONFIG_TYPE_CODE: Record<ConfigType, number> = {
  BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7, CLASS: 8, PASSWORD: 9,
};

export interface TopicConfigDefinition {
  name: string;
  type: ConfigType;
  /** The broker setting whose value is this topic setting's default, if any. */
  brokerSynonym?: keyof BrokerConfig & string;
  defaultValue: (broker: BrokerConfig) => string;
  schema: z.ZodType<unknown>;
  doc: string;
}

const long = (min: number) => z.string().trim().regex(/^-?\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min));
const double = (min: number, max: number) => z.string().trim().regex(/^-?\d+(\.\d+)?$/, 'must be a number').transform(Number).pipe(z.number().min(min).max(max));
const bool = z.enum(['true', 'false'], { message: 'must be true or false' });
const oneOf = (...values: [string, ...string[]]) => z.enum(values, { message: `must be one of ${values.join(', ')}` });
const cleanupPolicy = z.string().trim().refine(
  (text) => text.split(',').map((part) => part.trim()).every((part) => part === 'delete' || part === 'compact'),
  'must be delete, compact or compact,delete',
);

export const TOPIC_CONFIGS: readonly TopicConfigDefinition[] = [
  { name: 'cleanup.policy', type: 'LIST', brokerSynonym: 'log.cleanup.policy', defaultValue: (b) => b['log.cleanup.policy'], schema: cleanupPolicy, doc: 'delete old segments, compact by key, or both' },
  { name: 'compression.type', type: 'STRING', brokerSynonym: 'compression.type', defaultValue: (b) => b['compression.type'], schema: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'), doc: 'codec for stored batches; producer keeps what the producer sent' },
  { name: 'delete.retention.ms', type: 'LONG', brokerSynonym: 'log.cleaner.delete.retention.ms', defaultValue: (b) => String(b['log.cleaner.delete.retention.ms']), schema: long(0), doc: 'how long tombstones survive compaction' },
  { name: 'file.delete.delay.ms', type: 'LONG', defaultValue: () => '60000', schema: long(0), doc: 'delay before a deleted segment file is removed' },
  { name: 'flush.messages', type: 'LONG', brokerSynonym: 'log.flush.interval.messages', defaultValue: (b) => String(b['log.flush.interval.messages']), schema: long(1), doc: 'fsync after this many messages' },
  { name: 'flush.ms', type: 'LONG', brokerSynonym: 'log.flush.interval.ms', defaultValue: (b) => String(b['log.flush.interval.ms']), schema: long(0), doc: 'fsync at least this often' },
  { name: 'index.interval.bytes', type: 'INT', brokerSynonym: 'log.index.interval.bytes', defaultValue: (b) => String(b['log.index.interval.bytes']), schema: long(0), doc: 'bytes between offset index entries' },
  { name: 'max.compaction.lag.ms', type: 'LONG', brokerSynonym: 'log.cleaner.max.compaction.lag.ms', defaultValue: (b) => (b['log.cleaner.max.compaction.lag.ms'] >= Number.MAX_SAFE_INTEGER ? '9223372036854775807' : String(b['log.cleaner.max.compaction.lag.ms'])), schema: long(1), doc: 'longest a record stays uncompacted' },
  { name: 'max.message.bytes', type: 'INT', brokerSynonym: 'message.max.bytes', defaultValue: (b) => String(b['message.max.bytes']), schema: long(0), doc: 'largest record batch the topic accepts' },
  { name: 'message.timestamp.type', type: 'STRING', brokerSynonym: 'log.message.timestamp.type', defaultValue: (b) => b['log.message.timestamp.type'], schema: oneOf('CreateTime', 'LogAppendTime'), doc: 'producer timestamps or broker append time' },
  { name: 'min.cleanable.dirty.ratio', type: 'DOUBLE', brokerSynonym: 'log.cleaner.min.cleanable.ratio', defaultValue: (b) => String(b['log.cleaner.min.cleanable.ratio']), schema: double(0, 1), doc: 'dirty share of the log that triggers compaction' },
  { name: 'min.compaction.lag.ms', type: 'LONG', brokerSynonym: 'log.cleaner.min.compaction.lag.ms', defaultValue: (b) => String(b['log.cleaner.min.compaction.lag.ms']), schema: long(0), doc: 'shortest time a record stays uncompacted' },
  { name: 'min.insync.replicas', type: 'INT', brokerSynonym: 'min.insync.replicas', defaultValue: (b) => String(b['min.insync.replicas']), schema: long(1), doc: 'replicas that must have a write for acks=all' },
  { name: 'preallocate', type: 'BOOLEAN', defaultValue: () => 'false', schema: bool, doc: 'preallocate segment files' },
  { name: 'retention.bytes', type: 'LONG', brokerSynonym: 'log.retention.bytes', defaultValue: (b) => String(b['log.retention.bytes']), schema: long(-1), doc: 'largest size of a partition before old segments go; -1 for no limit' },
  { name: 'retention.ms', type: 'LONG', brokerSynonym: 'log.retention.ms', defaultValue: (b) => String(b['log.retention.ms']), schema: long(-1), doc: 'longest time a segment is kept; -1 for ever' },
  { name: 'segment.bytes', type: 'INT', brokerSynonym: 'log.segment.bytes', defaultValue: (b) => String(b['log.segment.bytes']), schema: long(1024), doc: 'size at which a segment rolls' },
  { name: 'segment.index.bytes', type: 'INT', defaultValue: () => '10485760', schema: long(4096), doc: 'largest offset index per segment' },
  { name: 'segment.jitter.ms', type: 'LONG', defaultValue: () => '0', schema: long(0), doc: 'random jitter subtracted from segment.ms' },
  { name: 'segment.ms', type: 'LONG', brokerSynonym: 'log.roll.ms', defaultValue: (b) => String(b['log.roll.ms']), schema: long(1), doc: 'age at which a segment rolls' },
  { name: 'unclean.leader.election.enable', type: 'BOOLEAN', brokerSynonym: 'unclean.leader.election.enable', defaultValue: (b) => String(b['unclean.leader.election.enable']), schema: bool, doc: 'allow an out-of-sync replica to lead' },
];

const DEFINITIONS = new Map(TOPIC_CONFIGS.map((definition) => [definition.name, definition]));

export function topicConfigDefinition(name: string): TopicConfigDefinition | undefined {
  return DEFINITIONS.get(name);
}

export type TopicConfigProblem = { name: string; reason: string };

/** Checks a set of topic overrides; returns what is wrong with each bad key. */
export function validateTopicConfigs(overrides: Record<string, string | null>): TopicConfigProblem[] {
  const problems: TopicConfigProblem[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const definition = DEFINITIONS.get(name);
    if (definition === undefined) {
      problems.push({ name, reason: `unknown topic config '${name}'` });
      continue;
    }
    if (value === null) continue;
    const result = definition.schema.safeParse(value);
    if (!result.success) problems.push({ name, reason: `${name}=${value}: ${result.error.issues[0]?.message ?? 'invalid'}` });
  }
  return problems;
}

/** The effective value of every topic setting: the override if set, else the default. */
export function effectiveTopicConfigs(broker: BrokerConfig, overrides: Record<string, string>): Map<string, { value: string; isDefault: boolean; definition: TopicConfigDefinition }> {
  const result = new Map<string, { value: string; isDefault: boolean; definition: TopicConfigDefinition }>();
  for (const definition of TOPIC_CONFIGS) {
    const override = overrides[definition.name];
    result.set(definition.name, override === undefined
      ? { value: definition.defaultValue(broker), isDefault: true, definition }
      : { value: override, isDefault: false, definition });
  }
  return result;
}

/** Maps a topic's effective settings onto the log's config. */
export function toLogConfig(broker: BrokerConfig, overrides: Record<string, string>): LogConfig {
  const value = (name: string): string => overrides[name] ?? topicConfigDefinition(name)!.defaultValue(broker);
  const number = (name: string): number => Math.min(Number(value(name)), FLUSH_NEVER);
  return resolveLogConfig({
    segmentBytes: number('segment.bytes'),
    segmentMs: number('segment.ms'),
    segmentIndexBytes: number('segment.index.bytes'),
    retentionMs: number('retention.ms'),
    retentionBytes: number('retention.bytes'),
    indexIntervalBytes: number('index.interval.bytes'),
    flushMessages: number('flush.messages'),
    flushMs: number('flush.ms'),
    messageTimestampType: value('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
    cleanupPolicy: value('cleanup.policy').split(',').map((part) => part.trim()) as CleanupPolicy[],
    deleteRetentionMs: number('delete.retention.ms'),
    minCleanableDirtyRatio: Number(value('min.cleanable.dirty.ratio')),
    minCompactionLagMs: number('min.compaction.lag.ms'),
    maxCompactionLagMs: Math.max(number('max.compaction.lag.ms'), number('min.compaction.lag.ms'), 1),
  });
}
