// The cleaner and transactions end to end: a kafkajs transactional producer commits a value of a
// key and then aborts a later write of the same key on a compacted topic of a real broker; once
// the broker's background cleaner has compacted those segments, a read_committed consumer must
// still find the committed value (before the cleaner knew about transactions it was lost), and
// the aborted record must be gone from the segment files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { iterateBatches, decodeBatch } from '../../../core/records/batch.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';

afterAll(cleanup);

const TOPIC = 'eos-changelog';

/** Values of every record in the partition's segment files; a file the cleaner swaps away meanwhile counts as unreadable. */
function valuesOnDisk(directory: string): string[] | null {
  try {
    const values: string[] = [];
    for (const name of fs.readdirSync(directory).filter((file) => file.endsWith('.log')).sort()) {
      const bytes = fs.readFileSync(path.join(directory, name));
      for (const location of iterateBatches(bytes)) {
        for (const record of decodeBatch(bytes, location.position).records) values.push(record.value?.toString('utf8') ?? '');
      }
    }
    return values;
  } catch {
    return null;
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('compacted topic written by a transactional producer', () => {
  it('keeps the committed value of a key after the cleaner drops a later aborted write of it', async () => {
    const broker = await startBroker({ overrides: { 'log.cleaner.backoff.ms': '200' } });
    const kafka = new Kafka({ clientId: 'cleaner-eos', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: TOPIC, numPartitions: 1, configEntries: [
        { name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: '1024' }, { name: 'min.cleanable.dirty.ratio', value: '0.01' },
      ] }],
    });
    await admin.disconnect();

    const producer = kafka.producer({ transactionalId: 'cleaner-eos-producer', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic: TOPIC, messages: [{ key: 'K', value: 'old' }] });
    await committed.commit();
    const second = await producer.transaction();
    await second.send({ topic: TOPIC, messages: [{ key: 'K', value: 'committed' }] });
    await second.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: TOPIC, messages: [{ key: 'K', value: 'aborted' }] });
    await aborted.abort();
    // Committed filler under other keys rolls the transactions' segments out of the active one.
    for (let filler = 0; filler < 20; filler += 1) {
      const transaction = await producer.transaction();
      await transaction.send({ topic: TOPIC, messages: [{ key: `filler-${filler}`, value: `filler-${filler}-${'f'.repeat(80)}` }] });
      await transaction.commit();
    }
    await producer.disconnect();

    // The cleaner has run over them once 'old' (superseded by 'committed') is gone from the disk.
    const partitionDirectory = path.join(broker.dataDirectory, `${TOPIC}-0`);
    await waitFor(() => valuesOnDisk(partitionDirectory)?.includes('old') === false, 30_000);
    const onDisk = valuesOnDisk(partitionDirectory) ?? [];
    expect(onDisk).toContain('committed');
    expect(onDisk).not.toContain('aborted');

    const consumer = kafka.consumer({ groupId: 'cleaner-eos-reader', maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 500 });
    const seen: [string, string][] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { seen.push([message.key!.toString(), message.value!.toString()]); } });
    await waitFor(() => seen.some(([key]) => key === 'filler-19'), 30_000);
    await consumer.disconnect();
    expect(seen.filter(([key]) => key === 'K').map(([, value]) => value)).toEqual(['committed']);
  }, 90_000);
});
