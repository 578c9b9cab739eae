// Issue 7's exactly-once crash test: a windowed aggregation under exactly_once_v2 is SIGKILLed
// ten times at random moments while input flows, restarted each time, and the output topic read
// with read_committed must end equal to the aggregation computed here from the input: per key
// and window, every id exactly once, in input order. A seeded generator picks the moments, and
// the seed is printed, so a failure can be replayed with EOS_KILL_SEED.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAppProcesses, startAppProcess, type AppProcess } from '../../../helpers/app-process.ts';
import { cleanup, REPOSITORY_ROOT, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { Admin } from '../../../../runtime/client/index.ts';
import { seededRandom } from '../../../helpers/random.ts';
import { createTopics, produceRecords, TopicReader, waitForIdLists } from '../../../helpers/streams.ts';

const SCRIPT = path.join(REPOSITORY_ROOT, 'test/runtime/streams/app/fixtures/windowed-ids-app.ts');
const WINDOW_MS = 10_000;
const KEYS = 8;
const KILLS = 10;
const BASE_TIME = Date.UTC(2026, 10, 21, 12);

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker({ overrides: { 'group.min.session.timeout.ms': '500' } });
});

afterAll(async () => {
  await cleanupAppProcesses();
  await cleanup();
});

function timestampOf(id: number): number {
  return BASE_TIME + id * 20;
}

function expectedWindows(records: number): Map<string, number[]> {
  const expected = new Map<string, number[]>();
  for (let id = 0; id < records; id++) {
    const start = Math.floor(timestampOf(id) / WINDOW_MS) * WINDOW_MS;
    const key = `key-${id % KEYS}@${start}`;
    expected.set(key, [...(expected.get(key) ?? []), id]);
  }
  return expected;
}

/** What a failure needs to be understood: which ids are missing, and where the output's offsets stand. */
async function diagnose(output: TopicReader, expected: Map<string, number[]>, produced: number): Promise<string> {
  const table = output.latest((value) => JSON.parse(value.toString('utf8'))) as Map<string, number[]>;
  const have = [...table.values()].reduce((sum, ids) => sum + ids.length, 0);
  const short = [...expected].filter(([key, ids]) => (table.get(key)?.length ?? 0) < ids.length)
    .map(([key, ids]) => `${key}: ${table.get(key)?.length ?? 0}/${ids.length} (missing ${ids.filter((id) => !(table.get(key) ?? []).includes(id)).slice(0, 10).join(',')})`);
  const admin = new Admin({ bootstrapServers: broker.bootstrap });
  try {
    const latest = await admin.listOffsets('eos-window-ids', 'latest');
    const positions = [0, 1].map((partition) => `${partition}: read ${output.records.filter((record) => record.partition === partition).at(-1)?.offset ?? 'none'}`);
    return `output holds ${have} of ${produced} ids; short windows ${short.slice(0, 6).join('; ')}; log end ${latest.map((entry) => `${entry.partition}:${entry.offset}`).join(' ')}; last record read ${positions.join(' ')}`;
  } finally {
    await admin.close();
  }
}

describe('StreamsApp exactly-once under repeated SIGKILL', () => {
  it(`ends with the exact windowed aggregation after ${KILLS} kills at random moments`, async () => {
    const seed = Number(process.env['EOS_KILL_SEED'] ?? Date.now() % 1_000_000);
    console.log(`exactly-once kill test seed ${seed} (EOS_KILL_SEED=${seed} replays it)`);
    const next = seededRandom(seed);
    await createTopics(broker.bootstrap, [{ topic: 'eos-window-events', partitions: 2 }, { topic: 'eos-window-ids', partitions: 2 }]);
    const env = { BOOTSTRAP: broker.bootstrap, STATE_DIR: temporaryDirectory('runnel-eos-kills-'), APPLICATION_ID: 'eos-window-app', INPUT_TOPIC: 'eos-window-events', OUTPUT_TOPIC: 'eos-window-ids' };
    // Input flows until the last kill, so every kill lands in the middle of work.
    let produced = 0;
    let killing = true;
    const producing = (async () => {
      for (; killing; produced += 100) {
        const ids = Array.from({ length: 100 }, (_, index) => produced + index);
        await produceRecords(broker.bootstrap, 'eos-window-events', ids.map((id) => ({ key: `key-${id % KEYS}`, value: String(id), timestamp: timestampOf(id) })));
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
    })();
    let app: AppProcess = startAppProcess(SCRIPT, env);
    for (let kill = 0; kill < KILLS; kill++) {
      await app.waitForLine(/^state RUNNING/, 90_000);
      // A random moment after the restart: mid-transaction, mid-commit or mid-restore alike.
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.floor(next() * 1_200)));
      await app.kill();
      app = startAppProcess(SCRIPT, env);
    }
    killing = false;
    await producing;
    await app.waitForLine(/^state RUNNING/, 90_000);
    const expected = expectedWindows(produced);
    expect(produced).toBeGreaterThan(2_000);
    const output = new TopicReader(broker.bootstrap, 'eos-window-ids', 2, 'read_committed');
    const json = (value: Buffer): unknown => JSON.parse(value.toString('utf8'));
    try {
      await waitForIdLists(output, expected, 'the committed output to reach every input record', 120_000).catch(async (error: unknown) => {
        throw new Error(`seed ${seed} (EOS_KILL_SEED=${seed} replays it): ${String(error)}; ${await diagnose(output, expected, produced)}; the app printed: ${app.stdout().split('\n').slice(-5).join(' | ')} ${app.stderr().slice(-3000)}\nbroker: ${broker.logText().slice(-3000)}`);
      });
      expect(output.latest(json)).toEqual(expected);
    } finally {
      await output.close();
    }
    expect(await app.stop()).toBe(0);
  }, 600_000);
});
