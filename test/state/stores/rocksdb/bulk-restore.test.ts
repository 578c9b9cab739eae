import { closeSync, existsSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { BulkRestore } from '../../../../state/stores/rocksdb/bulk-restore.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { maskCrc, WriteBatchEncoder } from '../../../../state/stores/rocksdb/wal-writer.ts';
import { packRecords } from '../../../../state/stores/rocksdb/worker/protocol.ts';
import { seededRandom, temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
const STORES = ['counts', 'profiles', 'totals'];
let directory: ReturnType<typeof temporaryDirectory>;

beforeEach(() => {
  directory = temporaryDirectory('runnel-bulk-restore-');
});
afterEach(() => {
  directory.remove();
});

function options() {
  return { taskDirectory: directory.path, storeNames: STORES, budget };
}

/** Every entry of a store, as hex key → hex value. */
async function contents(task: RocksDbTask, store: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const entry of await task.store(store).all()) found.set(Buffer.from(entry.key).toString('hex'), Buffer.from(entry.value).toString('hex'));
  return found;
}

/**
 * Changelog chunks for each store: overwrites and tombstones over a few hundred keys, values
 * from empty to 40 KiB (so single records and batches cross 32 KiB log blocks), and the model
 * of what each store must hold afterwards. Keys may share a prefix, which the log's key
 * ordering skips.
 */
function changelogs(seed: number, chunks: number, prefix = ''): { batches: { store: string; records: ChangelogRecord[] }[]; model: Map<string, Map<string, string>> } {
  const random = seededRandom(seed);
  const model = new Map(STORES.map((store) => [store, new Map<string, string>()]));
  const batches: { store: string; records: ChangelogRecord[] }[] = [];
  for (let chunk = 0; chunk < chunks; chunk++) {
    const store = STORES[Math.floor(random() * STORES.length)] as string;
    const records: ChangelogRecord[] = [];
    const size = 1 + Math.floor(random() * 400);
    for (let index = 0; index < size; index++) {
      const keyLength = 2 + Math.floor(random() * (random() < 0.05 ? 300 : 20));
      const body = Buffer.alloc(keyLength, Math.floor(random() * 300) % 256);
      body.writeUInt16BE(Math.floor(random() * 400), 0);
      const key = Buffer.concat([Buffer.from(prefix), body]);
      const roll = random();
      const value = roll < 0.15 ? null : roll < 0.2 ? Buffer.alloc(0) : Buffer.alloc(roll < 0.22 ? 40 * 1024 : Math.floor(random() * 200), Math.floor(random() * 256));
      records.push({ key, value });
      const stored = model.get(store) as Map<string, string>;
      if (value === null) stored.delete(key.toString('hex'));
      else stored.set(key.toString('hex'), value.toString('hex'));
    }
    batches.push({ store, records });
  }
  return { batches, model };
}

describe('bulk restoration through a RocksDB log file', () => {
  it.each([
    { segments: 'one segment', segmentBytes: undefined, prefix: '' },
    { segments: 'segments of 256 KiB', segmentBytes: 256 * 1024, prefix: 'user:' },
  ])('leaves every store holding what the changelogs say, markers gone, and reopens as usual ($segments)', async ({ segmentBytes, prefix }) => {
    const { batches, model } = changelogs(11, 120, prefix);
    const bulk = (await BulkRestore.begin(options(), segmentBytes)) as BulkRestore;
    expect(bulk).not.toBeNull();
    for (const batch of batches) bulk.applyPacked(batch.store, packRecords(batch.records));
    await bulk.drain();
    const task = (await bulk.finish()) as RocksDbTask;
    expect(task).not.toBeNull();
    if (segmentBytes !== undefined) expect(bulk.segmentsReplayed).toBeGreaterThan(3);
    // The segments' folder is gone with the restore.
    expect(existsSync(join(directory.path, 'rocksdb-restore'))).toBe(false);
    try {
      for (const store of STORES) expect(await contents(task, store)).toEqual(model.get(store));
      expect(await task.readRaw(null, Buffer.from('runnel-bulk-restore\u0000'))).toBeNull();
      // Writes after the restore take sequence numbers above the log's: a later put wins.
      const [first] = (model.get('counts') as Map<string, string>).keys();
      task.store('counts').put(Buffer.from(first as string, 'hex'), Buffer.from('after'));
      await task.flush();
    } finally {
      await task.close();
    }
    const reopened = await RocksDbTask.open(options());
    try {
      const expected = new Map(model.get('counts'));
      const [first] = expected.keys();
      expected.set(first as string, Buffer.from('after').toString('hex'));
      expect(await contents(reopened, 'counts')).toEqual(expected);
      expect(await contents(reopened, 'profiles')).toEqual(model.get('profiles'));
    } finally {
      await reopened.close();
    }
  });

  it('is not used over an existing database', async () => {
    const task = await RocksDbTask.open(options());
    await task.close();
    expect(await BulkRestore.begin(options())).toBeNull();
  });

  it.each([
    { segment: 'the only segment', segmentBytes: undefined, damaged: 0 },
    { segment: 'an earlier segment', segmentBytes: 64 * 1024, damaged: 1 },
  ])('reports a damaged log in $segment by wiping the database, not by trusting it', async ({ segmentBytes, damaged }) => {
    const { batches } = changelogs(12, 60);
    // A flipped byte in the middle of the log: RocksDB stops replaying there.
    const damage = (logPath: string, segment: number): void => {
      if (segment !== damaged) return;
      const file = openSync(logPath, 'r+');
      writeSync(file, Buffer.from([0xff, 0x00, 0xff]), 0, 3, Math.floor(statSync(logPath).size / 2));
      closeSync(file);
    };
    const bulk = (await BulkRestore.begin(options(), segmentBytes, { beforeReplay: damage })) as BulkRestore;
    for (const batch of batches) bulk.applyPacked(batch.store, packRecords(batch.records));
    expect(await bulk.finish()).toBeNull();
    expect(bulk.segmentsReplayed).toBe(damaged);
    expect(existsSync(join(directory.path, 'rocksdb'))).toBe(false);
    expect(existsSync(join(directory.path, 'rocksdb-restore'))).toBe(false);
  });

  it('starts over after a bulk restore a crash cut short, keeping none of its segments', async () => {
    // One segment, so that no replay of the crashed restore runs on in this process.
    const crashed = (await BulkRestore.begin(options())) as BulkRestore;
    for (const batch of changelogs(13, 40).batches) crashed.applyPacked(batch.store, packRecords(batch.records));
    await crashed.drain();
    expect(readdirSync(join(directory.path, 'rocksdb-restore')).length).toBeGreaterThan(0);
    // What TaskState does at the next start without a checkpoint: the database folder goes.
    rmSync(join(directory.path, 'rocksdb'), { recursive: true, force: true });
    const { batches, model } = changelogs(14, 30);
    const bulk = (await BulkRestore.begin(options())) as BulkRestore;
    expect(readdirSync(join(directory.path, 'rocksdb-restore'))).toEqual(['segment-0.log']);
    for (const batch of batches) bulk.applyPacked(batch.store, packRecords(batch.records));
    const task = (await bulk.finish()) as RocksDbTask;
    try {
      for (const store of STORES) expect(await contents(task, store)).toEqual(model.get(store));
    } finally {
      await task.close();
    }
  });

  it('keeps a bad packed batch as a failure for drain and finish', async () => {
    const bulk = (await BulkRestore.begin(options())) as BulkRestore;
    const packed = packRecords([{ key: Buffer.from('k'), value: Buffer.from('v') }]);
    bulk.applyPacked('counts', packed.slice(0, packed.byteLength - 1));
    await expect(bulk.drain()).rejects.toThrow(/RocksDB log failed/);
    await bulk.abort();
  });

  it('abort removes the log file it started', async () => {
    const bulk = (await BulkRestore.begin(options())) as BulkRestore;
    bulk.applyPacked('counts', packRecords([{ key: Buffer.from('k'), value: Buffer.from('v') }]));
    await bulk.abort();
    expect(existsSync(bulk.segmentPath)).toBe(false);
    expect(readdirSync(join(directory.path, 'rocksdb')).some((name) => name === 'CURRENT')).toBe(true);
  });
});

describe('RocksDB log format', () => {
  it('masks CRCs as RocksDB does', () => {
    // mask(0) is the mask delta itself; mask is a rotation plus the delta.
    expect(maskCrc(0)).toBe(0xa282ead8);
    expect(maskCrc(1)).toBe(((1 << 17) + 0xa282ead8) >>> 0);
  });

  it('encodes write batches with sequence, count and family tags', () => {
    const encoder = new WriteBatchEncoder();
    encoder.put(0, Buffer.from('a'), Buffer.from('b'));
    encoder.delete(3, Buffer.from('c'));
    encoder.put(200, Buffer.from('d'), Buffer.alloc(0));
    const batch = encoder.take(5n);
    expect([...batch]).toEqual([5, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x1, 1, 0x61, 1, 0x62, 0x4, 3, 1, 0x63, 0x5, 0xc8, 0x01, 1, 0x64, 0]);
    expect(encoder.count).toBe(0);
  });
});
