// Restoration settings: a task restoring from scratch opens its RocksDB database with memtables
// RESTORE_SHARES times larger (shares of the write buffer budget) and reopens it with the usual
// settings once restored. RocksDB's OPTIONS file, which it rewrites at every open, shows the
// settings really applied.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { RESTORE_SHARES, RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { packRecords } from '../../../../state/stores/rocksdb/worker/protocol.ts';
import { TaskState, type LoggedStore } from '../../../../runtime/streams/app/task-state.ts';
import { temporaryDirectory } from './helpers.ts';

const MIB = 1024 * 1024;
let directory: ReturnType<typeof temporaryDirectory>;

beforeEach(() => {
  directory = temporaryDirectory('runnel-restore-settings-');
});
afterEach(() => {
  directory.remove();
});

/** write_buffer_size of a column family in the newest OPTIONS file RocksDB wrote in the task directory. */
function writeBufferSizeOf(taskDirectory: string, columnFamily: string): number {
  const folder = join(taskDirectory, 'rocksdb');
  const newest = readdirSync(folder)
    .filter((name) => name.startsWith('OPTIONS-'))
    .sort((left, right) => Number(left.slice(8)) - Number(right.slice(8)))
    .at(-1);
  if (newest === undefined) throw new Error('no OPTIONS file');
  const text = readFileSync(join(folder, newest), 'utf8');
  const section = text.split('[CFOptions "').find((part) => part.startsWith(`${columnFamily}"`));
  const match = section?.match(/\n\s*write_buffer_size=(\d+)/);
  if (match === null || match === undefined) throw new Error(`no write_buffer_size for ${columnFamily} in ${newest}`);
  return Number(match[1]);
}

/** A key of n spread over the key space, as the benchmark's keys. */
function keyOf(index: number): Uint8Array {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(Math.imul(index, 2654435761) >>> 0, 0);
  key.writeUInt32BE(index, 4);
  return key;
}

/** A changelog writing keys 0..keys-1 `times` times each, value = the write's number, every seventh last write a delete. */
function changelog(keys: number, times: number): ChangelogRecord[] {
  const records: ChangelogRecord[] = [];
  for (let round = 0; round < times; round++) {
    for (let index = 0; index < keys; index++) {
      const deleted = round === times - 1 && index % 7 === 0;
      records.push({ key: keyOf(index), value: deleted ? null : Buffer.from(`value ${index} round ${round}`) });
    }
  }
  return records;
}

/** The changelog's last value per key, deletes dropped, in key order as the store's. */
function lastValues(records: readonly ChangelogRecord[]): Map<string, string> {
  const last = new Map<string, string | null>();
  for (const record of records) last.set(Buffer.from(record.key).toString('hex'), record.value === null ? null : Buffer.from(record.value).toString());
  return new Map([...last].filter((entry): entry is [string, string] => entry[1] !== null).sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)));
}

describe('RocksDbMemoryBudget restoration shares', () => {
  it('grants larger memtables as shares of the write buffer budget while half the budget stays free, and takes them back', () => {
    const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 256 * MIB, columnFamiliesMax: 32 });
    const restoring = budget.reserveRestoring(2);
    expect(restoring?.writeBufferSize).toBe(budget.settings.writeBufferSize * RESTORE_SHARES);
    expect(budget.inUse).toBe(2 * RESTORE_SHARES);
    const second = budget.reserveRestoring(2);
    expect(second).not.toBeNull();
    // A third would leave less than half of the 32 shares free.
    expect(budget.reserveRestoring(1)).toBeNull();
    expect(budget.inUse).toBe(4 * RESTORE_SHARES);
    budget.release(2, restoring as NonNullable<typeof restoring>);
    budget.release(2, second as NonNullable<typeof second>);
    expect(budget.inUse).toBe(0);
    // Memtable bytes never exceed the total: shares times the per-share memtables.
    expect(budget.reserveRestoring(4)?.writeBufferSize).toBe((256 * MIB) / (32 * 2) * RESTORE_SHARES);
  });
});

describe('RocksDbTask restoration settings', () => {
  it('opens with larger memtables, reopens with the usual ones once restored, and keeps every record through both and a reopen', async () => {
    const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 128 * MIB, columnFamiliesMax: 16 });
    const usual = budget.settings.writeBufferSize;
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['counts', 'other'], budget, restoring: true });
    let reopened: RocksDbTask | null = null;
    try {
      expect(task.restoring).toBe(true);
      expect(writeBufferSizeOf(directory.path, 'counts')).toBe(usual * RESTORE_SHARES);
      expect(budget.inUse).toBe(2 * RESTORE_SHARES);
      const records = changelog(20_000, 3);
      for (let start = 0; start < records.length; start += 10_000) void task.store('counts').applyPacked(packRecords(records.slice(start, start + 10_000)));
      task.store('other').put(keyOf(1), Buffer.from('staged, not yet written'));
      await task.restored();
      expect(task.restoring).toBe(false);
      expect(writeBufferSizeOf(directory.path, 'counts')).toBe(usual);
      expect(writeBufferSizeOf(directory.path, 'other')).toBe(usual);
      expect(budget.inUse).toBe(2);
      // The same store objects read the reopened database.
      const expected = lastValues(records);
      const read = async (store: ReturnType<RocksDbTask['store']>): Promise<Map<string, string>> =>
        new Map((await store.all()).map((entry) => [Buffer.from(entry.key).toString('hex'), Buffer.from(entry.value).toString()]));
      expect(await read(task.store('counts'))).toEqual(expected);
      expect(Buffer.from((await task.store('other').get(keyOf(1))) ?? []).toString()).toBe('staged, not yet written');
      task.store('counts').put(keyOf(0), Buffer.from('after restoration'));
      await task.restored();
      await task.close();
      expect(budget.inUse).toBe(0);
      reopened = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['counts', 'other'], budget });
      expect(writeBufferSizeOf(directory.path, 'counts')).toBe(usual);
      expect(await read(reopened.store('counts'))).toEqual(new Map([...expected, [Buffer.from(keyOf(0)).toString('hex'), 'after restoration']]));
    } finally {
      await task.close();
      await reopened?.close();
    }
    expect(budget.inUse).toBe(0);
  });

  it('opens with the usual settings when the budget has no room for restoration shares', async () => {
    const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 16 * MIB, columnFamiliesMax: 4 });
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['a', 'b', 'c'], budget, restoring: true });
    try {
      expect(task.restoring).toBe(false);
      expect(writeBufferSizeOf(directory.path, 'a')).toBe(budget.settings.writeBufferSize);
      await task.restored();
      expect(budget.inUse).toBe(3);
    } finally {
      await task.close();
    }
  });
});

const store: LoggedStore = { storeName: 'counts', changelogTopic: 'app-counts-changelog', kind: 'key-value', retentionMs: null };

/** The smallest changelog given restoration settings here (the runtime's limit is far larger). */
const SETTINGS_FROM = 50_000;

async function openState(taskDirectory: string, restoreSettings: boolean, changelogEnd: bigint): Promise<TaskState> {
  return TaskState.open({
    directory: taskDirectory, partition: 0, stores: [store], persistent: true, exactlyOnce: false,
    changelogEnds: new Map([[store.changelogTopic, changelogEnd]]), log: () => undefined, ...(restoreSettings ? { restoreSettingsFrom: SETTINGS_FROM } : {}),
  });
}

/** Restores records into a fresh TaskState as ActiveTask.create does, checkpoints, and returns the store's entries. */
async function restoreAll(taskDirectory: string, records: readonly ChangelogRecord[]): Promise<Map<string, string>> {
  const state = await openState(taskDirectory, true, BigInt(records.length));
  try {
    expect(state.restoreFrom(store.changelogTopic)).toBe(0n);
    expect(writeBufferSizeOf(taskDirectory, 'counts')).toBeGreaterThan(8 * MIB);
    for (let start = 0; start < records.length; start += 10_000) {
      const chunk = records.slice(start, start + 10_000);
      await state.stageRestoredPacked(store.changelogTopic, packRecords(chunk), chunk.length);
    }
    await state.restoredWritten();
    await state.restorationEnded();
    expect(writeBufferSizeOf(taskDirectory, 'counts')).toBe(8 * MIB);
    await state.checkpoint(new Map([[store.changelogTopic, BigInt(records.length)]]));
  } finally {
    await state.close();
  }
  const reopened = await openState(taskDirectory, true, BigInt(records.length));
  try {
    // The checkpoint vouches for the copy: no restoration, the usual settings.
    expect(reopened.restoreFrom(store.changelogTopic)).toBe(BigInt(records.length));
    expect(writeBufferSizeOf(taskDirectory, 'counts')).toBe(8 * MIB);
    return new Map(reopened.localContent('counts').map((record) => [Buffer.from(record.key).toString('hex'), Buffer.from(record.value ?? []).toString()]));
  } finally {
    await reopened.close();
  }
}

describe('TaskState restoration settings', () => {
  it('restores from scratch with restoration settings and ends with the usual ones; the store equals the changelog', async () => {
    const records = changelog(30_000, 3);
    const entries = await restoreAll(directory.path, records);
    expect(entries).toEqual(lastValues(records));
  });

  it('uses the usual settings for a standby (opened without restoreSettingsFrom, as standby-task.ts does) and for a changelog below restoreSettingsFrom', async () => {
    const standby = await openState(join(directory.path, 'standby'), false, 1_000_000n);
    await standby.close();
    expect(writeBufferSizeOf(join(directory.path, 'standby'), 'counts')).toBe(8 * MIB);
    const short = await openState(join(directory.path, 'short'), true, BigInt(SETTINGS_FROM - 1));
    await short.close();
    expect(writeBufferSizeOf(join(directory.path, 'short'), 'counts')).toBe(8 * MIB);
  });

  it('restores exactly after a process killed in the middle of a restoration with restoration settings', async () => {
    const records = changelog(30_000, 3);
    // A child process opens the task with restoration settings, writes half the changelog and is killed.
    const script = `
      import { TaskState } from ${JSON.stringify(join(process.cwd(), 'runtime/streams/app/task-state.ts'))};
      import { packRecords } from ${JSON.stringify(join(process.cwd(), 'state/stores/rocksdb/worker/protocol.ts'))};
      const state = await TaskState.open({ directory: ${JSON.stringify(directory.path)}, partition: 0, stores: [${JSON.stringify(store)}], persistent: true, exactlyOnce: false,
        changelogEnds: new Map([[${JSON.stringify(store.changelogTopic)}, ${records.length}n]]), log: () => undefined, restoreSettingsFrom: ${SETTINGS_FROM} });
      const records = [];
      for (let index = 0; index < 45000; index++) records.push({ key: Buffer.from(String(index).padStart(16, '0')), value: Buffer.from('from the killed restoration') });
      for (let start = 0; start < records.length; start += 10000) await state.stageRestoredPacked(${JSON.stringify(store.changelogTopic)}, packRecords(records.slice(start, start + 10000)), 10000);
      await state.restoredWritten();
      process.stdout.write('written\\n');
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (data: Buffer) => {
          if (data.toString().includes('written')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`the restoring process exited with ${code} before writing`)));
      });
      expect(writeBufferSizeOf(directory.path, 'counts')).toBeGreaterThan(8 * MIB);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // No checkpoint: the restart wipes the killed restoration's records and restores the changelog whole.
    const entries = await restoreAll(directory.path, records);
    expect(entries).toEqual(lastValues(records));
  }, 60_000);
});
