// Two instances of one application share the tasks through the consumer group; one is killed
// with SIGKILL, the survivor takes its tasks over (restoring their stores from the changelog) and
// no input record is lost.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAppProcesses, startAppProcess, type AppProcess } from '../../../helpers/app-process.ts';
import { cleanup, REPOSITORY_ROOT, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

const SCRIPT = path.join(REPOSITORY_ROOT, 'test/runtime/streams/app/fixtures/event-ids-app.ts');
const ALL_TASKS = ['0_0', '0_1', '0_2', '0_3'];

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanupAppProcesses();
  await cleanup();
});

function tasksOf(app: AppProcess): string[] {
  const match = app.lastLine(/^tasks (\S*) processed/);
  return match === null || match[1] === '' ? [] : (match[1] ?? '').split(',');
}

function records(from: number, count: number): { key: string; value: string }[] {
  return Array.from({ length: count }, (_, index) => ({ key: `key-${(from + index) % 50}`, value: String(from + index) }));
}

describe('StreamsApp with two instances', () => {
  it('shares the tasks, and the survivor takes over a killed instance without losing records', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'shared-events', partitions: 4 }, { topic: 'shared-ids', partitions: 4 }]);
    const common = { BOOTSTRAP: broker.bootstrap, APPLICATION_ID: 'shared-app', INPUT_TOPIC: 'shared-events', OUTPUT_TOPIC: 'shared-ids', COMMIT_INTERVAL_MS: '300' };
    const first = startAppProcess(SCRIPT, { ...common, STATE_DIR: temporaryDirectory('runnel-streams-a-') });
    await first.waitForLine(/^state RUNNING/);
    await waitFor(() => tasksOf(first).length === 4, 'the first instance to run every task');
    const second = startAppProcess(SCRIPT, { ...common, STATE_DIR: temporaryDirectory('runnel-streams-b-') });
    await waitFor(() => tasksOf(first).length === 2 && tasksOf(second).length === 2, 'the two instances to hold two tasks each');
    expect([...tasksOf(first), ...tasksOf(second)].sort()).toEqual(ALL_TASKS);

    await produceRecords(broker.bootstrap, 'shared-events', records(0, 2_000));
    // Both have committed some of their work, so the second's stores are in its changelogs.
    await waitFor(() => second.lastLine(/^committed \d+ processed [1-9]/) !== null && first.lastLine(/^committed \d+ processed [1-9]/) !== null, 'both instances to process and commit records');
    await second.kill();
    await produceRecords(broker.bootstrap, 'shared-events', records(2_000, 2_000));
    // The killed member leaves the group when its session (6 s) expires; its tasks move over.
    await waitFor(() => tasksOf(first).length === 4, 'the survivor to take every task over', 60_000);
    expect(first.stdout()).toMatch(/^restored 0_\d local=0 changelog=[1-9]\d*/m);

    const output = new TopicReader(broker.bootstrap, 'shared-ids', 4);
    try {
      await waitFor(async () => {
        await output.poll();
        const table = output.latest((value) => JSON.parse(value.toString('utf8')) as number[]);
        return records(0, 4_000).every((record) => (table.get(record.key) as number[] | undefined)?.includes(Number(record.value)) === true);
      }, 'every input id in the output topic', 60_000);
      const table = output.latest((value) => JSON.parse(value.toString('utf8')) as number[]) as Map<string, number[]>;
      for (const [key, ids] of table) for (const id of ids) expect(`key-${id % 50}`).toBe(key);
    } finally {
      await output.close();
    }
    expect(await first.stop()).toBe(0);
  });
});
