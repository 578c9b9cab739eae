import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StateStoreContext } from '../../../../core/topology/processor.ts';
import { InMemoryKeyValueBytesStore } from '../../../../state/stores/in-memory.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { prefixUpperBound } from '../../../../state/stores/rocksdb/key-value.ts';
import { ROCKSDB_LIMITS } from '../../../../state/stores/rocksdb/limits.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { packRecords, RecordPacker } from '../../../../state/stores/rocksdb/worker/protocol.ts';
import { entriesHex, hexOrNull, seededRandom, temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
let directory: ReturnType<typeof temporaryDirectory>;

beforeEach(() => {
  directory = temporaryDirectory('runnel-rocksdb-kv-');
});
afterEach(() => {
  directory.remove();
});

function randomKey(random: () => number): Uint8Array {
  // A tiny alphabet with 0x00 and 0xff and lengths 0..3 makes shared prefixes, the empty key and
  // prefixes without an upper bound common.
  const alphabet = [0x00, 0x01, 0x7f, 0xff];
  const length = Math.floor(random() * 4);
  return Uint8Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)] as number);
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  return key.byteLength >= prefix.byteLength && prefix.every((byte, index) => key[index] === byte);
}

describe('RocksDbKeyValueStore against the in-memory store', () => {
  it.each([1, 2, 3, 4, 5])('agrees on random operations (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['counts'], budget });
    const rocks = task.store('counts');
    const memory = new InMemoryKeyValueBytesStore('counts');
    memory.init({} as StateStoreContext);
    try {
      for (let step = 0; step < 400; step++) {
        const choice = random();
        const key = randomKey(random);
        if (choice < 0.4) {
          const value = Uint8Array.of(Math.floor(random() * 256), step & 0xff);
          rocks.put(key, value);
          memory.put(key, value);
        } else if (choice < 0.55) {
          expect(hexOrNull(await rocks.delete(key))).toEqual(hexOrNull(memory.delete(key)));
        } else if (choice < 0.6) {
          const entries = [{ key, value: Uint8Array.of(1) }, { key: randomKey(random), value: null }];
          rocks.putAll(entries);
          for (const entry of entries) memory.put(entry.key, entry.value);
        } else if (choice < 0.65) {
          const value = Uint8Array.of(2, step & 0xff);
          expect(hexOrNull(await rocks.putIfAbsent(key, value))).toEqual(hexOrNull(memory.get(key)));
          if (memory.get(key) === null) memory.put(key, value);
        } else if (choice < 0.7) {
          await rocks.writeStaged();
        } else if (choice < 0.8) {
          const other = randomKey(random);
          expect((await rocks.getMany([key, other])).map(hexOrNull)).toEqual([memory.get(key), memory.get(other)].map(hexOrNull));
        } else {
          const from = random() < 0.2 ? null : randomKey(random);
          const to = random() < 0.2 ? null : randomKey(random);
          const expected = entriesHex(memory.range(from, to));
          expect(entriesHex(await rocks.range(from, to))).toEqual(expected);
          expect(entriesHex(await rocks.range(from, to, { reverse: true }))).toEqual([...expected].reverse());
          const prefix = randomKey(random).subarray(0, 2);
          const prefixed = memory.range(null, null).filter((entry) => startsWith(entry.key, prefix));
          expect(entriesHex(await rocks.prefixScan(prefix))).toEqual(entriesHex(prefixed));
          expect(entriesHex(await rocks.prefixScan(prefix, { reverse: true }))).toEqual(entriesHex(prefixed).reverse());
        }
      }
      expect(entriesHex(await rocks.all())).toEqual(entriesHex(memory.range(null, null)));
    } finally {
      await task.close();
    }
  });

  it('keeps data across close and reopen, leaving no write-ahead log to replay', async () => {
    const first = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['a', 'b'], budget });
    first.store('a').put(Uint8Array.of(1), Uint8Array.of(10));
    first.store('a').put(Uint8Array.of(2), Uint8Array.of(20));
    first.store('b').put(Uint8Array.of(1), Uint8Array.of(99));
    first.store('a').put(Uint8Array.of(2), null);
    await first.close();
    expect(budget.inUse).toBe(0);
    // Close flushed every memtable, so the live write-ahead logs are empty and reopening replays nothing.
    const walFiles = readdirSync(join(directory.path, 'rocksdb')).filter((name) => name.endsWith('.log'));
    expect(walFiles.length).toBeGreaterThan(0);
    expect(walFiles.map((name) => statSync(join(directory.path, 'rocksdb', name)).size)).toEqual(walFiles.map(() => 0));

    // Reopening with only one store still opens the other column family, from the manifest.
    const second = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['a'], budget });
    try {
      expect(entriesHex(await second.store('a').all())).toEqual(['01=0a']);
      expect(entriesHex(await second.store('b').all())).toEqual(['01=63']);
      // RocksDB's estimate subtracts deletes, so it is checked on the store that has none.
      expect(await second.store('b').approximateNumEntries()).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('writes staged batches early once they pass the limit, and reads see writes in flight', async () => {
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['big'], budget });
    const store = task.store('big');
    try {
      const count = ROCKSDB_LIMITS.stagedWritesMax * 2 + 5;
      for (let index = 0; index < count; index++) store.put(Buffer.from(`key-${String(index).padStart(6, '0')}`), Buffer.from(`v${index}`));
      expect(store.stagedCount).toBe(5);
      expect(Buffer.from((await store.get(Buffer.from('key-000000'))) ?? []).toString()).toBe('v0');
      const values = await store.getMany([Buffer.from('key-000003'), Buffer.from('nope'), Buffer.from(`key-${String(count - 1).padStart(6, '0')}`)]);
      expect(values.map((value) => (value === null ? null : Buffer.from(value).toString()))).toEqual(['v3', null, `v${count - 1}`]);
      expect((await store.all()).length).toBe(count);
    } finally {
      await task.close();
    }
  });

  it('refuses use after close and stores beyond the budget', async () => {
    const small = new RocksDbMemoryBudget({ writeBufferBytesTotal: 8 * 1024 * 1024, columnFamiliesMax: 2 });
    await expect(RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['a', 'b', 'c'], budget: small })).rejects.toThrow(/allows 2 column families/);
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['a'], budget: small });
    await task.close();
    expect(() => task.store('a').put(Uint8Array.of(1), Uint8Array.of(1))).toThrow(/closed/);
    expect(() => new RocksDbMemoryBudget({ writeBufferBytesTotal: 1024 * 1024, columnFamiliesMax: 8 })).toThrow(/below/);
  });

  it('computes prefix upper bounds', () => {
    expect(prefixUpperBound(Uint8Array.of(1, 0xff))).toEqual(Uint8Array.of(2));
    expect(prefixUpperBound(Uint8Array.of(0xff, 0xff))).toBeNull();
    expect(prefixUpperBound(new Uint8Array(0))).toBeNull();
  });
});

describe('RocksDbKeyValueStore.applyPacked', () => {
  it('applies a packed batch as applyBatch applies the same records: later writes of a key win, null deletes', async () => {
    const random = seededRandom(7);
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['records', 'packed'], budget });
    try {
      // Keys of 0..3 bytes from a small alphabet repeat often, so order within a key matters;
      // some start with bytes past the sort offset's reach and the empty key appears.
      const records = Array.from({ length: 5_000 }, (_, index) => ({
        key: randomKey(random),
        value: random() < 0.2 ? null : Uint8Array.from({ length: Math.floor(random() * 120) }, () => index & 0xff),
      }));
      const earlier = [{ key: Uint8Array.of(0x01), value: Uint8Array.of(9) }, { key: Uint8Array.of(0xff, 0x00), value: Uint8Array.of(8) }];
      await task.store('records').applyBatch(earlier);
      await task.store('packed').applyBatch(earlier);
      await task.store('records').applyBatch(records);
      await task.store('packed').applyPacked(packRecords(records));
      const expected = entriesHex(await task.store('records').all());
      expect(expected.length).toBeGreaterThan(10);
      expect(entriesHex(await task.store('packed').all())).toEqual(expected);
    } finally {
      await task.close();
    }
  });

  it('packs records one at a time into the bytes packRecords makes of them all, across growth and batches', () => {
    const random = seededRandom(11);
    // Starts small, so the buffer grows; keys and values on both sides of the copy-loop bound.
    const packer = new RecordPacker(16);
    for (const length of [300, 1, 0]) {
      const records = Array.from({ length }, (_, index) => ({
        key: Uint8Array.from({ length: Math.floor(random() * 100) }, () => index & 0xff),
        value: random() < 0.2 ? null : Uint8Array.from({ length: Math.floor(random() * 150) }, () => (index * 7) & 0xff),
      }));
      for (const record of records) packer.add(record.key, record.value);
      expect(packer.count).toBe(length);
      expect(Buffer.from(packer.take())).toEqual(Buffer.from(packRecords(records)));
      expect(packer.count).toBe(0);
    }
  });

  it('refuses a buffer whose records do not end where it ends', async () => {
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['packed'], budget });
    try {
      const packed = packRecords([{ key: Uint8Array.of(1), value: Uint8Array.of(2) }]);
      const longer = new Uint8Array(packed.byteLength + 1);
      longer.set(new Uint8Array(packed));
      expect(() => task.store('packed').applyPacked(longer.buffer)).toThrow(/packed records end at/);
    } finally {
      await task.close();
    }
  });
});
