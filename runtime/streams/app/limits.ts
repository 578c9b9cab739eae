// Limits and defaults of the streams application runtime. They live beside the runtime rather
// than in core/limits.ts because nothing below runtime uses them; the assertions at the end say
// how they must relate.
import assert from 'node:assert/strict';

export const STREAMS_APP_LIMITS = {
  /** Records one poll hands to the tasks (Kafka Streams' max.poll.records default). */
  maxPollRecordsDefault: 1_000,
  /** How long one poll waits for records before the loop punctuates and commits. */
  pollMsDefault: 100,
  /** at-least-once commits every 30 s, exactly-once every 100 ms, as in Kafka Streams. */
  commitIntervalMsAtLeastOnce: 30_000,
  commitIntervalMsExactlyOnce: 100,
  /**
   * The producer's batch.size (Kafka's default is 16 KiB). The poll loop hands the producer a
   * poll's output at once, so batches fill to this size rather than lingering; with 64 KiB the
   * broker appended a quarter as many batches and used about half the CPU in the stateless
   * bench (0.32 against 0.71 s per 500,000 records, medians of five runs back to back), with
   * the app's own CPU per record unchanged. Each partition written holds one open batch this big.
   */
  producerBatchBytes: 64 * 1024,
  /** Unacknowledged output bytes before the poll loop waits for the producer: back-pressure. */
  inFlightOutputBytesMax: 8 * 1024 * 1024,
  /** Logged changes a task collects before writing them to its local RocksDB copy as one batch. */
  localCopyBatchRecords: 10_000,
  /** Records restored per poll of the restore consumer. */
  restoreBatchRecords: 10_000,
  /**
   * Records and bytes of one partition gathered into one RocksDB write batch during restoration,
   * whichever comes first; each restoring partition holds up to about this much before writing.
   */
  restoreWriteBatchRecords: 50_000,
  /**
   * Changelog records (end offsets summed) from which a task restored from scratch writes them
   * as a RocksDB log that the database's open replays (bulk-restore.ts), rather than through
   * write batches. Below it the extra open and close of the database cost more than they save.
   */
  bulkRestoreRecordsMin: 20_000,
  restoreWriteBatchBytes: 4 * 1024 * 1024,
  /**
   * Tasks created and restored at once after a rebalance; their changelog partitions share the
   * restore consumer's fetches. Each restoring partition holds a packing buffer of its own.
   */
  restoringTasksMax: 32,
  /**
   * The restore consumer's longest wait in a fetch with nothing to return. Restoration reads up
   * to a fixed end, so a fetch that waits is one at a partition's end: with the default 500 ms it
   * held back the fetch for the partitions still restoring (one fetch at a time per broker).
   */
  restoreFetchMaxWaitMs: 10,
  /** The restore consumer's bytes per partition per fetch (max.partition.fetch.bytes; Kafka's default is 1 MiB). */
  restorePartitionFetchBytes: 4 * 1024 * 1024,
  /** A changelog read that makes no progress for this long is a failure, not a slow broker. */
  restoreStallMsMax: 120_000,
  /** Kafka Streams keeps window changelogs this much longer than the store's retention. */
  windowChangelogAdditionalRetentionMs: 86_400_000,
  /** Tasks one instance may run; a bound on open RocksDB instances and memory. */
  tasksPerInstanceMax: 4_096,
  /** Members a streams group may have; the assignor's loops are bounded by it. */
  membersMax: 1_000,
  /** Kafka Streams' transaction.timeout.ms under exactly-once: a crashed instance's open
   * transaction blocks read_committed readers at most this long. */
  transactionTimeoutMs: 10_000,
  /** Default of repartition.purge.interval.ms: consumed repartition records are deleted this often. */
  repartitionPurgeIntervalMs: 30_000,
  /** Standby replicas flush RocksDB and checkpoint at most this often (a memtable flush each time). */
  standbyCheckpointIntervalMs: 5_000,
  /** How often the poll loop looks for task directories past state.cleanup.delay.ms. */
  stateCleanupCheckIntervalMs: 60_000,
  /** Bytes of assignment or subscription user data accepted from the group. */
  userDataBytesMax: 1024 * 1024,
} as const;

assert(STREAMS_APP_LIMITS.restoreBatchRecords <= STREAMS_APP_LIMITS.restoreWriteBatchRecords, 'a restoration write batch holds at least one poll of a partition');
assert(STREAMS_APP_LIMITS.commitIntervalMsExactlyOnce <= STREAMS_APP_LIMITS.commitIntervalMsAtLeastOnce, 'exactly-once commits at least as often as at-least-once');
assert(STREAMS_APP_LIMITS.inFlightOutputBytesMax < 32 * 1024 * 1024, 'in-flight output stays below the producer buffer.memory default, so sends never wait for memory and never reorder');
assert(STREAMS_APP_LIMITS.producerBatchBytes * 16 <= STREAMS_APP_LIMITS.inFlightOutputBytesMax, 'back-pressure waits for many full batches, not for one');
assert(STREAMS_APP_LIMITS.pollMsDefault < STREAMS_APP_LIMITS.commitIntervalMsExactlyOnce * 10, 'a poll must not hold back commits by much');
