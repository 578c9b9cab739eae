// The RocksDB stores: one database per task, a column family per store, asynchronous reads,
// staged write batches, a time-segmented window store and changelog restoration.
export { BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY, configureSharedRocksDbBudget, RocksDbMemoryBudget, rocksDbBudgetConfigSchema, sharedRocksDbBudget } from './budget.ts';
export type { ColumnFamilySettings, RocksDbBudgetConfig } from './budget.ts';
export { prefixUpperBound, RocksDbKeyValueStore } from './key-value.ts';
export type { AsyncKeyValueBytesStore, RangeOptions } from './key-value.ts';
export { ROCKSDB_LIMITS } from './limits.ts';
export { PrefetchedKeyValueStore } from './prefetch.ts';
export { restoreChangelog, synchronousRestoreTarget } from './restore.ts';
export type { ChangelogChunk, RestoreChunk, RestoreOptions, RestoreProgress, RestoreTarget, StateRestoreListener, TopicPartition } from './restore.ts';
export { defaultSegmentIntervalMs } from './segments.ts';
export type { SegmentOptions } from './segments.ts';
export { RocksDbSessionStore } from './session.ts';
export type { SegmentedSessionStoreOptions, SessionBytes } from './session.ts';
export { StandbyUpdater } from './standby.ts';
export type { StandbyTarget, StandbyUpdaterOptions } from './standby.ts';
export { RocksDbTask } from './task.ts';
export type { RocksDbTaskOptions } from './task.ts';
export { RocksDbWindowStore } from './window.ts';
export type { SegmentedWindowStoreOptions, WindowedBytes } from './window.ts';
