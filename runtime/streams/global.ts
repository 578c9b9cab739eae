// Global stores: each is filled from its topic by its own processor and shared, read-only, by
// every task. The source topic is the store's changelog, so the store logs nothing itself.
import type { ProcessorContext, StateStore, TaskMetrics } from '../../core/topology/processor.ts';
import type { RecordContext, TopicRecord } from '../../core/topology/record.ts';
import { findStore, type GlobalStore, type Topology, type UntypedProcessor } from '../../core/topology/topology.ts';

export class GlobalStoreTask {
  readonly store: StateStore;
  readonly metrics: TaskMetrics = { droppedLateRecords: 0, skippedRecords: 0, droppedRecords: 0 };
  private readonly processor: UntypedProcessor;
  private context: RecordContext = { topic: null, partition: 0, offset: -1n, timestamp: -1, headers: [] };

  constructor(topology: Topology, private readonly global: GlobalStore, applicationId: string, clock: () => number) {
    const descriptor = findStore(topology, global.storeName);
    if (descriptor === undefined) throw new Error(`global store ${global.storeName} has no descriptor`);
    this.store = descriptor.build();
    this.store.init({ applicationId, taskId: `global-${global.id}`, partition: 0, changelogTopic: null, changelogWriter: null, recordTimestampMs: () => this.context.timestamp });
    this.processor = global.processor.supplier();
    const task = this;
    const context: ProcessorContext<unknown, unknown> = {
      applicationId,
      taskId: `global-${global.id}`,
      partition: 0,
      metrics: this.metrics,
      recordContext: () => task.context,
      forward: () => undefined,
      schedule: () => {
        throw new Error('global store processors cannot schedule punctuations');
      },
      getStateStore: <S extends StateStore>(name: string): S => {
        if (name !== global.storeName) throw new Error(`global processor asked for ${name}`);
        return task.store as S;
      },
      currentStreamTimeMs: () => task.context.timestamp,
      currentSystemTimeMs: clock,
      commit: () => undefined,
    };
    this.processor.init?.(context);
  }

  get storeName(): string {
    return this.global.storeName;
  }

  consumesTopic(topic: string): boolean {
    return this.global.source.topics.includes(topic);
  }

  /** Global updates have no deserialization handler choice: a bad record is skipped and counted. */
  process(topic: string, record: TopicRecord): void {
    let key: unknown;
    let value: unknown;
    try {
      key = record.key === null ? null : this.global.source.keySerde.deserialize(record.key, topic);
      value = record.value === null ? null : this.global.source.valueSerde.deserialize(record.value, topic);
    } catch {
      this.metrics.skippedRecords++;
      return;
    }
    this.context = { topic, partition: record.partition, offset: record.offset, timestamp: record.timestamp, headers: record.headers };
    this.processor.process({ key, value, timestamp: record.timestamp, headers: record.headers });
  }

  flush(): void {
    this.store.flush();
  }

  close(): void {
    this.processor.close?.();
    this.store.close();
  }
}
