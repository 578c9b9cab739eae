// Global stores (global tables) on a broker: every instance reads every partition of each global
// topic with a consumer of its own (no group), fills the store before any task runs, and keeps
// reading in the poll loop. The stores live in memory and are rebuilt from their topics at each
// start; the topic is the store's changelog, so nothing is logged.
import type { StateStore } from '../../../core/topology/processor.ts';
import type { TopicRecord } from '../../../core/topology/record.ts';
import type { Topology } from '../../../core/topology/topology.ts';
import type { Admin, Consumer, ConsumerRecord } from '../../client/index.ts';
import { GlobalStoreTask } from '../global.ts';
import { endOffsets } from './changelog-reader.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

function topicRecord(record: ConsumerRecord): TopicRecord {
  return { key: record.key, value: record.value, timestamp: Number(record.timestamp), headers: record.headers, partition: record.partition, offset: record.offset };
}

export class GlobalStores {
  private readonly tasks: GlobalStoreTask[];

  constructor(topology: Topology, applicationId: string) {
    this.tasks = topology.globalStores.map((global) => new GlobalStoreTask(topology, global, applicationId, () => Date.now()));
  }

  /** The stores by name, for the stream tasks that read them. */
  stores(): Map<string, StateStore> {
    return new Map(this.tasks.map((task) => [task.storeName, task.store]));
  }

  get size(): number {
    return this.tasks.length;
  }

  /** Assigns every partition of the global topics and reads them up to their current end. */
  async bootstrap(admin: Admin, consumer: Consumer, topics: readonly string[]): Promise<number> {
    if (this.tasks.length === 0) return 0;
    const partitions = (await admin.describeTopics(topics)).flatMap((topic) => topic.partitions.map((entry) => ({ topic: topic.name, partition: entry.partition })));
    const ends = await endOffsets(consumer, partitions);
    consumer.assign(partitions.map((entry) => ({ ...entry, offset: 0n })));
    let loaded = 0;
    let lastProgressMs = Date.now();
    for (;;) {
      const records = await consumer.poll({ timeoutMs: 200, maxRecords: STREAMS_APP_LIMITS.restoreBatchRecords });
      if (records.length > 0) lastProgressMs = Date.now();
      loaded += this.process(records);
      const done = consumer.positions().every((position) => position.offset !== null && position.offset >= (ends.get(`${position.topic}\u0000${position.partition}`) ?? 0n));
      if (done) break;
      if (Date.now() - lastProgressMs > STREAMS_APP_LIMITS.restoreStallMsMax) throw new Error(`loading the global topics ${topics.join(', ')} made no progress for ${STREAMS_APP_LIMITS.restoreStallMsMax} ms`);
    }
    this.flush();
    return loaded;
  }

  /** Applies whatever the global consumer fetched since the last call. */
  async update(consumer: Consumer): Promise<void> {
    if (this.tasks.length === 0) return;
    this.process(await consumer.poll({ timeoutMs: 0 }));
  }

  flush(): void {
    for (const task of this.tasks) task.flush();
  }

  close(): void {
    for (const task of this.tasks) task.close();
  }

  private process(records: readonly ConsumerRecord[]): number {
    for (const record of records) {
      for (const task of this.tasks) if (task.consumesTopic(record.topic)) task.process(record.topic, topicRecord(record));
    }
    return records.length;
  }
}
