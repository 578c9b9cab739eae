// The memory budget all RocksDB stores of a process share. rocksdb-native 3.18 exposes neither a
// shared block cache nor RocksDB's WriteBufferManager: the block cache is only on or off per
// column family (its size is fixed inside the binding), and memtables are sized per column
// family. So the budget is a static split: each column family gets
// writeBufferBytesTotal / (columnFamiliesMax * maxWriteBufferNumber) per memtable, and the budget
// refuses to hand out more than columnFamiliesMax column families at once. That bounds memtable
// memory for the process; it cannot bound block cache memory.
import { z } from 'zod';
import { ROCKSDB_LIMITS } from './limits.ts';

export const rocksDbBudgetConfigSchema = z.object({
  /** Memtable bytes all stores of the process may use together. */
  writeBufferBytesTotal: z.number().int().positive().default(512 * 1024 * 1024),
  /** Column families (one per store per task) the process may hold open at once. */
  columnFamiliesMax: z.number().int().positive().default(32),
  /** Memtables per column family (one active, the rest being flushed). */
  maxWriteBufferNumber: z.number().int().min(2).max(8).default(2),
  /** Whether column families use the binding's block cache at all. */
  blockCache: z.boolean().default(true),
});

export type RocksDbBudgetConfig = z.input<typeof rocksDbBudgetConfigSchema>;

export interface ColumnFamilySettings {
  readonly writeBufferSize: number;
  readonly maxWriteBufferNumber: number;
  readonly blockCache: boolean;
}

export class RocksDbMemoryBudget {
  readonly settings: ColumnFamilySettings;
  readonly columnFamiliesMax: number;
  private columnFamiliesInUse = 0;

  constructor(config: RocksDbBudgetConfig = {}) {
    const parsed = rocksDbBudgetConfigSchema.parse(config);
    const writeBufferSize = Math.floor(parsed.writeBufferBytesTotal / (parsed.columnFamiliesMax * parsed.maxWriteBufferNumber));
    if (writeBufferSize < ROCKSDB_LIMITS.writeBufferBytesMin) {
      throw new Error(`RocksDB budget gives each memtable ${writeBufferSize} bytes, below ${ROCKSDB_LIMITS.writeBufferBytesMin}: raise writeBufferBytesTotal or lower columnFamiliesMax`);
    }
    this.settings = { writeBufferSize, maxWriteBufferNumber: parsed.maxWriteBufferNumber, blockCache: parsed.blockCache };
    this.columnFamiliesMax = parsed.columnFamiliesMax;
  }

  /** Claims count column families; throws when the process would exceed its budget. */
  reserve(count: number): ColumnFamilySettings {
    if (this.columnFamiliesInUse + count > this.columnFamiliesMax) {
      throw new Error(`RocksDB budget allows ${this.columnFamiliesMax} column families; ${this.columnFamiliesInUse} in use, ${count} more asked`);
    }
    this.columnFamiliesInUse += count;
    return this.settings;
  }

  release(count: number): void {
    if (count > this.columnFamiliesInUse) throw new Error('RocksDB budget released more column families than it reserved');
    this.columnFamiliesInUse -= count;
  }

  get inUse(): number {
    return this.columnFamiliesInUse;
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
