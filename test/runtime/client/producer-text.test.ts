// The producer takes string keys and values (the streams runtime hands it a string serde's text)
// and encodes them into the batch itself. On a real broker, the same records sent once as strings
// and once as their UTF-8 bytes must land on the same partitions, in the same order, with the same
// key, value and header bytes; a keyed record's partition is murmur2 of its key bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer, type ProducerMessage } from '../../../runtime/client/index.ts';
import { partitionForKey } from '../../../core/partitioner.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { createTopics, TopicReader, waitFor } from '../../helpers/streams.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

const PARTITIONS = 4;

/** Short and long ASCII, text that is not ASCII, the empty string and a null key. */
function texts(index: number): { key: string | null; value: string } {
  const keys = [`key-${index}`, '', `clé-${index}`, `${'k'.repeat(70)}${index}`, `日本-${index}`, null];
  const values = [`value-${index}`, 'v'.repeat(100 + (index % 7)), `émoji 🎉 ${index}`, '', `${'x'.repeat(40)}-${index}`];
  return { key: keys[index % keys.length] ?? null, value: values[index % values.length] as string };
}

async function readAll(topic: string, count: number): Promise<{ partition: number; key: string | null; value: string | null; headers: string }[]> {
  const reader = new TopicReader(broker.bootstrap, topic, PARTITIONS);
  try {
    await waitFor(async () => (await reader.poll()).length >= count, `${count} records of ${topic}`);
    return reader.records
      .map((record) => ({
        partition: record.partition,
        offset: record.offset,
        key: record.key?.toString('hex') ?? null,
        value: record.value?.toString('hex') ?? null,
        headers: JSON.stringify(record.headers.map((header) => [header.key, header.value?.toString('hex') ?? null])),
      }))
      .sort((left, right) => left.partition - right.partition || Number(left.offset - right.offset))
      .map(({ partition, key, value, headers }) => ({ partition, key, value, headers }));
  } finally {
    await reader.close();
  }
}

describe('producer with string fields', () => {
  it('writes the bytes and picks the partitions of the same records given as bytes', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'text-fields', partitions: PARTITIONS }, { topic: 'byte-fields', partitions: PARTITIONS }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 5 });
    const count = 600;
    try {
      const asText: ProducerMessage[] = [];
      const asBytes: ProducerMessage[] = [];
      for (let index = 0; index < count; index++) {
        const { key, value } = texts(index);
        // Keyless records go to explicit partitions: the sticky choice differs from run to run.
        const partition = key === null ? index % PARTITIONS : null;
        asText.push({ key, value, partition, timestamp: 1_000 + index, headers: [{ key: 'h', value: `header-${index}` }] });
        asBytes.push({ key: key === null ? null : Buffer.from(key, 'utf8'), value: Buffer.from(value, 'utf8'), partition, timestamp: 1_000 + index, headers: [{ key: 'h', value: Buffer.from(`header-${index}`, 'utf8') }] });
      }
      // Several sends, so batches fill and seal across calls as in the streams runtime.
      for (let start = 0; start < count; start += 150) {
        await Promise.all([
          producer.send({ topic: 'text-fields', messages: asText.slice(start, start + 150) }),
          producer.send({ topic: 'byte-fields', messages: asBytes.slice(start, start + 150) }),
        ]);
      }
      const text = await readAll('text-fields', count);
      const bytes = await readAll('byte-fields', count);
      expect(text).toHaveLength(count);
      expect(text).toEqual(bytes);
      for (const record of text) {
        if (record.key !== null) expect(record.partition).toBe(partitionForKey(Buffer.from(record.key, 'hex'), PARTITIONS));
      }
      // Every kind of text made it through, non-ASCII keys included.
      expect(text.some((record) => record.key !== null && Buffer.from(record.key, 'hex').toString('utf8').startsWith('日本-'))).toBe(true);
    } finally {
      await producer.close();
    }
  });
});
