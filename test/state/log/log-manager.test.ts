import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogManager, parsePartitionDirectoryName } from '../../../state/log/log-manager.ts';
import { simpleBatch } from './batches.ts';
import { cleanup, ManualClock, smallConfig, temporaryDirectory } from './helpers.ts';

let dataDirectory: string;
const quiet = { log: () => {} };

beforeEach(() => {
  dataDirectory = temporaryDirectory('runnel-logs-');
});
afterEach(() => cleanup(dataDirectory));

describe('partition directory names', () => {
  it('takes the partition from after the last dash', () => {
    expect(parsePartitionDirectoryName('my.topic_with-dashes-12')).toEqual({ topic: 'my.topic_with-dashes', partition: 12 });
    expect(parsePartitionDirectoryName('__consumer_offsets-0')).toEqual({ topic: '__consumer_offsets', partition: 0 });
    expect(parsePartitionDirectoryName('orders-3.a1b2-delete')).toBeNull();
    expect(parsePartitionDirectoryName('no_partition')).toBeNull();
  });
});

describe('LogManager', () => {
  it('creates, finds and reopens partition logs, including topic names with dots and dashes', () => {
    const manager = LogManager.open(dataDirectory, quiet);
    const config = smallConfig();
    const log = manager.create('a.b-c_d', 2, config);
    log.append(simpleBatch(3, 1n));
    expect(manager.get('a.b-c_d', 2)).toBe(log);
    expect(manager.get('a.b-c_d', 1)).toBeUndefined();
    expect(() => manager.create('a.b-c_d', 2, config)).toThrow(/exists/);
    expect(manager.getOrCreate('a.b-c_d', 2, config)).toBe(log);
    manager.getOrCreate('other', 0, config);
    expect(fs.existsSync(path.join(dataDirectory, 'a.b-c_d-2', '00000000000000000000.log'))).toBe(true);
    manager.closeAll();

    const seen: string[] = [];
    const reopened = LogManager.open(dataDirectory, { ...quiet, configFor: (topic, partition) => (seen.push(`${topic}/${partition}`), config) });
    expect(seen.sort()).toEqual(['a.b-c_d/2', 'other/0']);
    expect(reopened.get('a.b-c_d', 2)?.logEndOffset).toBe(3n);
    expect(reopened.get('a.b-c_d', 2)?.openReport.cleanShutdown).toBe(true);
    reopened.closeAll();

    const lazy = LogManager.open(dataDirectory, quiet);
    expect(lazy.partitionDirectories().map((found) => `${found.topic}/${found.partition}`).sort()).toEqual(['a.b-c_d/2', 'other/0']);
    expect(lazy.get('a.b-c_d', 2)).toBeUndefined();
    expect(lazy.getOrCreate('a.b-c_d', 2, config).logEndOffset).toBe(3n);
    lazy.closeAll();
  });

  it('deletes a partition by renaming its directory, and finishes interrupted deletions on open', async () => {
    const manager = LogManager.open(dataDirectory, quiet);
    manager.create('doomed', 0, smallConfig()).append(simpleBatch(1, 1n));
    expect(manager.delete('doomed', 0)).toBe(true);
    expect(manager.get('doomed', 0)).toBeUndefined();
    expect(fs.existsSync(path.join(dataDirectory, 'doomed-0'))).toBe(false);
    for (let i = 0; i < 100 && fs.readdirSync(dataDirectory).length > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fs.readdirSync(dataDirectory)).toEqual([]);
    manager.closeAll();

    fs.mkdirSync(path.join(dataDirectory, 'left.over-1.0123abcd-delete'));
    fs.writeFileSync(path.join(dataDirectory, 'left.over-1.0123abcd-delete', 'x.log'), 'x');
    const reopened = LogManager.open(dataDirectory, quiet);
    expect(fs.readdirSync(dataDirectory)).toEqual([]);
    expect(reopened.partitionDirectories()).toEqual([]);
    reopened.closeAll();
  });

  it('applies retention to every open log, on demand and from its timer', async () => {
    const clock = new ManualClock(0);
    const manager = LogManager.open(dataDirectory, { ...quiet, nowMs: clock.now, retentionCheckIntervalMs: 20 });
    const config = smallConfig({ retentionMs: 1000 });
    const logs = [manager.create('t', 0, config), manager.create('t', 1, config)];
    for (const log of logs) for (let i = 0; i < 40; i += 1) log.append(simpleBatch(1, BigInt(i), 40));
    const segmentsBefore = logs.map((log) => log.segmentCount);
    expect(await manager.runRetention(500)).toEqual([]);
    clock.nowMs = 100_000;
    for (let i = 0; i < 200 && logs.some((log) => log.segmentCount > 1); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(logs.map((log) => log.segmentCount)).toEqual([1, 1]);
    expect(segmentsBefore.every((count) => count > 2)).toBe(true);
    expect(logs.map((log) => log.logStartOffset)).toEqual([logs[0]!.segmentBaseOffsets[0], logs[1]!.segmentBaseOffsets[0]]);
    manager.closeAll();
  });

  it('flushes logs whose flushMs has passed', () => {
    const clock = new ManualClock(1000);
    const manager = LogManager.open(dataDirectory, { ...quiet, nowMs: clock.now });
    const timed = manager.create('timed', 0, smallConfig({ flushMs: 500 }));
    const never = manager.create('never', 0, smallConfig());
    timed.append(simpleBatch(1, 1n));
    never.append(simpleBatch(1, 1n));
    expect(manager.flushDue()).toBe(0);
    clock.nowMs += 500;
    expect(manager.flushDue()).toBe(1);
    expect(manager.flushDue()).toBe(0);
    manager.closeAll();
  });
});
