// Standby replicas (num.standby.replicas=1) with two instances: each keeps a warm copy of the
// other's stateful task. When one is killed, the survivor promotes its standby: the moved task
// comes back from the local copy, and only the changelog after the standby's checkpoint is read.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAppProcesses, startAppProcess, type AppProcess } from '../../../helpers/app-process.ts';
import { cleanup, REPOSITORY_ROOT, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

const SCRIPT = path.join(REPOSITORY_ROOT, 'test/runtime/streams/app/fixtures/event-ids-app.ts');
const KEYS = 40;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanupAppProcesses();
  await cleanup();
});

function listOf(app: AppProcess, pattern: RegExp): string[] {
  const match = app.lastLine(pattern);
  return match === null || (match[1] ?? '') === '' ? [] : (match[1] ?? '').split(',');
}

const activeOf = (app: AppProcess): string[] => listOf(app, /^tasks (\S*) processed/);
const standbyOf = (app: AppProcess): string[] => listOf(app, /^tasks .* standby (\S*)$/);

function records(from: number, count: number): { key: string; value: string }[] {
  return Array.from({ length: count }, (_, index) => ({ key: `key-${(from + index) % KEYS}`, value: String(from + index) }));
}

describe('StreamsApp standby replicas', () => {
  it('keeps a warm copy on the other instance, so a failover restores from local state', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'standby-events', partitions: 2 }, { topic: 'standby-ids', partitions: 2 }]);
    const common = { BOOTSTRAP: broker.bootstrap, APPLICATION_ID: 'standby-app', INPUT_TOPIC: 'standby-events', OUTPUT_TOPIC: 'standby-ids', COMMIT_INTERVAL_MS: '200', NUM_STANDBY_REPLICAS: '1' };
    const first = startAppProcess(SCRIPT, { ...common, STATE_DIR: temporaryDirectory('runnel-streams-sa-') });
    await first.waitForLine(/^state RUNNING/);
    const second = startAppProcess(SCRIPT, { ...common, STATE_DIR: temporaryDirectory('runnel-streams-sb-') });
    await waitFor(() => activeOf(first).length === 1 && activeOf(second).length === 1 && standbyOf(first).length === 1 && standbyOf(second).length === 1, 'one active and one standby task on each instance');
    // Each instance's standby is the other's active task.
    expect(standbyOf(first)).toEqual(activeOf(second));
    expect(standbyOf(second)).toEqual(activeOf(first));

    await produceRecords(broker.bootstrap, 'standby-events', records(0, 2_000));
    const moved = activeOf(second)[0] as string;
    // Past a standby checkpoint (every 5 s): the first instance's copy of the second's task is on disk.
    await waitFor(() => second.lastLine(/^committed \d+ processed [1-9]/) !== null, 'the second instance to commit its work');
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await second.kill();
    await waitFor(() => activeOf(first).length === 2, 'the survivor to take the killed instance\'s task over', 60_000);
    // The last restore of the moved task is the promotion (the first was at start-up, empty).
    const restores = [...first.stdout().matchAll(new RegExp(`^restored ${moved} local=(\\d+) changelog=(\\d+)`, 'gm'))];
    const promotion = restores[restores.length - 1];
    expect(restores.length).toBe(2);
    expect(Number(promotion?.[1])).toBeGreaterThan(0);

    await produceRecords(broker.bootstrap, 'standby-events', records(2_000, 500));
    const output = new TopicReader(broker.bootstrap, 'standby-ids', 2);
    try {
      await waitFor(async () => {
        await output.poll();
        const table = output.latest((value) => JSON.parse(value.toString('utf8')) as number[]);
        return records(0, 2_500).every((record) => (table.get(record.key) as number[] | undefined)?.includes(Number(record.value)) === true);
      }, 'every input id in the output topic');
    } finally {
      await output.close();
    }
    expect(await first.stop()).toBe(0);
  });
});
