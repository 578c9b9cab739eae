// Local state, checkpoints and changelog restoration with a real broker: a clean restart loads
// the stores from the local RocksDB copies and reads nothing from the changelogs; a restart with
// the state directory deleted rebuilds the stores from the changelogs exactly; input produced
// between runs is counted exactly once after clean closes. A long changelog restored from
// scratch goes into RocksDB as a log the database's open replays (bulk-restore.ts), and the task
// then goes on counting from the restored state.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamsApp, type RestoreReport } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { countPerKeyTopology, createTopics, decodeLong, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

const countTopology = () => countPerKeyTopology('events', 'event-counts', 'event-counts-out');

function events(from: number, count: number): { key: string; value: string }[] {
  return Array.from({ length: count }, (_, index) => ({ key: `user-${(from + index) % 40}`, value: `event-${from + index}` }));
}

function countsOf(records: readonly { key: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) counts.set(record.key, (counts.get(record.key) ?? 0) + 1);
  return counts;
}

async function runUntil(stateDir: string, expected: Map<string, number>, reports: RestoreReport[]): Promise<Map<string, number>> {
  const app = new StreamsApp(countTopology(), { 'application.id': 'restore-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': stateDir, 'commit.interval.ms': 100 });
  app.onRestore((report) => reports.push(report));
  try {
    await app.start();
    await app.waitUntilRunning();
    // A second instance on the same state directory is refused: one process per directory.
    const intruder = new StreamsApp(countTopology(), { 'application.id': 'restore-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': stateDir });
    await expect(intruder.start()).rejects.toThrow(/lock/i);
    const store = app.keyValueStore<string, number>('event-counts');
    await waitFor(() => [...expected].every(([key, count]) => store.get(key) === count), 'the store to hold the expected counts');
    return new Map(store.all().map((entry) => [entry.key, entry.value]));
  } finally {
    await app.close();
  }
}

describe('StreamsApp local state and restoration', () => {
  it('restarts from local state, then rebuilds a deleted state directory from the changelog', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'events', partitions: 2 }, { topic: 'event-counts-out', partitions: 2 }]);
    const stateDir = temporaryDirectory('runnel-streams-restore-');
    const first = events(0, 400);
    await produceRecords(broker.bootstrap, 'events', first);
    const firstReports: RestoreReport[] = [];
    expect(await runUntil(stateDir, countsOf(first), firstReports)).toEqual(countsOf(first));
    expect(firstReports.reduce((sum, report) => sum + report.changelogRecords + report.localRecords, 0)).toBe(0);
    const taskDirectory = path.join(stateDir, 'restore-app', '0_0');
    expect(existsSync(path.join(taskDirectory, '.checkpoint'))).toBe(true);
    expect(readdirSync(path.join(taskDirectory, 'rocksdb')).length).toBeGreaterThan(0);

    // A clean restart: the local copies come back whole and no changelog record is read.
    const second = events(400, 200);
    await produceRecords(broker.bootstrap, 'events', second);
    const secondReports: RestoreReport[] = [];
    const afterSecond = countsOf([...first, ...second]);
    expect(await runUntil(stateDir, afterSecond, secondReports)).toEqual(afterSecond);
    expect(secondReports.reduce((sum, report) => sum + report.localRecords, 0)).toBe(countsOf(first).size);
    expect(secondReports.reduce((sum, report) => sum + report.changelogRecords, 0)).toBe(0);

    // A new state directory: everything is read back from the changelog topic.
    const thirdReports: RestoreReport[] = [];
    expect(await runUntil(temporaryDirectory('runnel-streams-restore-'), afterSecond, thirdReports)).toEqual(afterSecond);
    expect(thirdReports.reduce((sum, report) => sum + report.localRecords, 0)).toBe(0);
    expect(thirdReports.reduce((sum, report) => sum + report.changelogRecords, 0)).toBeGreaterThanOrEqual(afterSecond.size);

    // The output topic's latest value per key agrees with the store.
    const reader = new TopicReader(broker.bootstrap, 'event-counts-out', 2);
    try {
      await waitFor(async () => {
        await reader.poll();
        return [...afterSecond].every(([key, count]) => reader.latest(decodeLong).get(key) === count);
      }, 'the output topic to agree with the store');
    } finally {
      await reader.close();
    }
  });

  it('restores a long changelog in bulk into a new state directory and counts on from it', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'bulk-events', partitions: 1 }, { topic: 'bulk-counts-out', partitions: 1 }]);
    const topology = () => countPerKeyTopology('bulk-events', 'bulk-counts', 'bulk-counts-out');
    // More distinct keys than STREAMS_APP_LIMITS.bulkRestoreRecordsMin, so the changelog is long enough.
    const keys = 24_000;
    const batch = (from: number, count: number) => Array.from({ length: count }, (_, index) => ({ key: `k-${(from + index) % keys}`, value: `e-${from + index}` }));
    const run = async (stateDir: string, expected: Map<string, number>, reports: RestoreReport[]): Promise<Map<string, number>> => {
      const app = new StreamsApp(topology(), { 'application.id': 'bulk-restore-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': stateDir, 'commit.interval.ms': 200 });
      app.onRestore((report) => reports.push(report));
      try {
        await app.start();
        await app.waitUntilRunning();
        const store = app.keyValueStore<string, number>('bulk-counts');
        let held = new Map<string, number>();
        await waitFor(() => {
          held = new Map(store.all().map((entry) => [entry.key, entry.value]));
          return held.size === expected.size && [...expected].every(([key, count]) => held.get(key) === count);
        }, 'the store to hold the expected counts');
        return held;
      } finally {
        await app.close();
      }
    };
    const first = batch(0, 30_000);
    await produceRecords(broker.bootstrap, 'bulk-events', first);
    const firstReports: RestoreReport[] = [];
    expect(await run(temporaryDirectory('runnel-bulk-restore-'), countsOf(first), firstReports)).toEqual(countsOf(first));
    expect(firstReports.every((report) => report.restoredThrough === 'batches')).toBe(true);

    // A new state directory: the changelog, longer than the bulk threshold, is restored in bulk,
    // and events produced since are counted on top of the restored counts.
    const second = batch(30_000, 5_000);
    await produceRecords(broker.bootstrap, 'bulk-events', second);
    const reports: RestoreReport[] = [];
    const expected = countsOf([...first, ...second]);
    expect(await run(temporaryDirectory('runnel-bulk-restore-'), expected, reports)).toEqual(expected);
    expect(reports.map((report) => report.restoredThrough)).toEqual(['bulk']);
    expect(reports[0]?.changelogRecords).toBeGreaterThanOrEqual(keys);
  });
});
