// What every example shares: a broker to run against (the one named by RUNNEL_BOOTSTRAP, or an
// embedded one on a data directory, so each example runs with one command), topics created if
// missing, a producer for the inputs (its typed() view takes the DSL's serdes as they are), an
// output topic read back as a table, and polling for a condition instead of sleeping.
import fs from 'node:fs';
import path from 'node:path';
import { Admin, Consumer, KafkaProtocolError, Producer, type TypedConsumer } from '../runtime/client/index.ts';
import { startEmbeddedBroker } from '../runtime/streams/app/embedded.ts';
import type { Serde } from '../dsl/index.ts';

const TOPIC_ALREADY_EXISTS = 36;

export interface ExampleBroker {
  readonly bootstrap: string;
  /** True when this process started the broker (and stops it). */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

/** RUNNEL_BOOTSTRAP when set, else an in-process broker on `<dataDir>/broker`. */
export async function exampleBroker(dataDir: string): Promise<ExampleBroker> {
  const external = process.env['RUNNEL_BOOTSTRAP'];
  if (external !== undefined && external !== '') return { bootstrap: external, embedded: false, stop: async () => undefined };
  process.env['RUNNEL_LOG_LEVEL'] ??= 'warn';
  const broker = await startEmbeddedBroker(path.join(dataDir, 'broker'));
  return { bootstrap: broker.bootstrap, embedded: true, stop: () => broker.stop() };
}

/**
 * A fresh folder under data/examples (or RUNNEL_EXAMPLES_DIR) for one example's broker and
 * state: examples compare their output with what they produced, so each run starts empty.
 */
export function exampleDirectory(name: string): string {
  const directory = path.resolve(process.env['RUNNEL_EXAMPLES_DIR'] ?? 'data/examples', name);
  fs.rmSync(directory, { recursive: true, force: true });
  return directory;
}

export async function ensureTopics(bootstrap: string, topics: readonly { topic: string; partitions: number }[]): Promise<void> {
  const admin = new Admin({ bootstrapServers: bootstrap, clientId: 'example-admin' });
  try {
    const existing = new Set(await admin.listTopics());
    for (const { topic, partitions } of topics) {
      if (existing.has(topic)) continue;
      try {
        await admin.createTopics([{ topic, numPartitions: partitions }]);
      } catch (error) {
        if (!(error instanceof KafkaProtocolError && error.code === TOPIC_ALREADY_EXISTS)) throw error;
      }
    }
  } finally {
    await admin.close();
  }
}

export interface TypedRecord<K, V> {
  readonly key: K | null;
  readonly value: V | null;
  readonly timestamp: number;
}

/** A producer for an example's input records, e.g. `producer.typed({ key: Serdes.string(), value: serde(Order) })`. */
export function exampleProducer(bootstrap: string): Producer {
  return new Producer({ bootstrapServers: bootstrap, clientId: 'example-producer', lingerMs: 5 });
}

/** Reads a whole topic from the beginning without a group, decoding keys and values. */
export class OutputTopic<K, V> {
  private readonly reader: TypedConsumer<K, V>;
  readonly records: { key: K | null; value: V | null; timestamp: number }[] = [];
  private assigned = false;

  constructor(private readonly bootstrap: string, private readonly topic: string, serdes: { key: Serde<K>; value: Serde<V> }) {
    this.reader = new Consumer({ bootstrapServers: bootstrap, clientId: 'example-reader', autoOffsetReset: 'earliest' }).typed(serdes);
  }

  /** One more poll; returns every record read so far. */
  async poll(): Promise<readonly { key: K | null; value: V | null; timestamp: number }[]> {
    if (!this.assigned) {
      const admin = new Admin({ bootstrapServers: this.bootstrap, clientId: 'example-reader-admin' });
      const [description] = await admin.describeTopics([this.topic]).finally(() => admin.close());
      this.reader.consumer.assign((description?.partitions ?? []).map((partition) => ({ topic: this.topic, partition: partition.partition, offset: 0n })));
      this.assigned = true;
    }
    for (const record of await this.reader.poll({ timeoutMs: 200, maxRecords: 50_000 })) this.records.push({ key: record.key, value: record.value, timestamp: Number(record.timestamp) });
    return this.records;
  }

  /** The latest value per key, as a table holds them (a null value deletes the key). */
  table(): Map<K, V> {
    const table = new Map<K, V>();
    for (const record of this.records) {
      if (record.key === null) continue;
      if (record.value === null) table.delete(record.key);
      else table.set(record.key, record.value);
    }
    return table;
  }

  async close(): Promise<void> {
    await this.reader.consumer.close();
  }
}

/** Polls `condition` until it holds, failing after `timeoutMs` with what was awaited. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True when this module is the program node was started with (an example run directly). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === `file://${path.resolve(process.argv[1])}`;
}
