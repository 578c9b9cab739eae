// Per-partition log settings. The broker maps Kafka's topic property names (segment.bytes,
// retention.ms, ...) onto this shape with zod at its boundary; inside state/ the values are trusted
// except for the few relations the on-disk format depends on, which resolveLogConfig asserts.
import { LIMITS } from '../../core/limits.ts';

/** Kafka stores "never" for flush.messages and flush.ms as Long.MAX_VALUE; a JS number cannot. */
export const FLUSH_NEVER = Number.MAX_SAFE_INTEGER;

export type TimestampType = 'CreateTime' | 'LogAppendTime';
export type CleanupPolicy = 'delete' | 'compact';

export interface LogConfig {
  /** segment.bytes: the active segment rolls before an append would make it larger than this. */
  segmentBytes: number;
  /** segment.ms: the active segment rolls once its first batch is older than this. */
  segmentMs: number;
  /** segment.index.bytes: the offset index of one segment holds at most this many bytes (8 per entry). */
  segmentIndexBytes: number;
  /** retention.ms: whole segments whose newest timestamp is older than this are deleted; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: oldest segments are deleted while the partition is larger than this; -1 = no limit. */
  retentionBytes: number;
  /** index.interval.bytes: log bytes between two entries of the sparse offset and time indexes. */
  indexIntervalBytes: number;
  /** flush.messages: records appended between two fsyncs; FLUSH_NEVER relies on replication. */
  flushMessages: number;
  /** flush.ms: longest time appended data may stay unsynced; FLUSH_NEVER relies on replication. */
  flushMs: number;
  /** message.timestamp.type: LogAppendTime makes the broker stamp every batch with its clock. */
  messageTimestampType: TimestampType;
  /** cleanup.policy: 'delete' turns on retention, 'compact' the log cleaner; both may be set. */
  cleanupPolicy: readonly CleanupPolicy[];
  /**
   * delete.retention.ms: how long a tombstone stays readable after the cleaner first sees it as
   * the latest record of its key (the delete horizon is stamped into its batch then, see cleaner.ts).
   */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: the cleaner skips a log whose dirty share of cleanable bytes is lower. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: segments holding a record younger than this are not compacted yet. */
  minCompactionLagMs: number;
  /**
   * max.compaction.lag.ms: a record older than this is compacted whatever the dirty ratio, and the
   * active segment of a compacted log rolls by then; COMPACTION_LAG_NEVER turns it off.
   */
  maxCompactionLagMs: number;
}

/** Kafka stores "no maximum" for max.compaction.lag.ms as Long.MAX_VALUE; a JS number cannot. */
export const COMPACTION_LAG_NEVER = Number.MAX_SAFE_INTEGER;

const SEVEN_DAYS_MS = 7 * 24 * 60 * 60 * 1000;

/** Kafka's defaults for the same properties. */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({
  segmentBytes: LIMITS.segmentBytesDefault,
  segmentMs: SEVEN_DAYS_MS,
  segmentIndexBytes: 10 * 1024 * 1024,
  retentionMs: SEVEN_DAYS_MS,
  retentionBytes: -1,
  indexIntervalBytes: LIMITS.indexIntervalBytes,
  flushMessages: FLUSH_NEVER,
  flushMs: FLUSH_NEVER,
  messageTimestampType: 'CreateTime',
  cleanupPolicy: Object.freeze(['delete'] as const),
  deleteRetentionMs: 24 * 60 * 60 * 1000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: COMPACTION_LAG_NEVER,
});

/**
 * Positions inside a segment are stored as u32 in the offset index and Kafka keeps them below
 * 2^31, so a segment can never be larger than this.
 */
export const SEGMENT_BYTES_MAX = 0x7fff_ffff;

/** Fills in Kafka's defaults and asserts the relations the on-disk format relies on. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  const config: LogConfig = { ...DEFAULT_LOG_CONFIG, ...overrides };
  assertConfig(Number.isInteger(config.segmentBytes), 'segmentBytes must be an integer');
  assertConfig(config.segmentBytes >= LIMITS.segmentBytesMin, `segmentBytes below ${LIMITS.segmentBytesMin}`);
  assertConfig(config.segmentBytes <= SEGMENT_BYTES_MAX, 'segmentBytes must fit a u31 file position');
  assertConfig(config.segmentMs > 0, 'segmentMs must be positive');
  assertConfig(config.segmentIndexBytes >= 8, 'segmentIndexBytes must hold one entry');
  assertConfig(config.retentionMs >= -1, 'retentionMs must be -1 or more');
  assertConfig(config.retentionBytes >= -1, 'retentionBytes must be -1 or more');
  assertConfig(config.indexIntervalBytes >= 0, 'indexIntervalBytes must not be negative');
  assertConfig(config.flushMessages >= 1, 'flushMessages must be at least 1');
  assertConfig(config.flushMs >= 0, 'flushMs must not be negative');
  assertConfig(config.deleteRetentionMs >= 0, 'deleteRetentionMs must not be negative');
  assertConfig(config.minCleanableDirtyRatio >= 0 && config.minCleanableDirtyRatio <= 1, 'minCleanableDirtyRatio must be in [0, 1]');
  assertConfig(config.minCompactionLagMs >= 0, 'minCompactionLagMs must not be negative');
  assertConfig(config.maxCompactionLagMs >= 1, 'maxCompactionLagMs must be at least 1');
  assertConfig(config.maxCompactionLagMs >= config.minCompactionLagMs, 'maxCompactionLagMs must not be below minCompactionLagMs');
  return config;
}

function assertConfig(condition: boolean, message: string): void {
  if (!condition) throw new Error(`log config: ${message}`);
}
