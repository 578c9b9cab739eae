// The local state of one task: its directory `<state.dir>/<application.id>/<task>`, a RocksDB
// database in its `rocksdb` folder holding each logged store as a column family, and the
// `.checkpoint` file that says up to which changelog offset that database is complete.
//
// The database is the store: the engine's logged stores are built over DiskBackedBytesStore
// (see withBytesStoreProvider), which keeps a bounded cache here and the data in RocksDB, in the
// process's RocksDB worker thread. State is therefore bounded by disk, not memory. Before each
// batch of input the task prefetches the batch's record keys from every store with one batched
// read per store; reads the prefetch did not cover wait for the worker. Restoration writes the
// changelog tail after the checkpoint straight into RocksDB, copied from the fetch responses into
// the worker's packed batches (stageRestoredPacked); nothing is loaded into memory. A
// store the user built over a bytes store of their own (a supplier) is the exception: it is
// loaded from the local copy at start and its logged changes are copied into RocksDB.
// Without a checkpoint the database cannot be trusted (a crash before the first commit), so it
// is wiped and rebuilt from the changelog.
//
// Under exactly-once the checkpoint is deleted once the task has restored and is written again
// only on a clean close, as Kafka Streams does: RocksDB may hold writes of a transaction that
// was later aborted, so after a crash the local copy is wiped and rebuilt from the committed
// changelog (read_committed).
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import type { StoreKind } from '../../../core/topology/topology.ts';
import { deleteCheckpoint, readCheckpoint, writeCheckpoint, type ChangelogOffset } from '../../../state/checkpoint/checkpoint.ts';
import type { BytesStoreRequest } from '../../../state/stores/builders.ts';
import { DiskBackedBytesStore } from '../../../state/stores/rocksdb/disk-backed.ts';
import { RemoteRocksDbTask, RocksDbWorker, type RestoredThrough } from '../../../state/stores/rocksdb/worker/client.ts';
import type { KeyValueBytesStore } from '../../../state/stores/types.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

/** Loads the RocksDB worker ahead of the first task, while the application joins its group. */
export function prestartStateWorker(): void {
  RocksDbWorker.prestart();
}

export interface LoggedStore {
  readonly storeName: string;
  /** Full changelog topic name. */
  readonly changelogTopic: string;
  readonly kind: StoreKind;
  /** Window and session stores' retention; null for key-value stores. */
  readonly retentionMs: number | null;
}

export interface TaskStateOptions {
  readonly directory: string;
  readonly partition: number;
  readonly stores: readonly LoggedStore[];
  /** False keeps stores in memory only: no local copy and no checkpoint, a full restore each start. */
  readonly persistent: boolean;
  /** Exactly-once: the checkpoint exists only between a clean close and the next restore. */
  readonly exactlyOnce: boolean;
  /** Changelog end offsets now, by topic, for this task's partition. */
  readonly changelogEnds: ReadonlyMap<string, bigint>;
  /**
   * An active task restoring from scratch may restore in bulk (bulk-restore.ts): key-value
   * stores only, at least bulkRestoreRecordsMin records. Its stores then take restored writes
   * only, until restoredWritten.
   */
  readonly bulkRestore?: boolean;
  readonly log: (message: string) => void;
}

export type { RestoredThrough };

export class TaskState {
  /** Next changelog offset the local state covers, by changelog topic. */
  readonly positions = new Map<string, bigint>();
  private readonly storeByTopic = new Map<string, LoggedStore>();
  /** The engine's stores over RocksDB, by store name. */
  private readonly diskStores = new Map<string, DiskBackedBytesStore>();
  /** Changes of stores the user built over their own bytes store, not yet copied to RocksDB, by topic. */
  private readonly unwritten = new Map<string, ChangelogRecord[]>();
  private checkpointDeleted = false;
  /** Restored records posted since the last barrier, and the barrier: a commit in the worker. */
  private restoredSinceBarrier = 0;
  private restoreBarrier: Promise<void> = Promise.resolve();

  private constructor(private readonly options: TaskStateOptions, private readonly rocksdb: RemoteRocksDbTask | null) {
    for (const store of options.stores) this.storeByTopic.set(store.changelogTopic, store);
  }

  /** Opens the task directory, wiping the local copy when no checkpoint vouches for it. */
  static async open(options: TaskStateOptions): Promise<TaskState> {
    await mkdir(options.directory, { recursive: true });
    if (!options.persistent || options.stores.length === 0) return new TaskState(options, null);
    const checkpoint = await readCheckpoint(options.directory, { warn: options.log });
    const offsets = new Map<string, bigint>();
    for (const store of options.stores) {
      const entry = checkpoint.get(`${store.changelogTopic}-${options.partition}`);
      if (entry !== undefined) offsets.set(store.changelogTopic, entry.offset);
    }
    const trusted = options.stores.every((store) => {
      const offset = offsets.get(store.changelogTopic);
      // An offset beyond the changelog's end means the changelog was deleted and recreated.
      return offset !== undefined && offset <= (options.changelogEnds.get(store.changelogTopic) ?? 0n);
    });
    if (!trusted) {
      if (checkpoint.size > 0) options.log(`task directory ${options.directory}: checkpoint does not match the changelogs; wiping local state`);
      await rm(path.join(options.directory, 'rocksdb'), { recursive: true, force: true });
      offsets.clear();
    }
    const stores = options.stores.map((store) => ({ name: store.storeName, kind: store.kind, retentionMs: store.retentionMs }));
    let changelogRecords = 0n;
    for (const end of options.changelogEnds.values()) changelogRecords += end;
    const bulkRestore = options.bulkRestore === true && !trusted && changelogRecords >= BigInt(STREAMS_APP_LIMITS.bulkRestoreRecordsMin);
    const rocksdb = await RemoteRocksDbTask.open({ taskDirectory: options.directory, stores, bulkRestore });
    const state = new TaskState(options, rocksdb);
    for (const [topic, offset] of offsets) state.positions.set(topic, offset);
    return state;
  }

  /** Whether the stores live in RocksDB (else in memory, restored in full at every start). */
  get persistent(): boolean {
    return this.rocksdb !== null;
  }

  /**
   * The innermost store for one of the engine's stores (a BytesStoreProvider): a disk-backed
   * store for a logged store of this task, null (in memory) for every other.
   */
  bytesStoreFor(request: BytesStoreRequest): KeyValueBytesStore | null {
    const store = this.options.stores.find((candidate) => candidate.storeName === request.name);
    if (this.rocksdb === null || store === undefined || !request.logging) return null;
    if (store.kind !== request.kind) throw new Error(`store ${request.name} is described as a ${store.kind} store but built as a ${request.kind} store`);
    const disk = new DiskBackedBytesStore(request.name, this.rocksdb.store(request.name));
    this.diskStores.set(request.name, disk);
    return disk;
  }

  /** Loads the groups of these record keys into every store's cache, one batched read per store. */
  async prefetch(recordKeys: readonly Uint8Array[]): Promise<void> {
    if (recordKeys.length === 0 || this.diskStores.size === 0) return;
    await Promise.all([...this.diskStores.values()].map((store) => store.prefetch(recordKeys)));
  }

  /** The stores over RocksDB, for tests and metrics. */
  diskBackedStores(): ReadonlyMap<string, DiskBackedBytesStore> {
    return this.diskStores;
  }

  /**
   * What the engine restores into a store at init: nothing for a store over RocksDB (restoration
   * wrote there already); the whole local copy for a store built over the user's own bytes store.
   * Call after the stores are built.
   */
  localContent(storeName: string): ChangelogRecord[] {
    if (this.rocksdb === null || this.diskStores.has(storeName)) return [];
    return this.rocksdb.store(storeName).rangeSync(null, null);
  }

  /** Entries a store's local copy holds (a scan in the worker), for the restore report. */
  async localEntries(storeName: string): Promise<number> {
    if (this.rocksdb === null) return 0;
    return this.rocksdb.store(storeName).count();
  }

  /** The local copy of a store as a standby updater writes it: whole batches, then a commit. */
  standbyTarget(storeName: string): { applyBatch(records: readonly ChangelogRecord[]): Promise<void>; flush(): Promise<void> } {
    const rocksdb = this.rocksdb;
    if (rocksdb === null) throw new Error(`task directory ${this.options.directory}: a standby needs persistent stores`);
    const store = rocksdb.store(storeName);
    return {
      applyBatch: async (records) => store.apply(records),
      flush: () => rocksdb.commit(),
    };
  }

  /** Where restoration from the changelog starts for a store's changelog topic. */
  restoreFrom(changelogTopic: string): bigint {
    return this.positions.get(changelogTopic) ?? 0n;
  }

  /**
   * Writes restored changelog records into RocksDB, as one batch after every earlier write.
   * Resolves at once unless restoredInFlightMax records are waiting to be written: then it waits
   * for the worker to catch up with the writes before the last barrier, so a fast changelog
   * pins a bounded amount of memory while decoding and writing still overlap.
   */
  async stageRestored(changelogTopic: string, records: readonly ChangelogRecord[]): Promise<void> {
    const store = this.storeByTopic.get(changelogTopic);
    if (this.rocksdb === null || store === undefined) return;
    this.rocksdb.store(store.storeName).apply(records);
    await this.restoredPosted(records.length);
  }

  /** stageRestored for records already packed for the worker (readChangelogsPacked); takes the buffer. */
  async stageRestoredPacked(changelogTopic: string, packed: ArrayBuffer, count: number): Promise<void> {
    const store = this.storeByTopic.get(changelogTopic);
    if (this.rocksdb === null || store === undefined) return;
    this.rocksdb.store(store.storeName).applyPacked(packed);
    await this.restoredPosted(count);
  }

  private async restoredPosted(count: number): Promise<void> {
    if (this.rocksdb === null) return;
    this.restoredSinceBarrier += count;
    if (this.restoredSinceBarrier < STREAMS_APP_LIMITS.restoreBatchRecords * 5) return;
    this.restoredSinceBarrier = 0;
    await this.restoreBarrier;
    this.restoreBarrier = this.rocksdb.commit();
    // Awaited at the next barrier or checkpoint; until then a failure must not go unhandled.
    this.restoreBarrier.catch(() => undefined);
  }

  /**
   * Waits, without blocking this thread, until RocksDB holds every restored record posted so far.
   * A task awaits it before building its stores, whose first synchronous read would otherwise
   * block this thread while the worker caught up, and with it the restoration of the other tasks.
   * 'failed' when a bulk restore's log did not check out: the local copy is empty again and the
   * changelog must be restored once more (it then goes through write batches).
   */
  async restoredWritten(): Promise<RestoredThrough> {
    if (this.rocksdb === null) return 'batches';
    await this.restoreBarrier;
    await this.rocksdb.commit();
    return this.rocksdb.finishRestore();
  }

  /** Copies one logged change into RocksDB when the store is not itself over RocksDB. */
  stageChange(changelogTopic: string, key: Uint8Array, value: Uint8Array | null): void {
    if (this.rocksdb === null) return;
    const store = this.storeByTopic.get(changelogTopic);
    if (store === undefined || this.diskStores.has(store.storeName)) return;
    let changes = this.unwritten.get(changelogTopic);
    if (changes === undefined) this.unwritten.set(changelogTopic, (changes = []));
    changes.push({ key, value });
    if (changes.length >= STREAMS_APP_LIMITS.localCopyBatchRecords) this.submitUnwritten(changelogTopic);
  }

  private submitUnwritten(changelogTopic: string): void {
    const changes = this.unwritten.get(changelogTopic);
    if (changes === undefined || changes.length === 0) return;
    this.unwritten.set(changelogTopic, []);
    const store = this.storeByTopic.get(changelogTopic);
    if (this.rocksdb !== null && store !== undefined) this.rocksdb.store(store.storeName).apply(changes);
  }

  /**
   * Waits until RocksDB holds every write so far, then writes the checkpoint with the changelog
   * offsets the copy now covers (under exactly-once: removes it, unless the task is closing
   * cleanly). The caller has flushed the stores (their writes are posted) and the producer
   * (committed the transaction), so `written` holds acknowledged offsets.
   */
  async checkpoint(written: ReadonlyMap<string, bigint>, closing = false): Promise<void> {
    for (const [topic, next] of written) if (next > (this.positions.get(topic) ?? 0n)) this.positions.set(topic, next);
    if (this.rocksdb === null) return;
    for (const topic of this.unwritten.keys()) this.submitUnwritten(topic);
    await this.restoreBarrier;
    await this.rocksdb.commit();
    if (this.options.exactlyOnce && !closing) {
      if (!this.checkpointDeleted) await deleteCheckpoint(this.options.directory);
      this.checkpointDeleted = true;
      return;
    }
    const entries: ChangelogOffset[] = this.options.stores.map((store) => ({ topic: store.changelogTopic, partition: this.options.partition, offset: this.positions.get(store.changelogTopic) ?? 0n }));
    await writeCheckpoint(this.options.directory, entries);
    this.checkpointDeleted = false;
  }

  /** Deletes the checkpoint, so the next open wipes the local copy and restores from the changelog. */
  async discardCheckpoint(): Promise<void> {
    if (this.rocksdb === null) return;
    await deleteCheckpoint(this.options.directory);
    this.checkpointDeleted = true;
  }

  async close(): Promise<void> {
    await this.rocksdb?.close();
  }
}
