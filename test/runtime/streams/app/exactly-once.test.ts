// SIGKILL in the middle of an aggregation under exactly_once_v2. Outputs, changelog writes and
// input offsets commit in one transaction, so whatever the moment of the kill, the output topic
// read with read_committed ends with, for every key, exactly the ids of that key's input records,
// each once, in input order: nothing lost, nothing counted twice.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAppProcesses, startAppProcess, type AppProcess } from '../../../helpers/app-process.ts';
import { cleanup, REPOSITORY_ROOT, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, TopicReader, waitFor, waitForIdLists } from '../../../helpers/streams.ts';

const SCRIPT = path.join(REPOSITORY_ROOT, 'test/runtime/streams/app/fixtures/event-ids-app.ts');
const KEYS = 20;
const CHUNK_RECORDS = 1_000;
const CHUNKS = 4;

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanupAppProcesses();
  await cleanup();
});

async function produceGradually(from: number): Promise<void> {
  const step = 50;
  for (let start = from; start < from + CHUNK_RECORDS; start += step) {
    await produceRecords(broker.bootstrap, 'eos-events', Array.from({ length: step }, (_, index) => ({ key: `key-${(start + index) % KEYS}`, value: String(start + index) })));
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
}

describe('StreamsApp exactly-once', () => {
  // Four chunks with three kills and restarts, then up to 90 s for the output: the default 60 s
  // ran out in a full run on a loaded machine (the test takes 35 s alone).
  it('ends with every input id exactly once per key after SIGKILLs mid-aggregation', async () => {
    await createTopics(broker.bootstrap, [{ topic: 'eos-events', partitions: 2 }, { topic: 'eos-ids', partitions: 2 }]);
    const env = {
      BOOTSTRAP: broker.bootstrap, STATE_DIR: temporaryDirectory('runnel-streams-eos-'), APPLICATION_ID: 'eos-app', INPUT_TOPIC: 'eos-events', OUTPUT_TOPIC: 'eos-ids',
      COMMIT_INTERVAL_MS: '200', PROCESSING_GUARANTEE: 'exactly_once_v2',
    };
    let app: AppProcess = startAppProcess(SCRIPT, env);
    await app.waitForLine(/^state RUNNING/);
    for (let index = 0; index < CHUNKS; index++) {
      const producing = produceGradually(index * CHUNK_RECORDS);
      if (index > 0) {
        // Killed after a commit, once more records were processed: an open transaction is lost.
        const committed = await app.waitForLine(/^committed \d+ processed (\d+)/);
        await waitFor(() => Number(app.lastLine(/processed (\d+)/)?.[1] ?? 0) > Number(committed[1]), 'processing after a commit');
        await app.kill();
        app = startAppProcess(SCRIPT, env);
        await app.waitForLine(/^state RUNNING/);
      }
      await producing;
    }
    const expected = new Map<string, number[]>();
    for (let id = 0; id < CHUNK_RECORDS * CHUNKS; id++) expected.set(`key-${id % KEYS}`, [...(expected.get(`key-${id % KEYS}`) ?? []), id]);
    const output = new TopicReader(broker.bootstrap, 'eos-ids', 2, 'read_committed');
    const json = (value: Buffer): unknown => JSON.parse(value.toString('utf8'));
    try {
      await waitForIdLists(output, expected, 'the output to reach every input record', 90_000);
      expect(output.latest(json)).toEqual(expected);
    } finally {
      await output.close();
    }
    expect(await app.stop()).toBe(0);
  }, 240_000);
});
