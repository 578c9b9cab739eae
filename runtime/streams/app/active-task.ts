// An active task on a broker: the engine's StreamTask, its input buffer and its local state.
// Creating one restores every logged store before the task sees a record: the changelog from
// the checkpoint offset to its current end is written into the task's RocksDB stores (or, with
// in-memory stores, the whole changelog into memory), with progress reported as it goes.
// Before each batch of input is processed, the batch's record keys are prefetched from the
// stores (see TaskState).
import type { ChangelogRecord, StateStore } from '../../../core/topology/processor.ts';
import { findStore, subtopologyStores, type Topology } from '../../../core/topology/topology.ts';
import type { RestoreProgress } from '../../../state/stores/rocksdb/restore.ts';
import { withBytesStoreProvider } from '../../../state/stores/builders.ts';
import type { Consumer, PackedRun } from '../../client/consumer.ts';
import { StreamTask, type DeserializationErrorHandler } from '../task.ts';
import { endOffsets, readChangelogs, readChangelogsPacked, type ChangelogRange, type ChangelogRestorer } from './changelog-reader.ts';
import type { ProducerCollector } from './collector.ts';
import { InputQueue } from './input-records.ts';
import type { TaskPlan } from './plan.ts';
import { TaskState, type LoggedStore, type RestoredThrough } from './task-state.ts';

/** Records a task buffers before the poll loop stops handing it more. */
const BUFFERED_RECORDS_MAX = 1_000_000;

export interface RestoreReport {
  readonly taskId: string;
  /** Entries the local RocksDB copy already held (vouched for by the checkpoint). */
  readonly localRecords: number;
  /** Records read from the changelogs after the checkpoint. */
  readonly changelogRecords: number;
  readonly durationMs: number;
  /** When this task began reading its changelogs, and when its stores held them all, checkpointed (epoch ms). */
  readonly restoreStartedMs: number;
  readonly restoreEndedMs: number;
  /** 'bulk' when the changelog went into RocksDB as a log its open replayed (bulk-restore.ts). */
  readonly restoredThrough: RestoredThrough;
}

export interface ActiveTaskOptions {
  readonly applicationId: string;
  readonly topology: Topology;
  readonly plan: TaskPlan;
  readonly directory: string;
  readonly persistent: boolean;
  readonly exactlyOnce: boolean;
  readonly collector: ProducerCollector;
  readonly restoreConsumer: Consumer;
  /** Restores the changelogs of every task created at the same time through restoreConsumer, interleaved. */
  readonly restorer: ChangelogRestorer;
  readonly deserializationErrorHandler: DeserializationErrorHandler;
  /** Global stores by name, shared read-only by every task. */
  readonly globalStores: ReadonlyMap<string, StateStore>;
  readonly partitionCount: (topic: string) => number;
  readonly log: (message: string) => void;
  /** Told how restoration goes, at most every restoreProgressIntervalMs and once at the end. */
  readonly onRestoreProgress?: (taskId: string, progress: RestoreProgress) => void;
}

/** How often restoration progress is reported. */
const RESTORE_PROGRESS_INTERVAL_MS = 500;

export function loggedStores(topology: Topology, applicationId: string, subtopologyId: number): LoggedStore[] {
  const subtopology = topology.subtopologies.find((candidate) => candidate.id === subtopologyId);
  if (subtopology === undefined) return [];
  return subtopologyStores(subtopology).flatMap((storeName) => {
    const descriptor = findStore(topology, storeName);
    if (descriptor === undefined || !descriptor.logging || descriptor.changelogTopic === null) return [];
    return [{ storeName, changelogTopic: `${applicationId}-${descriptor.changelogTopic}`, kind: descriptor.kind, retentionMs: descriptor.retentionMs }];
  });
}

export class ActiveTask {
  readonly queue = new InputQueue(BUFFERED_RECORDS_MAX);
  /** Record keys added since the last prefetch. */
  private unprefetchedKeys: Uint8Array[] = [];

  private constructor(readonly plan: TaskPlan, readonly task: StreamTask, readonly state: TaskState, readonly stores: readonly LoggedStore[]) {}

  get id(): string {
    return this.plan.id;
  }

  static async create(options: ActiveTaskOptions): Promise<{ task: ActiveTask; report: RestoreReport }> {
    const startedMs = Date.now();
    const { plan } = options;
    const stores = loggedStores(options.topology, options.applicationId, plan.subtopologyId);
    const changelogPartitions = stores.map((store) => ({ topic: store.changelogTopic, partition: plan.partition }));
    const endsById = await endOffsets(options.restoreConsumer, changelogPartitions);
    const ends = new Map(stores.map((store) => [store.changelogTopic, endsById.get(`${store.changelogTopic}\u0000${plan.partition}`) ?? 0n]));
    const state = await TaskState.open({ directory: options.directory, partition: plan.partition, stores, persistent: options.persistent, exactlyOnce: options.exactlyOnce, changelogEnds: ends, log: options.log, bulkRestore: true });
    try {
      let localRecords = 0;
      for (const store of stores) localRecords += await state.localEntries(store.storeName);
      // With in-memory stores the whole changelog is gathered here; RocksDB stores take it directly.
      const inMemory = new Map<string, ChangelogRecord[]>(stores.map((store) => [store.changelogTopic, []]));
      // Up to the ends listed above, which the checkpoint records: not listed a second time.
      const ranges = stores.map((store) => ({ topic: store.changelogTopic, partition: plan.partition, from: state.restoreFrom(store.changelogTopic), to: ends.get(store.changelogTopic) ?? 0n }));
      const restoreStartedMs = Date.now();
      let restoredThrough: RestoredThrough = 'batches';
      const meter = new TaskRestoreMeter(plan.id, ranges.reduce((sum, range) => sum + Math.max(0, Number(range.to - range.from)), 0), options.onRestoreProgress);
      if (state.persistent) {
        await restoreIntoRocksDb(options.restorer, state, ranges, (count) => meter.restored(count));
        restoredThrough = await state.restoredWritten();
        if (restoredThrough === 'failed') {
          options.log(`task ${plan.id}: the bulk-restored RocksDB log did not check out; restoring the changelog again through write batches`);
          await restoreIntoRocksDb(options.restorer, state, ranges, (count) => meter.restored(count));
          restoredThrough = await state.restoredWritten();
        }
      } else {
        await readChangelogs(options.restorer, ranges, (topic, _partition, records) => {
          meter.restored(records.length);
          for (const record of records) inMemory.get(topic)?.push(record);
        });
      }
      const task = new StreamTask({
        applicationId: options.applicationId,
        topology: options.topology,
        subtopologyId: plan.subtopologyId,
        partition: plan.partition,
        collector: options.collector,
        changelogWriter: {
          send: (topic, partition, key, value, timestampMs) => {
            options.collector.sendChangelog(topic, partition, key, value, timestampMs);
            state.stageChange(topic, key, value);
          },
        },
        clock: () => Date.now(),
        deserializationErrorHandler: options.deserializationErrorHandler,
        globalStores: options.globalStores,
        log: options.log,
        partitionCount: options.partitionCount,
      });
      withBytesStoreProvider(
        (request) => state.bytesStoreFor(request),
        () => task.init((storeName, topic) => (state.persistent ? state.localContent(storeName) : (inMemory.get(topic) ?? []))),
      );
      inMemory.clear();
      await state.checkpoint(ends);
      // RocksDB holds every restored record once the checkpoint is written: the restoration's end.
      const restoreEndedMs = Date.now();
      meter.finish(options.onRestoreProgress !== undefined && meter.total + meter.count > 0);
      return { task: new ActiveTask(plan, task, state, stores), report: { taskId: plan.id, localRecords, changelogRecords: meter.count, durationMs: Date.now() - startedMs, restoreStartedMs, restoreEndedMs, restoredThrough } };
    } catch (error) {
      await state.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Loads what the buffered records will read from the stores: one batched RocksDB read per
   * store for all their keys. The poll loop awaits it before processBuffered.
   */
  async prefetch(): Promise<void> {
    if (this.unprefetchedKeys.length === 0) return;
    const keys = this.unprefetchedKeys;
    this.unprefetchedKeys = [];
    await this.state.prefetch(keys);
  }

  addRun(run: PackedRun): void {
    if (!this.queue.addRun(run)) throw new Error(`task ${this.id}: input buffer is full`);
    if (!this.state.persistent) return;
    for (let index = run.from; index < run.to; index++) {
      const key = run.records.keyAt(index);
      if (key !== null) this.unprefetchedKeys.push(key);
    }
  }

  /** Processes every buffered record in timestamp order; returns how many. */
  processBuffered(): number {
    let count = 0;
    const queue = this.queue;
    for (let record = queue.takeRecord(); record !== null; record = queue.takeRecord()) {
      this.task.processPacked(queue.takenTopic, record);
      count++;
    }
    return count;
  }

  /** Acknowledged changelog end offsets of this task's partitions, for the checkpoint. */
  writtenChangelogOffsets(collector: ProducerCollector): Map<string, bigint> {
    const written = new Map<string, bigint>();
    for (const store of this.stores) {
      const end = collector.changelogEnd(store.changelogTopic, this.plan.partition);
      if (end !== undefined) written.set(store.changelogTopic, end);
    }
    return written;
  }
}

/**
 * Restores a task's persistent stores: the changelog ranges read with the restore consumer and
 * written into the task's RocksDB database in the worker, packed straight from the fetch
 * responses. onRestored hears each chunk's record count. The caller checkpoints afterwards.
 */
export async function restoreIntoRocksDb(consumer: Consumer | ChangelogRestorer, state: TaskState, ranges: readonly ChangelogRange[], onRestored: (count: number) => void): Promise<Map<string, bigint>> {
  return readChangelogsPacked(consumer, ranges, async (chunk) => {
    onRestored(chunk.count);
    await state.stageRestoredPacked(chunk.topic, chunk.packed, chunk.count);
  });
}

/** Restoration progress of one task over all its changelogs (records restored, total, rate, ETA). */
class TaskRestoreMeter {
  count = 0;
  private readonly startedMs = Date.now();
  private lastReportMs = Date.now();

  constructor(
    private readonly taskId: string,
    /** Records expected: changelog end offsets minus starting offsets (compaction leaves gaps, so fewer may come). */
    readonly total: number,
    private readonly listener: ((taskId: string, progress: RestoreProgress) => void) | undefined,
  ) {}

  restored(count: number): void {
    this.count += count;
    const nowMs = Date.now();
    if (this.listener === undefined || nowMs - this.lastReportMs < RESTORE_PROGRESS_INTERVAL_MS) return;
    this.lastReportMs = nowMs;
    this.listener(this.taskId, this.progress(nowMs, false));
  }

  /** Reports the end, when report says so (nothing is reported for a task with nothing to restore). */
  finish(report: boolean): void {
    if (report) this.listener?.(this.taskId, this.progress(Date.now(), true));
  }

  private progress(nowMs: number, done: boolean): RestoreProgress {
    const elapsedMs = Math.max(1, nowMs - this.startedMs);
    const recordsPerSecond = (this.count * 1000) / elapsedMs;
    const remaining = Math.max(0, this.total - this.count);
    const etaMs = done ? 0 : recordsPerSecond > 0 ? (remaining * 1000) / recordsPerSecond : null;
    return { restored: this.count, total: done ? this.count : this.total, recordsPerSecond, etaMs, done, nextOffset: -1n };
  }
}
