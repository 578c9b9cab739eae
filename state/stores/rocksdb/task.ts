// One RocksDB instance per task directory, holding every store of the task as a column family,
// so a commit flushes one database and a write batch could span stores atomically. Column
// families must all be named before the database opens (the binding cannot add or drop one
// later), so the instance keeps a small manifest of the store names it has ever held: RocksDB
// refuses to open a database without naming every column family in it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import RocksDB from 'rocksdb-native';
import { z } from 'zod';
import { RocksDbMemoryBudget, sharedRocksDbBudget } from './budget.ts';
import type { ColumnFamilySettings } from './budget.ts';
import { RocksDbKeyValueStore } from './key-value.ts';
import { ROCKSDB_LIMITS } from './limits.ts';

export interface RocksDbTaskOptions {
  /** `<state.dir>/<application.id>/<task>`; the database lives in its `rocksdb` folder. */
  readonly taskDirectory: string;
  /** Stores of the task; each becomes a column family of the same name. */
  readonly storeNames: readonly string[];
  /** Defaults to the process-wide budget. */
  readonly budget?: RocksDbMemoryBudget;
}

const MANIFEST_FILE = 'runnel-stores.json';
const manifestSchema = z.object({ version: z.literal(1), columnFamilies: z.array(z.string()) });
const storeNameSchema = z.string().regex(/^[A-Za-z0-9._-]+$/).max(249).refine((name) => name !== 'default', 'the default column family is reserved');

export class RocksDbTask {
  private readonly stores = new Map<string, RocksDbKeyValueStore>();
  private readonly sessions = new Map<string, RocksDB>();
  private closed = false;

  private constructor(
    private readonly database: RocksDB,
    readonly columnFamilies: readonly string[],
    private readonly budget: RocksDbMemoryBudget,
    /** What the budget granted this task's column families; handed back on close. */
    readonly settings: ColumnFamilySettings,
  ) {
    for (const name of columnFamilies) {
      const session = database.columnFamily(name);
      this.sessions.set(name, session);
      this.stores.set(name, new RocksDbKeyValueStore(name, session));
    }
  }

  static async open(options: RocksDbTaskOptions): Promise<RocksDbTask> {
    for (const name of options.storeNames) storeNameSchema.parse(name);
    const path = join(options.taskDirectory, 'rocksdb');
    await mkdir(path, { recursive: true });
    const columnFamilies = [...new Set([...(await readManifest(path)), ...options.storeNames])].sort();
    if (columnFamilies.length > ROCKSDB_LIMITS.columnFamiliesPerTaskMax) throw new Error(`task has ${columnFamilies.length} stores, above ${ROCKSDB_LIMITS.columnFamiliesPerTaskMax}`);
    const budget = options.budget ?? sharedRocksDbBudget();
    const settings = budget.reserve(columnFamilies.length);
    try {
      await writeManifest(path, columnFamilies);
    } catch (error) {
      budget.release(columnFamilies.length, settings);
      throw error;
    }
    const database = new RocksDB(path, {
      columnFamilies,
      writeBufferSize: settings.writeBufferSize,
      maxWriteBufferNumber: settings.maxWriteBufferNumber,
      blockCache: settings.blockCache,
      // Index and filter blocks can live in the block cache only when there is one.
      tableCacheIndexAndFilterBlocks: settings.blockCache,
      // Compactions and flushes share the machine with the stream threads.
      maxBackgroundJobs: 2,
    });
    try {
      // Sessions must exist before open for the column families to be attached to them.
      const task = new RocksDbTask(database, columnFamilies, budget, settings);
      await database.ready();
      return task;
    } catch (error) {
      budget.release(columnFamilies.length, settings);
      throw error;
    }
  }

  /** The store of that name; the same object every time. */
  store(name: string): RocksDbKeyValueStore {
    const store = this.stores.get(name);
    if (store === undefined) throw new Error(`no store ${name} in this task (has ${this.columnFamilies.join(', ')})`);
    return store;
  }

  /** The block cache capacity RocksDB reports for the store's column family, or null without a cache. */
  async blockCacheCapacityBytes(name: string): Promise<number | null> {
    this.store(name);
    const capacity = await (this.sessions.get(name) as RocksDB).getProperty('rocksdb.block-cache-capacity');
    // RocksDB has no such property for a column family without a cache; the binding answers undefined.
    return capacity === null || capacity === undefined ? null : Number(capacity);
  }

  /** A key of a column family (null: the default one) read past the stores; for bulk-restore.ts. */
  async readRaw(family: string | null, key: Uint8Array): Promise<Buffer | null> {
    const session = family === null ? this.database : this.sessions.get(family);
    if (session === undefined) throw new Error(`no column family ${family} in this task`);
    return (await session.get(key)) ?? null;
  }

  /** Deletes one key from each of these column families (null: the default one), past the stores. */
  async deleteRaw(families: readonly (string | null)[], key: Uint8Array): Promise<void> {
    for (const family of families) {
      const session = family === null ? this.database : this.sessions.get(family);
      if (session === undefined) throw new Error(`no column family ${family} in this task`);
      await session.delete(key);
    }
  }

  /** Writes every store's staged batch and flushes memtables; run on commit before the checkpoint. */
  async flush(): Promise<void> {
    for (const store of this.stores.values()) await store.flush();
  }

  /** Flushes (so reopening replays no write-ahead log) and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      for (const store of this.stores.values()) await store.close();
    } finally {
      await this.database.close({ force: true });
      this.budget.release(this.columnFamilies.length, this.settings);
    }
  }
}

async function readManifest(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(path, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return manifestSchema.parse(JSON.parse(text)).columnFamilies;
}

async function writeManifest(path: string, columnFamilies: readonly string[]): Promise<void> {
  const temporary = join(path, `${MANIFEST_FILE}.tmp`);
  await writeFile(temporary, JSON.stringify({ version: 1, columnFamilies }));
  await rename(temporary, join(path, MANIFEST_FILE));
}
