// Every bound the project enforces lives here, with the assertions that tie them together.
// A limit that is a user setting (message.max.bytes, segment.bytes) has its default here and
// its validation in the config schema; the rest are hard ceilings that protect the process.

export const LIMITS = {
  /** Largest request frame a broker accepts (socket.request.max.bytes in Kafka). */
  requestFrameBytesMax: 100 * 1024 * 1024,
  /** Largest response frame a client accepts before it treats the connection as broken. */
  responseFrameBytesMax: 256 * 1024 * 1024,
  /** Requests read from one connection but not yet answered; reading pauses above this. */
  inFlightRequestsPerConnectionMax: 64,
  /** Default for message.max.bytes: the largest record batch a topic accepts. */
  messageBytesDefault: 1024 * 1024 + 12,
  /** Default for segment.bytes. */
  segmentBytesDefault: 1024 * 1024 * 1024,
  /** Smallest segment.bytes a topic may set (Kafka: 14, we keep room for one batch header). */
  segmentBytesMin: 1024,
  /** Bytes of log between two entries of the sparse offset and time indexes. */
  indexIntervalBytes: 4096,
  /** Largest topic name (Kafka: 249 characters). */
  topicNameLengthMax: 249,
  /** Partitions in one topic. */
  partitionsPerTopicMax: 10_000,
  /** Batches per producer whose sequence numbers a partition remembers for deduplication (Kafka: 5). */
  producerBatchesKept: 5,
  /** Members in one consumer group. */
  groupMembersMax: 1_000,
  /** Longest a fetch may wait in purgatory, whatever the client asks. */
  fetchWaitMsMax: 30_000,
  /** Connections a broker serves at once. */
  connectionsMax: 10_000,

  // Streams engine.
  /** Entries a caching store layer holds before it flushes to the layer below. */
  cacheEntriesMax: 10_000,
  /** Records the test driver processes for one piped record; repartition loops stop here. */
  driverCascadeRecordsMax: 1_000_000,
  /** Keys a suppress buffer holds before it emits early (or fails, for final results). */
  suppressBufferRecordsMax: 1_000_000,
  /** Windows a single record may fall into (hopping windows with a tiny advance). */
  windowsPerRecordMax: 10_000,

  // Cluster (runtime/cluster).
  /** Longest a broker waits for the controller to answer one request (registration, heartbeat, AlterPartition). */
  controllerRequestTimeoutMs: 5_000,
  /** Longest a broker waits for its metadata image to show a change it forwarded (new topics), before answering. */
  metadataPropagationWaitMsMax: 3_000,
  /** Longest a controlled shutdown waits for the node's partitions to get other leaders. */
  controlledShutdownWaitMsMax: 5_000,
  /** A pending ISR proposal whose answer was lost is sent again after this long. */
  isrProposalResendMs: 1_000,

  // Local state.
  /** Default for state.cleanup.delay.ms: how long an unused task directory stays (Kafka Streams: 10 minutes). */
  stateCleanupDelayMsDefault: 600_000,
  /** Changelog records restoration writes to RocksDB in one write batch. */
  restoreBatchRecordsDefault: 20_000,
  /** Largest restoration write batch a caller may ask for. */
  restoreBatchRecordsMax: 1_000_000,
} as const;

function assert(condition: boolean, message: string): void {
  if (!condition) throw new Error(`limits: ${message}`);
}

assert(LIMITS.messageBytesDefault < LIMITS.segmentBytesDefault, 'a batch must fit in a segment');
assert(LIMITS.messageBytesDefault < LIMITS.requestFrameBytesMax, 'a batch must fit in a request');
assert(LIMITS.requestFrameBytesMax <= LIMITS.responseFrameBytesMax, 'fetch responses may exceed requests');
assert(LIMITS.indexIntervalBytes < LIMITS.segmentBytesMin * 8, 'indexes need entries per segment');
assert(LIMITS.cacheEntriesMax >= 1, 'a caching layer must hold at least one entry');
assert(LIMITS.windowsPerRecordMax <= LIMITS.driverCascadeRecordsMax, 'one hopping record must not exhaust the driver');
assert(LIMITS.restoreBatchRecordsDefault <= LIMITS.restoreBatchRecordsMax, 'the default restoration batch must be allowed');
assert(LIMITS.suppressBufferRecordsMax <= LIMITS.driverCascadeRecordsMax, 'emptying a full suppress buffer must fit in one driver cascade');
