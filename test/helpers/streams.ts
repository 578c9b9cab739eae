// Helpers for streams application tests on a real broker: create topics, produce keyed string
// records, read a topic from the beginning, and poll for a condition with a generous deadline
// instead of sleeping, so tests hold on a loaded machine. Also the stateful topology such tests
// run most: a count per key.
import { Serdes, StreamsBuilder, type Topology } from '../../dsl/index.ts';
import { Admin, Consumer, Producer, type ConsumerRecord } from '../../runtime/client/index.ts';

/** Counts the string-keyed records of `input` per key in the store `store`; every count goes to `output` as a long. */
export function countPerKeyTopology(input: string, store: string, output: string): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream(input, { key: Serdes.string(), value: Serdes.string() })
    .groupByKey()
    .count({ name: store })
    .toStream()
    .to(output, { key: Serdes.string(), value: Serdes.long() });
  return builder.build();
}

export async function createTopics(bootstrap: string, topics: readonly { topic: string; partitions: number; configs?: Record<string, string> }[]): Promise<void> {
  const admin = new Admin({ bootstrapServers: bootstrap });
  try {
    await admin.createTopics(topics.map((topic) => ({ topic: topic.topic, numPartitions: topic.partitions, ...(topic.configs === undefined ? {} : { configs: topic.configs }) })));
  } finally {
    await admin.close();
  }
}

export interface KeyedValue {
  readonly key: string | null;
  readonly value: string | Buffer | null;
  readonly timestamp?: number;
}

/** Produces the records in order (keyed records land where murmur2 puts them) and waits for every acknowledgement. */
export async function produceRecords(bootstrap: string, topic: string, records: readonly KeyedValue[]): Promise<void> {
  const producer = new Producer({ bootstrapServers: bootstrap, lingerMs: 2 });
  try {
    await producer.send({ topic, messages: records.map((record) => ({ key: record.key, value: record.value, ...(record.timestamp === undefined ? {} : { timestamp: record.timestamp }) })) });
  } finally {
    await producer.close();
  }
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A reader of a whole topic from its beginning, without a group. read() returns every record
 * seen so far after one more poll, so callers can wait until the records satisfy a condition.
 */
export class TopicReader {
  private readonly consumer: Consumer;
  readonly records: ConsumerRecord[] = [];
  private subscribed = false;

  constructor(private readonly bootstrap: string, private readonly topic: string, private readonly partitions: number, isolationLevel: 'read_committed' | 'read_uncommitted' = 'read_uncommitted') {
    this.consumer = new Consumer({ bootstrapServers: bootstrap, autoOffsetReset: 'earliest', isolationLevel });
  }

  async poll(): Promise<ConsumerRecord[]> {
    if (!this.subscribed) {
      this.consumer.assign(Array.from({ length: this.partitions }, (_, partition) => ({ topic: this.topic, partition, offset: 0n })));
      this.subscribed = true;
    }
    this.records.push(...(await this.consumer.poll({ timeoutMs: 200, maxRecords: 100_000 })));
    return this.records;
  }

  /** Latest value per key (string keys and values), as a table would hold them. */
  latest(decodeValue: (value: Buffer) => unknown = (value) => value.toString('utf8')): Map<string, unknown> {
    const table = new Map<string, unknown>();
    for (const record of this.records) {
      const key = record.key?.toString('utf8') ?? '';
      if (record.value === null) table.delete(key);
      else table.set(key, decodeValue(record.value));
    }
    return table;
  }

  async close(): Promise<void> {
    await this.consumer.close();
  }
}

/** The long serde's bytes: a big-endian 64-bit integer. */
export function decodeLong(value: Buffer): number {
  return Number(value.readBigInt64BE(0));
}

/**
 * Polls a topic whose values are JSON lists of ids until, for every key of `expected`, the latest
 * list is at least as long as the expected one (then the caller compares them exactly).
 */
export async function waitForIdLists(output: TopicReader, expected: ReadonlyMap<string, readonly number[]>, what: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    await output.poll();
    const table = output.latest((value) => JSON.parse(value.toString('utf8'))) as Map<string, number[]>;
    return [...expected].every(([key, ids]) => (table.get(key)?.length ?? 0) >= ids.length);
  }, what, timeoutMs);
}
