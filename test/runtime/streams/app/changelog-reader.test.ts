// The restorer that reads the changelogs of every task created together through one consumer,
// against a real broker: each caller gets exactly its partitions' records, in offset order, from
// its start offset up to the end offset at the time it called, however the callers overlap; a
// caller that joins while another restores is served too; a finished partition is not read past
// its end even when the changelog grows; and the restorer runs again after going idle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, Consumer, Producer } from '../../../../runtime/client/index.ts';
import { ChangelogRestorer, readChangelogsPacked, type ChangelogSink } from '../../../../runtime/streams/app/changelog-reader.ts';
import { restoreConsumerFetch } from '../../../../runtime/streams/app/clients.ts';
import { STREAMS_APP_LIMITS } from '../../../../runtime/streams/app/limits.ts';
import { unpackRecords } from '../../../../state/stores/rocksdb/worker/protocol.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../../helpers/broker.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
  const admin = new Admin({ bootstrapServers: broker.bootstrap });
  await admin.createTopics(['a', 'b', 'c'].map((name) => ({ topic: `restorer-${name}-changelog`, numPartitions: 2, configs: { 'cleanup.policy': 'compact' } })));
  await admin.close();
});

afterAll(async () => {
  await cleanup();
});

/** Produces count records key-i / value-i (every seventh a tombstone) to one partition. */
async function produce(topic: string, partition: number, from: number, count: number): Promise<void> {
  const producer = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 2, batchSize: 64 * 1024 });
  try {
    for (let start = from; start < from + count; start += 1_000) {
      const messages = Array.from({ length: Math.min(1_000, from + count - start) }, (_, index) => {
        const n = start + index;
        return { key: `${topic}-${partition}-key-${n % 300}`, value: n % 7 === 0 ? null : `value-${n}`, partition };
      });
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.close();
  }
}

/** A sink that keeps "key=value" lines per partition, in the order it was given them. */
function recordingSink(onFirstFlush: () => void = () => undefined): { sink: ChangelogSink; seen: Map<string, string[]> } {
  const seen = new Map<string, string[]>();
  let flushes = 0;
  const sink: ChangelogSink = {
    add(topic, partition, key, value) {
      const name = `${topic}-${partition}`;
      let lines = seen.get(name);
      if (lines === undefined) seen.set(name, (lines = []));
      lines.push(`${Buffer.from(key).toString()}=${value === null ? 'null' : Buffer.from(value).toString()}`);
    },
    // Slow flushes, as a busy RocksDB worker would be, so callers overlap.
    flush: () => {
      if (flushes++ > 0) return new Promise((resolve) => setTimeout(resolve, 1));
      // The first flush waits long enough for a caller it lets join to be seen at the next poll.
      onFirstFlush();
      return new Promise((resolve) => setTimeout(resolve, 100));
    },
  };
  return { sink, seen };
}

function expectedLines(topic: string, partition: number, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, index) => {
    const n = from + index;
    return `${topic}-${partition}-key-${n % 300}=${n % 7 === 0 ? 'null' : `value-${n}`}`;
  });
}

function restoreConsumer(clientId: string): Consumer {
  return new Consumer({ bootstrapServers: broker.bootstrap, clientId, autoCommit: false, autoOffsetReset: 'earliest', maxPollRecords: 1_000, ...restoreConsumerFetch });
}

describe('ChangelogRestorer', () => {
  it('restores overlapping callers through one consumer, each up to the end it saw, and again after going idle', async () => {
    await produce('restorer-a-changelog', 0, 0, 25_000);
    await produce('restorer-a-changelog', 1, 0, 2_000);
    await produce('restorer-b-changelog', 0, 0, 5_000);
    await produce('restorer-c-changelog', 1, 0, 3_000);
    const consumer = restoreConsumer('restorer-test');
    const restorer = new ChangelogRestorer(consumer);
    try {
      const late = recordingSink();
      let lateDone: Promise<Map<string, bigint>> | null = null;
      // The late caller joins at the first caller's first flush, while the others are under way.
      const first = recordingSink(() => {
        lateDone = restorer.restore([{ topic: 'restorer-c-changelog', partition: 1, from: 1_000n }], late.sink);
      });
      const second = recordingSink();
      const firstDone = restorer.restore([{ topic: 'restorer-a-changelog', partition: 0, from: 0n }, { topic: 'restorer-a-changelog', partition: 1, from: 500n }], first.sink);
      const secondDone = restorer.restore([{ topic: 'restorer-b-changelog', partition: 0, from: 0n }], second.sink);
      const ends = await Promise.all([firstDone, secondDone]);
      expect(lateDone).not.toBeNull();
      await lateDone;
      expect(ends[0].get('restorer-a-changelog\u00000')).toBe(25_000n);
      expect(first.seen.get('restorer-a-changelog-0')).toEqual(expectedLines('restorer-a-changelog', 0, 0, 25_000));
      expect(first.seen.get('restorer-a-changelog-1')).toEqual(expectedLines('restorer-a-changelog', 1, 500, 2_000));
      expect([...first.seen.keys()].sort()).toEqual(['restorer-a-changelog-0', 'restorer-a-changelog-1']);
      expect(second.seen.get('restorer-b-changelog-0')).toEqual(expectedLines('restorer-b-changelog', 0, 0, 5_000));
      expect([...second.seen.keys()]).toEqual(['restorer-b-changelog-0']);
      expect(late.seen.get('restorer-c-changelog-1')).toEqual(expectedLines('restorer-c-changelog', 1, 1_000, 3_000));
      expect(consumer.assignment()).toEqual([]);

      // Idle now: a new caller starts the loop again and reads only past its start offset.
      await produce('restorer-a-changelog', 0, 25_000, 1_500);
      const again = recordingSink();
      await restorer.restore([{ topic: 'restorer-a-changelog', partition: 0, from: 25_000n }], again.sink);
      expect(again.seen.get('restorer-a-changelog-0')).toEqual(expectedLines('restorer-a-changelog', 0, 25_000, 26_500));
      // A caller already at its end reads nothing.
      const none = recordingSink();
      const noneEnds = await restorer.restore([{ topic: 'restorer-a-changelog', partition: 0, from: 26_500n }], none.sink);
      expect(noneEnds.get('restorer-a-changelog\u00000')).toBe(26_500n);
      expect(none.seen.size).toBe(0);
    } finally {
      await consumer.close();
    }
  });

  it('packs records for the RocksDB worker exactly as fetched, in write batches of up to restoreWriteBatchRecords', async () => {
    const total = STREAMS_APP_LIMITS.restoreWriteBatchRecords + 5_000;
    await produce('restorer-b-changelog', 1, 0, total);
    const consumer = restoreConsumer('restorer-packed-test');
    try {
      const lines: string[] = [];
      const counts: number[] = [];
      await readChangelogsPacked(consumer, [{ topic: 'restorer-b-changelog', partition: 1, from: 0n }], (chunk) => {
        counts.push(chunk.count);
        for (const record of unpackRecords(chunk.packed)) lines.push(`${Buffer.from(record.key).toString()}=${record.value === null ? 'null' : Buffer.from(record.value).toString()}`);
      });
      // Polls gather into one batch until it reaches the limit; the rest goes at the partition's end.
      expect(counts.length).toBe(2);
      expect(counts[0]).toBeGreaterThanOrEqual(STREAMS_APP_LIMITS.restoreWriteBatchRecords);
      expect(counts[0]).toBeLessThan(STREAMS_APP_LIMITS.restoreWriteBatchRecords + STREAMS_APP_LIMITS.restoreBatchRecords);
      expect((counts[0] as number) + (counts[1] as number)).toBe(total);
      expect(lines).toEqual(expectedLines('restorer-b-changelog', 1, 0, total));
    } finally {
      await consumer.close();
    }
  });
});
