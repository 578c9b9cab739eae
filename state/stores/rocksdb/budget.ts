// The memory budget all RocksDB stores of a process share. rocksdb-native 3.18 exposes neither a
// shared block cache nor RocksDB's WriteBufferManager, so the budget cannot be one cache and one
// write buffer manager as in Kafka Streams' BoundedMemoryRocksDBConfig; it is enforced by
// dividing it among the open column families instead:
// - Memtables are sized per column family. Each gets
//   writeBufferBytesTotal / (columnFamiliesMax * maxWriteBufferNumber) per memtable, and the
//   budget refuses to hand out more than columnFamiliesMax column families at once, which bounds
//   memtable memory for the process.
// - The block cache is only on or off per column family: the binding (librocksdb) builds every
//   column family's table options without a cache object, so RocksDB gives each one its own
//   LRU cache of its default capacity (32 MiB). The budget turns the cache on for a column family
//   only while blockCacheBytesTotal still covers one more such cache; later column families read
//   through the operating system's page cache alone. That bounds block cache memory too, at the
//   price of uncached stores when many are open.
import { z } from 'zod';
import { ROCKSDB_LIMITS } from './limits.ts';

export const rocksDbBudgetConfigSchema = z.object({
  /** Memtable bytes all stores of the process may use together. */
  writeBufferBytesTotal: z.number().int().positive().default(512 * 1024 * 1024),
  /**
   * Column families (one per store per task) the process may hold open at once. With the default
   * total each memtable gets 8 MiB; measured restoration CPU per record is the same at 8 and
   * 64 MiB and a third higher at 2 MiB, so raise the total along with this for many tasks.
   */
  columnFamiliesMax: z.number().int().positive().default(32),
  /** Memtables per column family (one active, the rest being flushed). */
  maxWriteBufferNumber: z.number().int().min(2).max(8).default(2),
  /** Whether column families use the binding's block cache at all. */
  blockCache: z.boolean().default(true),
  /** Block cache bytes all stores of the process may use together; caches are handed out whole. */
  blockCacheBytesTotal: z.number().int().nonnegative().default(256 * 1024 * 1024),
});

export type RocksDbBudgetConfig = z.input<typeof rocksDbBudgetConfigSchema>;

export interface ColumnFamilySettings {
  readonly writeBufferSize: number;
  readonly maxWriteBufferNumber: number;
  readonly blockCache: boolean;
}

/** The capacity RocksDB gives a column family's block cache when none is configured. */
export const BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY = 32 * 1024 * 1024;

export class RocksDbMemoryBudget {
  /** Settings of a column family that gets a block cache (when the config enables caches). */
  readonly settings: ColumnFamilySettings;
  readonly columnFamiliesMax: number;
  /** Column families that may have a block cache at once. */
  readonly blockCacheColumnFamiliesMax: number;
  readonly writeBufferBytesTotal: number;
  readonly blockCacheBytesTotal: number;
  private columnFamiliesInUse = 0;
  private blockCacheColumnFamiliesInUse = 0;

  constructor(config: RocksDbBudgetConfig = {}) {
    const parsed = rocksDbBudgetConfigSchema.parse(config);
    const writeBufferSize = Math.floor(parsed.writeBufferBytesTotal / (parsed.columnFamiliesMax * parsed.maxWriteBufferNumber));
    if (writeBufferSize < ROCKSDB_LIMITS.writeBufferBytesMin) {
      throw new Error(`RocksDB budget gives each memtable ${writeBufferSize} bytes, below ${ROCKSDB_LIMITS.writeBufferBytesMin}: raise writeBufferBytesTotal or lower columnFamiliesMax`);
    }
    this.settings = { writeBufferSize, maxWriteBufferNumber: parsed.maxWriteBufferNumber, blockCache: parsed.blockCache };
    this.columnFamiliesMax = parsed.columnFamiliesMax;
    this.writeBufferBytesTotal = parsed.writeBufferBytesTotal;
    this.blockCacheBytesTotal = parsed.blockCache ? parsed.blockCacheBytesTotal : 0;
    this.blockCacheColumnFamiliesMax = Math.floor(this.blockCacheBytesTotal / BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY);
  }

  /**
   * Claims count column families (one task's stores, which share one set of options); throws
   * when the process would exceed its budget. They get block caches only if all of them fit in
   * what is left of the block cache budget. Pass the returned settings back to release.
   */
  reserve(count: number): ColumnFamilySettings {
    if (!Number.isInteger(count) || count < 0) throw new Error(`cannot reserve ${count} column families`);
    if (this.columnFamiliesInUse + count > this.columnFamiliesMax) {
      throw new Error(`RocksDB budget allows ${this.columnFamiliesMax} column families; ${this.columnFamiliesInUse} in use, ${count} more asked (raise columnFamiliesMax, and writeBufferBytesTotal with it, through configureSharedRocksDbBudget)`);
    }
    this.columnFamiliesInUse += count;
    const cached = this.settings.blockCache && this.blockCacheColumnFamiliesInUse + count <= this.blockCacheColumnFamiliesMax;
    if (!cached) return { ...this.settings, blockCache: false };
    this.blockCacheColumnFamiliesInUse += count;
    return this.settings;
  }

  /** Returns column families reserved with the given settings (those reserve returned). */
  release(count: number, settings: ColumnFamilySettings = this.settings): void {
    if (count > this.columnFamiliesInUse) throw new Error('RocksDB budget released more column families than it reserved');
    this.columnFamiliesInUse -= count;
    if (settings.blockCache) {
      if (count > this.blockCacheColumnFamiliesInUse) throw new Error('RocksDB budget released more block caches than it handed out');
      this.blockCacheColumnFamiliesInUse -= count;
    }
  }

  get inUse(): number {
    return this.columnFamiliesInUse;
  }

  /** Column families holding a block cache now. */
  get blockCachesInUse(): number {
    return this.blockCacheColumnFamiliesInUse;
  }

  /** The most memtable and block cache memory the stores of the process can use together. */
  get memoryBoundBytes(): number {
    return this.writeBufferBytesTotal + this.blockCacheColumnFamiliesMax * BLOCK_CACHE_BYTES_PER_COLUMN_FAMILY;
  }
}

let processBudget: RocksDbMemoryBudget | null = null;

/** The budget shared by every store of this process, created with defaults on first use. */
export function sharedRocksDbBudget(): RocksDbMemoryBudget {
  processBudget ??= new RocksDbMemoryBudget();
  return processBudget;
}

/** Replaces the process budget; only allowed while no column family holds a reservation. */
export function configureSharedRocksDbBudget(config: RocksDbBudgetConfig): RocksDbMemoryBudget {
  if (processBudget !== null && processBudget.inUse > 0) throw new Error('cannot reconfigure the RocksDB budget while stores are open');
  processBudget = new RocksDbMemoryBudget(config);
  return processBudget;
}
