// The standby tasks of one instance: opened and closed at rebalances (closed before a promotion,
// so the active task finds a checkpointed local copy), fed from one standby consumer in the poll
// loop, and checkpointed every few seconds, since each checkpoint flushes RocksDB memtables.
import type { Topology } from '../../../core/topology/topology.ts';
import type { Consumer, ConsumerRecord } from '../../client/index.ts';
import { loggedStores } from './active-task.ts';
import { endOffsets } from './changelog-reader.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';
import type { TaskPlan } from './plan.ts';
import { StandbyTask } from './standby-task.ts';

export interface StandbyTasksOptions {
  readonly topology: Topology;
  readonly applicationId: string;
  /** Standbys keep RocksDB copies warm; with in-memory stores there is nothing to keep. */
  readonly persistent: boolean;
  /** Claims the task's directory in the locked state directory and returns its path. */
  readonly claim: (plan: TaskPlan) => Promise<string>;
  readonly release: (plan: TaskPlan) => Promise<void>;
  readonly log: (message: string) => void;
}

export class StandbyTasks {
  private readonly tasks = new Map<string, StandbyTask>();
  private lastCheckpointMs = Date.now();

  constructor(private readonly options: StandbyTasksOptions) {}

  ids(): string[] {
    return [...this.tasks.keys()].sort();
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  /** Opens a standby for a stateful task; stateless tasks have nothing to keep warm. */
  async open(plan: TaskPlan, restoreConsumer: Consumer): Promise<void> {
    if (!plan.stateful || !this.options.persistent) return;
    const stores = loggedStores(this.options.topology, this.options.applicationId, plan.subtopologyId);
    if (stores.length === 0) return;
    const ends = await endOffsets(restoreConsumer, stores.map((store) => ({ topic: store.changelogTopic, partition: plan.partition })));
    const changelogEnds = new Map(stores.map((store) => [store.changelogTopic, ends.get(`${store.changelogTopic}\u0000${plan.partition}`) ?? 0n]));
    this.tasks.set(plan.id, await StandbyTask.open(plan, await this.options.claim(plan), stores, changelogEnds, this.options.log));
  }

  /** Closes (commits and checkpoints) the standbys the predicate picks: promoted or moved away. */
  async close(pick: (id: string) => boolean): Promise<void> {
    for (const [id, standby] of [...this.tasks]) {
      if (!pick(id)) continue;
      this.tasks.delete(id);
      await standby.close();
      await this.options.release(standby.plan);
    }
  }

  /** Points the standby consumer at every standby's changelog positions. */
  assign(consumer: Consumer): void {
    consumer.assign([...this.tasks.values()].flatMap((standby) => standby.positions()));
  }

  /** Feeds fetched changelog records to the standbys; checkpoints them now and then. */
  async update(consumer: Consumer): Promise<void> {
    if (this.tasks.size === 0) return;
    const records = await consumer.poll({ timeoutMs: 0 });
    const byPartition = new Map<string, ConsumerRecord[]>();
    for (const record of records) {
      const id = `${record.topic}\u0000${record.partition}`;
      let list = byPartition.get(id);
      if (list === undefined) byPartition.set(id, (list = []));
      list.push(record);
    }
    for (const standby of this.tasks.values()) {
      for (const position of standby.positions()) {
        const fetched = byPartition.get(`${position.topic}\u0000${position.partition}`);
        if (fetched !== undefined) await standby.apply(position.topic, fetched);
      }
    }
    if (Date.now() - this.lastCheckpointMs < STREAMS_APP_LIMITS.standbyCheckpointIntervalMs) return;
    this.lastCheckpointMs = Date.now();
    for (const standby of this.tasks.values()) await standby.commit();
  }
}
