// `runnel streams reset` against a real broker process: offsets of input topics rewound,
// intermediate topics skipped to their end, internal topics deleted (and only the
// application's own), local state removed; a dry run changes nothing; a running application is
// refused; bad flags are explained.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer } from '../../../runtime/client/consumer.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { isInternalTopicOf } from '../../../runtime/streams/reset.ts';
import { resetTarget } from '../../../runtime/cli/streams-command.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../helpers/broker.ts';
import { runnel } from '../../helpers/cli.ts';

const APP = 'views';
const BASE_TIME = Date.UTC(2026, 0, 1);
let broker: BrokerProcess;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker();
  admin = new Admin({ bootstrapServers: broker.bootstrap });
});

afterAll(async () => {
  await admin.close();
  await cleanup();
});

/** Input topic with 10 records per partition, one a minute from BASE_TIME; all committed by the app's group. */
async function preparedApplication(): Promise<{ stateDir: string }> {
  await admin.createTopics([
    { topic: 'page-views', numPartitions: 2 },
    { topic: 'views-through', numPartitions: 1 },
    { topic: `${APP}-counts-changelog`, numPartitions: 2 },
    { topic: `${APP}-KSTREAM-AGGREGATE-0000000003-repartition`, numPartitions: 2 },
    { topic: `${APP}-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000005-topic`, numPartitions: 2 },
    { topic: 'other-counts-changelog', numPartitions: 1 },
  ]);
  const producer = new Producer({ bootstrapServers: broker.bootstrap });
  for (const partition of [0, 1]) {
    await producer.send({ topic: 'page-views', messages: Array.from({ length: 10 }, (_, minute) => ({ partition, value: `v${minute}`, timestamp: BASE_TIME + minute * 60_000 })) });
  }
  await producer.send({ topic: 'views-through', messages: Array.from({ length: 4 }, (_, index) => ({ value: `t${index}` })) });
  await producer.close();
  const consumer = new Consumer({ bootstrapServers: broker.bootstrap, groupId: APP });
  await consumer.commit([
    { topic: 'page-views', partition: 0, offset: 10n }, { topic: 'page-views', partition: 1, offset: 10n },
    { topic: 'views-through', partition: 0, offset: 1n },
  ]);
  await consumer.close();
  const stateDir = temporaryDirectory('runnel-reset-state-');
  fs.mkdirSync(path.join(stateDir, APP, '0_0', 'rocksdb', 'counts'), { recursive: true });
  fs.writeFileSync(path.join(stateDir, APP, '0_0', '.checkpoint'), '0\n');
  return { stateDir };
}

async function committed(topic: string): Promise<string[]> {
  return (await admin.fetchGroupOffsets(APP, [topic])).map((entry) => `${entry.partition}:${entry.offset}`);
}

describe('runnel streams reset', () => {
  it('plans in a dry run, then rewinds, skips, deletes internal topics and local state', async () => {
    const { stateDir } = await preparedApplication();
    const args = ['streams', 'reset', '--bootstrap-server', broker.bootstrap, '--application-id', APP, '--input-topics', 'page-views', '--intermediate-topics', 'views-through', '--state-dir', stateDir];

    const dry = await runnel([...args, '--dry-run']);
    expect(dry.stderr).toContain('dry run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/views\s+page-views\s+input\s+0\s+0/);
    expect(dry.stdout).toMatch(/views\s+views-through\s+intermediate\s+0\s+4/);
    expect(dry.stdout).toContain(`would delete: ${APP}-KSTREAM-AGGREGATE-0000000003-repartition, ${APP}-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000005-topic, ${APP}-counts-changelog`);
    expect(await committed('page-views')).toEqual(['0:10', '1:10']);
    expect(await admin.listTopics()).toContain(`${APP}-counts-changelog`);
    expect(fs.existsSync(path.join(stateDir, APP))).toBe(true);

    const done = await runnel(args);
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(await committed('page-views')).toEqual(['0:0', '1:0']);
    expect(await committed('views-through')).toEqual(['0:4']);
    const topics = await admin.listTopics();
    expect(topics.filter((topic) => topic.startsWith(`${APP}-`) && topic !== 'views-through')).toEqual([]);
    expect(topics).toEqual(expect.arrayContaining(['page-views', 'views-through', 'other-counts-changelog']));
    expect(fs.existsSync(path.join(stateDir, APP))).toBe(false);

    // A date-time target: the first record at or after 00:04 is offset 4 in both partitions.
    const byTime = await runnel(['streams', 'reset', '--bootstrap-server', broker.bootstrap, '--application-id', APP, '--input-topics', 'page-views', '--to-datetime', '2026-01-01T00:04:00Z']);
    expect(byTime.code).toBe(0);
    expect(await committed('page-views')).toEqual(['0:4', '1:4']);
    const byOffset = await runnel(['streams', 'reset', '--bootstrap-server', broker.bootstrap, '--application-id', APP, '--input-topics', 'page-views', '--to-offset', '7']);
    expect(byOffset.code).toBe(0);
    expect(await committed('page-views')).toEqual(['0:7', '1:7']);
  });

  it('refuses while an instance of the application is running', async () => {
    await admin.createTopics([{ topic: 'live-input', numPartitions: 1 }]);
    const member = new Consumer({ bootstrapServers: broker.bootstrap, groupId: 'live-app' });
    member.subscribe({ topics: ['live-input'] });
    const deadline = Date.now() + 30_000;
    while (member.assignment().length === 0 && Date.now() < deadline) await member.poll({ timeoutMs: 200 });
    try {
      const refused = await runnel(['streams', 'reset', '--bootstrap-server', broker.bootstrap, '--application-id', 'live-app', '--input-topics', 'live-input']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/still has 1 running member.*stop every instance/);
    } finally {
      await member.close();
    }
  });

  it('explains bad arguments and unknown topics', async () => {
    const noApp = await runnel(['streams', 'reset', '--input-topics', 'x']);
    expect(noApp.code).toBe(2);
    expect(noApp.stderr).toContain('--application-id is required');
    const badDuration = await runnel(['streams', 'reset', '--application-id', 'a', '--by-duration', 'an hour']);
    expect(badDuration.code).toBe(2);
    expect(badDuration.stderr).toMatch(/not an ISO-8601 duration[\s\S]*hint: write it like --by-duration PT1H30M/);
    const twoTargets = await runnel(['streams', 'reset', '--application-id', 'a', '--to-earliest', '--to-latest']);
    expect(twoTargets.code).toBe(2);
    const missing = await runnel(['streams', 'reset', '--bootstrap-server', broker.bootstrap, '--application-id', 'ghost', '--input-topics', 'no-such-topic']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-topic do not exist');
  });

  it('names internal topics by the application prefix and the internal suffixes', () => {
    expect(isInternalTopicOf('app', 'app-counts-changelog')).toBe(true);
    expect(isInternalTopicOf('app', 'app-KSTREAM-KEY-SELECT-0000000001-repartition')).toBe(true);
    expect(isInternalTopicOf('app', 'app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000009-topic')).toBe(true);
    expect(isInternalTopicOf('app', 'application-counts-changelog')).toBe(false);
    expect(isInternalTopicOf('app', 'app-output')).toBe(false);
    expect(isInternalTopicOf('app', 'other-counts-changelog')).toBe(false);
    expect(resetTarget({ 'by-duration': 'PT1H' }, 10_000_000)).toEqual({ timestamp: 10_000_000 - 3_600_000 });
    expect(resetTarget({}, 0)).toBe('earliest');
  });
});
