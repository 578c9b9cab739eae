// Bounds of the RocksDB stores. They sit here rather than in core/limits.ts only because that
// file belongs to another engineer this session; they should move there when it is next edited.

export const ROCKSDB_LIMITS = {
  /** Staged writes after which a store hands its write batch to RocksDB without waiting for a flush. */
  stagedWritesMax: 10_000,
  /** Gets sent to RocksDB in one read batch; getMany splits larger requests. */
  readBatchKeysMax: 4_096,
  /** Entries an iterator fetches per native call. */
  iteratorCapacity: 1_024,
  /** Smallest memtable a column family may get from the budget. */
  writeBufferBytesMin: 1024 * 1024,
  /** Column families (stores) one task's RocksDB instance may hold. */
  columnFamiliesPerTaskMax: 256,
  /** Segments a window store keeps live; bounds how many ranges a fetch scans. */
  windowSegmentsMax: 1_024,
} as const;

