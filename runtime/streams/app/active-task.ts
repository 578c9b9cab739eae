// An active task on a broker: the engine's StreamTask, its input buffer and its local state.
// Creating one restores every logged store before the task sees a record: first the local
// RocksDB copy, then the changelog from the checkpoint offset to its current end.
import type { ChangelogRecord, StateStore } from '../../../core/topology/processor.ts';
import { findStore, subtopologyStores, type Topology } from '../../../core/topology/topology.ts';
import type { TopicRecord } from '../../../core/topology/record.ts';
import type { Consumer } from '../../client/index.ts';
import { PartitionGroup } from '../partition-group.ts';
import { StreamTask, type DeserializationErrorHandler } from '../task.ts';
import { endOffsets, readChangelogs } from './changelog-reader.ts';
import type { ProducerCollector } from './collector.ts';
import type { TaskPlan } from './plan.ts';
import { TaskState, type LoggedStore } from './task-state.ts';

/** Records a task buffers before the poll loop stops handing it more. */
const BUFFERED_RECORDS_MAX = 1_000_000;

export interface RestoreReport {
  readonly taskId: string;
  /** Records loaded from the local RocksDB copy. */
  readonly localRecords: number;
  /** Records read from the changelogs after the checkpoint. */
  readonly changelogRecords: number;
  readonly durationMs: number;
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
  readonly deserializationErrorHandler: DeserializationErrorHandler;
  /** Global stores by name, shared read-only by every task. */
  readonly globalStores: ReadonlyMap<string, StateStore>;
  readonly partitionCount: (topic: string) => number;
  readonly log: (message: string) => void;
}

export function loggedStores(topology: Topology, applicationId: string, subtopologyId: number): LoggedStore[] {
  const subtopology = topology.subtopologies.find((candidate) => candidate.id === subtopologyId);
  if (subtopology === undefined) return [];
  return subtopologyStores(subtopology).flatMap((storeName) => {
    const descriptor = findStore(topology, storeName);
    if (descriptor === undefined || !descriptor.logging || descriptor.changelogTopic === null) return [];
    return [{ storeName, changelogTopic: `${applicationId}-${descriptor.changelogTopic}` }];
  });
}

export class ActiveTask {
  readonly queue = new PartitionGroup(BUFFERED_RECORDS_MAX);

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
    const state = await TaskState.open({ directory: options.directory, partition: plan.partition, stores, persistent: options.persistent, exactlyOnce: options.exactlyOnce, changelogEnds: ends, log: options.log });
    try {
      const restored = new Map<string, ChangelogRecord[]>();
      let localRecords = 0;
      for (const store of stores) {
        const records = await state.localRecords(store.storeName);
        localRecords += records.length;
        restored.set(store.changelogTopic, records);
      }
      let changelogRecords = 0;
      const ranges = stores.map((store) => ({ topic: store.changelogTopic, partition: plan.partition, from: state.restoreFrom(store.changelogTopic) }));
      await readChangelogs(options.restoreConsumer, ranges, (topic, _partition, records) => {
        changelogRecords += records.length;
        restored.get(topic)?.push(...records);
        state.stageRestored(topic, records);
      });
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
      task.init((_storeName, topic) => restored.get(topic) ?? []);
      restored.clear();
      await state.checkpoint(ends);
      return { task: new ActiveTask(plan, task, state, stores), report: { taskId: plan.id, localRecords, changelogRecords, durationMs: Date.now() - startedMs } };
    } catch (error) {
      await state.close().catch(() => undefined);
      throw error;
    }
  }

  addRecords(topic: string, partition: number, records: readonly TopicRecord[]): void {
    if (!this.queue.addRecords(topic, partition, records)) throw new Error(`task ${this.id}: input buffer is full`);
  }

  /** Processes every buffered record in timestamp order; returns how many. */
  processBuffered(): number {
    let count = 0;
    for (let next = this.queue.nextRecord(); next !== null; next = this.queue.nextRecord()) {
      this.task.process(next.topic, next.record);
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
