// A compacted topic read by kcat (librdkafka): after the broker's background cleaner has run,
// each key's latest value is there, older values of cleaned segments are gone, tombstoned keys
// disappear once delete.retention.ms has passed, and offsets keep their gaps.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { cleanup, REPOSITORY_ROOT, startBroker, type BrokerProcess } from '../helpers/broker.ts';
import { kcat } from '../helpers/kcat.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker({ overrides: { 'log.cleaner.backoff.ms': '200' } }); });
afterAll(cleanup);

describe('compaction seen through kcat', () => {
  it('keeps the last value per key and drops tombstoned keys', async () => {
    const topic = 'compacted-profiles';
    // Create it compacted through the admin path kcat lacks: the Runnel CLI.
    const cli = spawn(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'runtime/cli/main.ts'), 'topics', 'create', '--bootstrap-server', broker.bootstrap, '--topic', topic,
      '--partitions', '1', '--config', 'cleanup.policy=compact', '--config', 'segment.bytes=1024', '--config', 'min.cleanable.dirty.ratio=0.01',
      '--config', 'delete.retention.ms=0'], { stdio: 'ignore', cwd: REPOSITORY_ROOT });
    expect(await new Promise((resolve) => cli.on('exit', resolve))).toBe(0);

    const model = new Map<string, string>();
    const lines: string[] = [];
    for (let round = 0; round < 40; round++) {
      for (let key = 0; key < 10; key++) {
        const value = `profile-${key}-v${round}-${'x'.repeat(20)}`;
        lines.push(`user${key}:${value}`);
        model.set(`user${key}`, value);
      }
    }
    // Two keys end with a tombstone (an empty value sent as NULL with -Z).
    for (const key of ['user3', 'user7']) { lines.push(`${key}:`); model.delete(key); }
    // Filler records under another key roll the segment holding the tombstones out of the active one.
    for (let filler = 0; filler < 30; filler++) lines.push(`filler:${'f'.repeat(60)}-${filler}`);
    model.set('filler', `${'f'.repeat(60)}-29`);
    const produced = await kcat(['-b', broker.bootstrap, '-t', topic, '-P', '-K', ':', '-Z', '-X', 'linger.ms=0', '-X', 'batch.num.messages=1'], lines.join('\n') + '\n');
    expect(produced.code, produced.stderr).toBe(0);

    const read = async () => {
      const consumed = await kcat(['-b', broker.bootstrap, '-t', topic, '-C', '-o', 'beginning', '-e', '-Z', '-f', '%o|%k|%s\n']);
      return consumed.stdout.trim().split('\n').filter((line) => line !== '').map((line) => {
        const [offset, key, value] = line.split('|');
        return { offset: Number(offset), key: key!, value: value === 'NULL' ? null : value! };
      });
    };
    let records = await read();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && records.filter((r) => r.key === 'user0').length > 2) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      records = await read();
    }
    expect(records.length).toBeLessThan(lines.length / 2);
    const offsets = records.map((r) => r.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(offsets.at(-1)).toBe(lines.length - 1);
    const latest = new Map<string, string | null>();
    for (const record of records) latest.set(record.key, record.value);
    for (const [key, value] of model) expect(latest.get(key), key).toBe(value);
    for (const key of ['user3', 'user7']) expect([undefined, null]).toContain(latest.get(key));
  }, 60_000);
});
