// The local state of one task: its directory `<state.dir>/<application.id>/<task>`, a RocksDB
// instance in its `rocksdb` folder holding each logged store as a column family, and the
// `.checkpoint` file that says up to which changelog offset that copy is complete.
//
// The engine's stores are synchronous and RocksDB answers with promises, so a store runs in
// memory and RocksDB keeps a copy of it: every change the store logs (the ChangelogWriter sees
// the exact key and value bytes written to the innermost store) is staged into the store's
// column family too, and the staged batch is written on commit before the checkpoint. Changes
// are collected in a plain list per store and handed to RocksDB as whole write batches (every
// localCopyBatchRecords changes, and on commit): no per-change key copy or hashing, because the
// cache above already merged repeated writes of a key and the bytes a store logs are never
// changed afterwards (the producer holds on to the same bytes until it encodes them). On start
// the copy is loaded back, and only the changelog after the checkpoint is read from the broker.
// The cost is memory: a store's whole content lives in the process. Without a checkpoint the
// copy cannot be trusted (a crash before the first commit), so it is wiped.
//
// Under exactly-once the checkpoint is deleted once the task has restored and is written again
// only on a clean close, as Kafka Streams does: RocksDB may hold writes of a transaction that
// was later aborted, so after a crash the local copy is wiped and rebuilt from the committed
// changelog (read_committed).
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import { deleteCheckpoint, readCheckpoint, writeCheckpoint, type ChangelogOffset } from '../../../state/checkpoint/checkpoint.ts';
import { RocksDbTask } from '../../../state/stores/rocksdb/task.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

export interface LoggedStore {
  readonly storeName: string;
  /** Full changelog topic name. */
  readonly changelogTopic: string;
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
  readonly log: (message: string) => void;
}

export class TaskState {
  /** Next changelog offset the local state covers, by changelog topic. */
  readonly positions = new Map<string, bigint>();
  private readonly storeByTopic = new Map<string, string>();
  /** Logged changes not yet handed to RocksDB, by changelog topic. */
  private readonly unwritten = new Map<string, ChangelogRecord[]>();
  private checkpointDeleted = false;

  private constructor(private readonly options: TaskStateOptions, private readonly rocksdb: RocksDbTask | null) {
    for (const store of options.stores) this.storeByTopic.set(store.changelogTopic, store.storeName);
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
    const rocksdb = await RocksDbTask.open({ taskDirectory: options.directory, storeNames: options.stores.map((store) => store.storeName) });
    const state = new TaskState(options, rocksdb);
    for (const [topic, offset] of offsets) state.positions.set(topic, offset);
    return state;
  }

  /** The local copy of a store, to restore before the changelog tail. */
  async localRecords(storeName: string): Promise<ChangelogRecord[]> {
    if (this.rocksdb === null) return [];
    const entries = await this.rocksdb.store(storeName).all();
    return entries.map((entry) => ({ key: entry.key, value: entry.value }));
  }

  /** The local copy of a store as a standby updater writes it: whole batches, then a flush. */
  standbyTarget(storeName: string): { applyBatch(records: readonly ChangelogRecord[]): Promise<void>; flush(): Promise<void> } {
    const rocksdb = this.rocksdb;
    if (rocksdb === null) throw new Error(`task directory ${this.options.directory}: a standby needs persistent stores`);
    const store = rocksdb.store(storeName);
    return { applyBatch: (records) => store.applyBatch(records), flush: () => store.flush() };
  }

  /** Where restoration from the changelog starts for a store's changelog topic. */
  restoreFrom(changelogTopic: string): bigint {
    return this.positions.get(changelogTopic) ?? 0n;
  }

  /** Applies restored changelog records to the local copy (staged until the next write). */
  stageRestored(changelogTopic: string, records: readonly ChangelogRecord[]): void {
    if (this.rocksdb === null || !this.storeByTopic.has(changelogTopic)) return;
    this.submit(changelogTopic, records);
  }

  /** Tees one logged change into the local copy. */
  stageChange(changelogTopic: string, key: Uint8Array, value: Uint8Array | null): void {
    if (this.rocksdb === null) return;
    let changes = this.unwritten.get(changelogTopic);
    if (changes === undefined) {
      if (!this.storeByTopic.has(changelogTopic)) return;
      this.unwritten.set(changelogTopic, (changes = []));
    }
    changes.push({ key, value });
    if (changes.length >= STREAMS_APP_LIMITS.localCopyBatchRecords) this.submitUnwritten(changelogTopic);
  }

  private submitUnwritten(changelogTopic: string): void {
    const changes = this.unwritten.get(changelogTopic);
    if (changes === undefined || changes.length === 0) return;
    this.unwritten.set(changelogTopic, []);
    this.submit(changelogTopic, changes);
  }

  /**
   * Hands records to RocksDB as one write batch; batches apply in order. A failure is kept by
   * the store and thrown by the next writeStaged, at the checkpoint, so it is not raised here.
   */
  private submit(changelogTopic: string, records: readonly ChangelogRecord[]): void {
    const storeName = this.storeByTopic.get(changelogTopic);
    if (this.rocksdb === null || storeName === undefined || records.length === 0) return;
    this.rocksdb.store(storeName).applyBatch(records).catch(() => undefined);
  }

  /**
   * Writes the staged changes, then the checkpoint with the changelog offsets the copy now
   * covers (under exactly-once: removes it, unless the task is closing cleanly). The caller has
   * flushed the producer (committed the transaction), so `written` holds acknowledged offsets.
   */
  async checkpoint(written: ReadonlyMap<string, bigint>, closing = false): Promise<void> {
    for (const [topic, next] of written) if (next > (this.positions.get(topic) ?? 0n)) this.positions.set(topic, next);
    if (this.rocksdb === null) return;
    for (const store of this.options.stores) {
      this.submitUnwritten(store.changelogTopic);
      await this.rocksdb.store(store.storeName).writeStaged();
    }
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
