// Bounds for the streams engine. They belong with core/limits.ts; they live here until that
// file's owner merges them, because this issue may only touch its own folders.
export const STREAMS_LIMITS = {
  /** Entries a caching store layer holds before it flushes to the layer below. */
  cacheEntriesMax: 10_000,
  /** Records a test driver processes for one piped record (repartition loops stop here). */
  driverCascadeRecordsMax: 1_000_000,
  /** Records a suppress buffer holds before it emits early. */
  suppressBufferRecordsMax: 1_000_000,
  /** Windows a single record may fall into (hopping windows with a tiny advance). */
  windowsPerRecordMax: 10_000,
} as const;
