// The cleaner next to live traffic: appends and reads between its event-loop turns, segments
// that disappear under it, and the LogManager's timer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import type { LogConfig } from '../../../state/log/config.ts';
import { LogManager } from '../../../state/log/log-manager.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';
import { keyedBatch, readAll } from './keyed.ts';

let root: string;
let directories = 0;
beforeAll(() => {
  root = temporaryDirectory('runnel-cleaner-background-');
});
afterAll(() => cleanup(root));

const START_MS = 1_700_000_000_000;

function compactConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return smallConfig({ cleanupPolicy: ['compact'], minCleanableDirtyRatio: 0, segmentBytes: 1024, ...overrides });
}

function fill(log: PartitionLog, clock: ManualClock, batches: number, keys = 5): void {
  for (let i = 0; i < batches; i += 1) log.append(keyedBatch([{ key: `key${i % keys}`, value: `value${i}` }], clock.nowMs));
}

function freshLog(): { log: PartitionLog; clock: ManualClock; directory: string } {
  directories += 1;
  const directory = path.join(root, `live${directories}-0`);
  const clock = new ManualClock(START_MS);
  return { log: openLog(directory, compactConfig(), clock).log, clock, directory };
}

describe('the cleaner beside live traffic', () => {
  it('lets appends and reads run between its reads and keeps what they wrote', async () => {
    const { log, clock } = freshLog();
    fill(log, clock, 60);
    log.roll();
    const cleaner = new LogCleaner({ nowMs: clock.now, readChunkBytes: 128, busySliceMs: 0 });
    let finished = false;
    const pass = cleaner.clean(log).then((result) => {
      finished = true;
      return result;
    });
    let turns = 0;
    while (!finished) {
      log.append(keyedBatch([{ key: 'live', value: `during${turns}` }], clock.nowMs));
      expect(readAll(log).at(-1)?.value).toBe(`during${turns}`);
      turns += 1;
      await nextTurn();
    }
    expect((await pass).status).toBe('cleaned');
    expect(turns, 'the pass yielded to the event loop many times').toBeGreaterThan(10);
    const values = readAll(log).filter((record) => record.key === 'live').map((record) => record.value);
    expect(values).toEqual(Array.from({ length: turns }, (_, i) => `during${i}`));
    expect(readAll(log).filter((record) => record.key?.startsWith('key')).map((record) => record.value)).toEqual(
      ['value55', 'value56', 'value57', 'value58', 'value59'],
    );
  });

  it('abandons a pass whose segments are deleted under it and leaves the log whole', async () => {
    const { log, clock, directory } = freshLog();
    fill(log, clock, 60);
    log.roll();
    const before = readAll(log);
    const cleaner = new LogCleaner({ nowMs: clock.now, readChunkBytes: 128, busySliceMs: 0 });
    const pass = cleaner.clean(log);
    await nextTurn();
    const cut = log.segmentBaseOffsets[1] as bigint;
    log.deleteRecordsBefore(cut);
    const result = await pass;
    expect(result.status).toBe('aborted');
    expect(readAll(log)).toEqual(before.filter((record) => record.offset >= cut));
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap'))).toEqual([]);
    expect((await cleaner.clean(log)).status, 'the next pass succeeds').toBe('cleaned');
  });

  it('runs one pass per log at a time', async () => {
    const { log, clock } = freshLog();
    fill(log, clock, 40);
    log.roll();
    const cleaner = new LogCleaner({ nowMs: clock.now, readChunkBytes: 128, busySliceMs: 0 });
    const [first, second] = await Promise.all([cleaner.clean(log), cleaner.clean(log)]);
    expect(first.status).toBe('cleaned');
    expect(second).toMatchObject({ status: 'skipped', reason: 'a pass over this log is already running' });
  });

  it('abandons a pass when the log closes under it', async () => {
    const { log, clock, directory } = freshLog();
    fill(log, clock, 60);
    log.roll();
    const pass = new LogCleaner({ nowMs: clock.now, readChunkBytes: 128, busySliceMs: 0 }).clean(log);
    await nextTurn();
    log.close();
    expect((await pass).status).toBe('aborted');
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.cleaned'))).toEqual([]);
  });
});

describe('LogManager and the cleaner', () => {
  it('compacts due logs from its timer and leaves delete-only logs alone', async () => {
    const manager = LogManager.open(path.join(root, 'manager'), { cleanerBackoffMs: 20, retentionCheckIntervalMs: 3_600_000, log: () => {} });
    try {
      const clock = new ManualClock(START_MS);
      const compacted = manager.create('changelog', 0, compactConfig());
      const plain = manager.create('events', 0, smallConfig({ cleanupPolicy: ['delete'] }));
      fill(compacted, clock, 40);
      compacted.roll();
      fill(plain, clock, 40);
      plain.roll();
      const deadline = Date.now() + 10_000;
      while (compacted.firstDirtyOffset < 40n && Date.now() < deadline) await sleep(10);
      expect(compacted.firstDirtyOffset).toBe(40n);
      expect(readAll(compacted).map((record) => record.value)).toEqual(['value35', 'value36', 'value37', 'value38', 'value39']);
      expect(readAll(plain)).toHaveLength(40);
      expect(await manager.runCleaner(), 'nothing is due after the pass').toEqual([]);
    } finally {
      manager.closeAll();
    }
  });

  it('passes the broker cleanable offset limit and cleans the dirtiest logs first', async () => {
    const manager = LogManager.open(path.join(root, 'manager-limits'), {
      cleanerEnabled: false,
      log: () => {},
      cleanableOffsetLimitFor: (topic, partition) => (topic === 'c' && partition === 0 ? 3n : undefined),
    });
    try {
      const clock = new ManualClock(START_MS);
      const a = manager.create('a', 0, compactConfig());
      const b = manager.create('b', 0, compactConfig());
      const c = manager.create('c', 0, compactConfig());
      fill(a, clock, 6, 6);
      a.roll();
      await manager.cleaner.clean(a);
      for (const log of [a, b, c]) {
        fill(log, clock, 3, 1);
        log.roll();
        fill(log, clock, 3, 1);
        log.roll();
      }
      expect(manager.cleaner.plan(a).dirtyRatio).toBeLessThan(1);
      const results = await manager.runCleaner();
      expect(results.map((entry) => `${entry.topic}-${entry.partition}`)).toEqual(['b-0', 'c-0', 'a-0']);
      expect(readAll(c).map((record) => record.offset), 'c is cleaned below its limit only').toEqual([2n, 3n, 4n, 5n]);
      expect(readAll(b).map((record) => record.offset)).toEqual([5n]);
    } finally {
      manager.closeAll();
    }
  });
});
