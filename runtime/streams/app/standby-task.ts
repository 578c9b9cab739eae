// A standby task (num.standby.replicas): the task's local RocksDB copy kept warm by following
// its changelogs, without processors and without loading the stores into memory. When the task
// later becomes active here, only the changelog after the standby's checkpoint is restored.
// Standbys read what is committed only (read_committed under exactly-once), so their
// checkpoints are safe under both guarantees.
import type { ConsumerRecord } from '../../client/index.ts';
import { StandbyUpdater } from '../../../state/stores/rocksdb/standby.ts';
import type { TaskPlan } from './plan.ts';
import { TaskState, type LoggedStore } from './task-state.ts';

export class StandbyTask {
  private constructor(
    readonly plan: TaskPlan,
    readonly state: TaskState,
    private readonly updaters: ReadonlyMap<string, StandbyUpdater>,
  ) {}

  get id(): string {
    return this.plan.id;
  }

  static async open(plan: TaskPlan, directory: string, stores: readonly LoggedStore[], changelogEnds: ReadonlyMap<string, bigint>, log: (message: string) => void): Promise<StandbyTask> {
    const state = await TaskState.open({ directory, partition: plan.partition, stores, persistent: true, exactlyOnce: false, changelogEnds, log });
    const updaters = new Map<string, StandbyUpdater>();
    for (const store of stores) {
      updaters.set(store.changelogTopic, new StandbyUpdater({
        topicPartition: { topic: store.changelogTopic, partition: plan.partition },
        storeName: store.storeName,
        target: state.standbyTarget(store.storeName),
        startingOffset: state.restoreFrom(store.changelogTopic),
      }));
    }
    return new StandbyTask(plan, state, updaters);
  }

  /** Where the standby consumer should read each changelog partition from. */
  positions(): { topic: string; partition: number; offset: bigint }[] {
    return [...this.updaters].map(([topic, updater]) => ({ topic, partition: this.plan.partition, offset: updater.position }));
  }

  /** Applies records the standby consumer fetched for one of this task's changelog partitions. */
  async apply(topic: string, records: readonly ConsumerRecord[]): Promise<void> {
    const updater = this.updaters.get(topic);
    const last = records[records.length - 1];
    if (updater === undefined || last === undefined) return;
    const fresh = records.filter((record) => record.offset >= updater.position);
    if (fresh.length === 0) return;
    for (const record of fresh) if (record.key === null) throw new Error(`changelog ${topic}-${record.partition} holds a record without a key at offset ${record.offset}`);
    await updater.apply({ records: fresh.map((record) => ({ key: record.key as Buffer, value: record.value })), nextOffset: last.offset + 1n });
  }

  /** Makes what was applied durable and checkpoints it. */
  async commit(): Promise<void> {
    const written = new Map<string, bigint>();
    for (const [topic, updater] of this.updaters) written.set(topic, (await updater.commit()).offset);
    await this.state.checkpoint(written, true);
  }

  async close(): Promise<void> {
    try {
      await this.commit();
    } finally {
      await this.state.close();
    }
  }
}
