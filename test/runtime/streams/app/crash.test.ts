// SIGKILL in the middle of an aggregation under at-least-once. Kafka Streams' guarantee is that
// every input record is processed at least once: after a crash the input since the last
// committed offset is processed again, on top of a store restored from its changelog, which may
// already hold some of those records' effects. So the store (and the changelog, and the output
// topic's latest value per key) must contain every input event id at least once, may contain
// some twice, and must contain nothing that was not input.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAppProcesses, startAppProcess, type AppProcess } from '../../../helpers/app-process.ts';
import { cleanup, REPOSITORY_ROOT, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

const SCRIPT = path.join(REPOSITORY_ROOT, 'test/runtime/streams/app/fixtures/event-ids-app.ts');
const KEYS = 30;
const CHUNK_RECORDS = 1_500;
const CHUNKS = 5;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanupAppProcesses();
  await cleanup();
});

function chunk(index: number): { key: string; value: string }[] {
  return Array.from({ length: CHUNK_RECORDS }, (_, offset) => {
    const id = index * CHUNK_RECORDS + offset;
    return { key: `key-${id % KEYS}`, value: String(id) };
  });
}

async function produceGradually(records: readonly { key: string; value: string }[]): Promise<void> {
  const step = 75;
  for (let start = 0; start < records.length; start += step) {
    await produceRecords(broker.bootstrap, 'crash-events', records.slice(start, start + step));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function expectedIds(): Map<string, Set<number>> {
  const expected = new Map<string, Set<number>>();
  for (let id = 0; id < CHUNK_RECORDS * CHUNKS; id++) {
    const key = `key-${id % KEYS}`;
    let ids = expected.get(key);
    if (ids === undefined) expected.set(key, (ids = new Set()));
    ids.add(id);
  }
  return expected;
}

function covers(table: Map<string, unknown>, expected: Map<string, Set<number>>): boolean {
  return [...expected].every(([key, ids]) => {
    const seen = new Set(table.get(key) as number[] | undefined);
    return [...ids].every((id) => seen.has(id));
  });
}

describe('StreamsApp crash under at-least-once', () => {
  it('loses no input record across SIGKILLs in the middle of an aggregation', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'crash-events', partitions: 2 }, { topic: 'crash-ids', partitions: 2 }]);
    const env = { BOOTSTRAP: broker.bootstrap, STATE_DIR: temporaryDirectory('runnel-streams-crash-'), APPLICATION_ID: 'crash-app', INPUT_TOPIC: 'crash-events', OUTPUT_TOPIC: 'crash-ids', COMMIT_INTERVAL_MS: '500' };
    let app: AppProcess = startAppProcess(SCRIPT, env);
    await app.waitForLine(/^state RUNNING/);
    let kills = 0;
    const restoredAfterKill: number[] = [];
    for (let index = 0; index < CHUNKS; index++) {
      // Produced in small steps, so a kill lands while records are flowing and work is uncommitted.
      const producing = produceGradually(chunk(index));
      if (index % 2 === 1) {
        // The moment: after a commit of this process, once it has processed more records since.
        const committed = await app.waitForLine(/^committed \d+ processed (\d+)/);
        await waitFor(() => Number(app.lastLine(/processed (\d+)/)?.[1] ?? 0) > Number(committed[1]), 'processing after a commit');
        await app.kill();
        kills++;
        app = startAppProcess(SCRIPT, env);
        await app.waitForLine(/^state RUNNING/);
        const restored = app.stdout().split('\n').map((line) => /^restored \S+ local=(\d+) changelog=(\d+)/.exec(line)).filter((match) => match !== null);
        restoredAfterKill.push(restored.reduce((sum, match) => sum + Number(match[1]) + Number(match[2]), 0));
      }
      await producing;
    }
    const expected = expectedIds();
    const output = new TopicReader(broker.bootstrap, 'crash-ids', 2);
    const changelog = new TopicReader(broker.bootstrap, 'crash-app-event-ids-changelog', 2);
    const json = (value: Buffer): unknown => JSON.parse(value.toString('utf8'));
    // Table changelogs hold timestamped values: an 8-byte timestamp, then the value's bytes.
    const timestampedJson = (value: Buffer): unknown => json(value.subarray(8));
    try {
      await waitFor(async () => {
        await output.poll();
        return covers(output.latest(json), expected);
      }, 'every input id in the output topic', 90_000);
      expect(await app.stop()).toBe(0);
      await waitFor(async () => {
        await changelog.poll();
        return covers(changelog.latest(timestampedJson), expected);
      }, 'every input id in the changelog');
      const store = changelog.latest(timestampedJson) as Map<string, number[]>;
      expect([...store.keys()].sort()).toEqual([...expected.keys()].sort());
      let duplicates = 0;
      for (const [key, ids] of store) {
        const wanted = expected.get(key) as Set<number>;
        for (const id of ids) expect(wanted.has(id)).toBe(true);
        duplicates += ids.length - new Set(ids).size;
      }
      expect(kills).toBe(2);
      // Each restart resumed from the state the killed process left (local copy or changelog).
      for (const restored of restoredAfterKill) expect(restored).toBeGreaterThan(0);
      // Logged so a reader of the test output sees how much was processed twice.
      console.log(`crash test: ${kills} kills, ${duplicates} duplicate ids in the final store, restored after kills: ${restoredAfterKill.join(', ')}`);
    } finally {
      await output.close();
      await changelog.close();
    }
  });
});
