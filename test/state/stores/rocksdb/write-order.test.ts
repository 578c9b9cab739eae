// The write order of RocksDB batches (key order, the last record of each key only) and the
// batches written with it: the state a batch leaves must be the state of applying its records one
// after the other, whatever the sort and the dedupe did.
import { describe, expect, it } from 'vitest';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { packedPositions } from '../../../../state/stores/rocksdb/key-value.ts';
import { packedKeys, recordKeys, writeOrder } from '../../../../state/stores/rocksdb/write-order.ts';
import { packRecords } from '../../../../state/stores/rocksdb/worker/protocol.ts';
import { entriesHex, rocksDbTaskPerTest, seededRandom } from './helpers.ts';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** What the order must be: indexes sorted by key bytewise, of each key the last index. */
function expectedOrder(keys: readonly Uint8Array[]): number[] {
  const last = new Map<string, number>();
  keys.forEach((key, index) => last.set(hex(key), index));
  return [...last.values()].sort((left, right) => Buffer.compare(keys[left] as Uint8Array, keys[right] as Uint8Array));
}

/** The store's contents after applying records one by one to what `before` holds. */
function applied(before: readonly ChangelogRecord[], records: readonly ChangelogRecord[]): string[] {
  const state = new Map<string, string>();
  for (const record of [...before, ...records]) {
    if (record.value === null) state.delete(hex(record.key));
    else state.set(hex(record.key), hex(record.value));
  }
  return [...state.entries()].sort((left, right) => Buffer.compare(Buffer.from(left[0], 'hex'), Buffer.from(right[0], 'hex'))).map(([key, value]) => `${key}=${value}`);
}

/**
 * Keys that stress the sort: lengths 0..9 (digits close inside and past four bytes), bytes from
 * an alphabet with 0x00 and 0xff (a missing byte must sort before 0x00), long shared prefixes.
 */
function trickyKey(random: () => number): Uint8Array {
  const alphabet = [0x00, 0x01, 0x7f, 0x80, 0xff];
  const length = Math.floor(random() * 10);
  const prefix = random() < 0.5 ? [0xaa, 0xbb, 0xcc, 0xdd, 0xee] : [];
  return Uint8Array.from([...prefix, ...Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)] as number)]);
}

describe('writeOrder', () => {
  it.each([1, 2, 3, 4, 5, 6])('sorts keys bytewise and keeps the last record of each key (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const keys = Array.from({ length: 3_000 }, () => trickyKey(random));
    const expected = expectedOrder(keys);
    expect(expected.length).toBeLessThan(keys.length);
    expect([...(writeOrder(recordKeys(keys.map((key) => ({ key })))) ?? [])]).toEqual(expected);
    const packed = packRecords(keys.map((key) => ({ key, value: null })));
    const view = new DataView(packed);
    expect([...(writeOrder(packedKeys(packed, view, packedPositions(packed, view, keys.length))) ?? [])]).toEqual(expected);
  });

  it('loses no record of unique random keys, and sorts them', () => {
    const random = seededRandom(9);
    const keys = Array.from({ length: 50_000 }, (_, index) => {
      const key = Buffer.alloc(16);
      key.writeUInt32BE(Math.floor(random() * 0x1_0000_0000), 0);
      key.writeUInt32BE(index, 4);
      return key;
    });
    const order = writeOrder(recordKeys(keys.map((key) => ({ key })))) as Uint32Array;
    expect(order.length).toBe(keys.length);
    expect(new Set(order).size).toBe(keys.length);
    for (let index = 1; index < order.length; index++) expect(Buffer.compare(keys[order[index - 1] as number] as Buffer, keys[order[index] as number] as Buffer)).toBeLessThan(0);
  });

  it('orders the empty key first, a key before the longer keys it begins, and keeps a lone record', () => {
    const keys = [Uint8Array.of(0, 0), Uint8Array.of(0), new Uint8Array(0), Uint8Array.of(0, 0, 0, 0), Uint8Array.of(0, 0, 0, 0, 0), Uint8Array.of(0, 0, 0)];
    expect([...(writeOrder(recordKeys(keys.map((key) => ({ key })))) ?? [])]).toEqual([2, 1, 0, 5, 3, 4]);
    expect([...(writeOrder(recordKeys([{ key: Uint8Array.of(5) }])) ?? [])]).toEqual([0]);
    expect([...(writeOrder(recordKeys([])) ?? [])]).toEqual([]);
  });
});

describe('write batches in write order', () => {
  const task = rocksDbTaskPerTest('runnel-write-order-', ['records', 'packed']);
  const key = (text: string): Uint8Array => Buffer.from(text);
  const value = (text: string): Uint8Array => Buffer.from(text);
  const before: ChangelogRecord[] = [
    { key: key('deleted-later'), value: value('old') },
    { key: key('put-after-delete'), value: value('old') },
    { key: key('kept'), value: value('old') },
  ];

  /** Writes before, then records as one batch, through applyBatch and applyPacked; both must equal the replay. */
  async function expectReplayed(records: ChangelogRecord[]): Promise<void> {
    await task.store('records').applyBatch(before);
    await task.store('packed').applyPacked(packRecords(before));
    await task.store('records').applyBatch(records);
    await task.store('packed').applyPacked(packRecords(records));
    const expected = applied(before, records);
    expect(entriesHex(await task.store('records').all())).toEqual(expected);
    expect(entriesHex(await task.store('packed').all())).toEqual(expected);
  }

  it('keeps the last value of a key written twice in one batch', async () => {
    await expectReplayed([
      { key: key('twice'), value: value('first') },
      { key: key('other'), value: value('x') },
      { key: key('twice'), value: value('second') },
      { key: key('kept'), value: value('new') },
      { key: key('kept'), value: value('newest') },
    ]);
    expect(Buffer.from((await task.store('packed').get(key('twice'))) as Uint8Array).toString()).toBe('second');
    expect(Buffer.from((await task.store('packed').get(key('kept'))) as Uint8Array).toString()).toBe('newest');
  });

  it('deletes a key put and then deleted in one batch, also one the store held before', async () => {
    await expectReplayed([
      { key: key('fresh'), value: value('put') },
      { key: key('deleted-later'), value: value('put') },
      { key: key('fresh'), value: null },
      { key: key('deleted-later'), value: null },
    ]);
    expect(await task.store('packed').get(key('fresh'))).toBeNull();
    expect(await task.store('packed').get(key('deleted-later'))).toBeNull();
  });

  it('keeps a key deleted and then put again in one batch', async () => {
    await expectReplayed([
      { key: key('put-after-delete'), value: null },
      { key: key('new-after-delete'), value: null },
      { key: key('put-after-delete'), value: value('again') },
      { key: key('new-after-delete'), value: value('again') },
    ]);
    expect(Buffer.from((await task.store('packed').get(key('put-after-delete'))) as Uint8Array).toString()).toBe('again');
    expect(Buffer.from((await task.store('packed').get(key('new-after-delete'))) as Uint8Array).toString()).toBe('again');
  });

  it.each([21, 22, 23])('leaves the state of a replay for random batches full of repeats (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const records = Array.from({ length: 4_000 }, (_, index) => ({
      key: trickyKey(random),
      value: random() < 0.3 ? null : Uint8Array.from({ length: Math.floor(random() * 40) }, () => (index * 13) & 0xff),
    }));
    await expectReplayed(records);
  });

  it('applies packed batches queued all at once (each built once the one before is handed over) in queue order', async () => {
    const random = seededRandom(31);
    const batches = Array.from({ length: 12 }, (_, batch) => Array.from({ length: 500 }, () => ({
      key: Uint8Array.of(Math.floor(random() * 64)),
      value: random() < 0.2 ? null : Uint8Array.of(batch, Math.floor(random() * 256)),
    })));
    const writes = batches.map((records) => task.store('packed').applyPacked(packRecords(records)));
    await Promise.all(writes);
    expect(entriesHex(await task.store('packed').all())).toEqual(applied([], batches.flat()));
  });

  it('never merges records of two stores: batches of the same keys queued to both at once stay apart', async () => {
    const random = seededRandom(41);
    const batchesOf = (tag: number) => Array.from({ length: 6 }, (_, batch) => Array.from({ length: 300 }, () => ({
      key: Uint8Array.of(Math.floor(random() * 32)),
      value: random() < 0.2 ? null : Uint8Array.of(tag, batch, Math.floor(random() * 256)),
    })));
    const left = batchesOf(1);
    const right = batchesOf(2);
    // Interleaved, none awaited: each store's batches are built while the other's are queued.
    const writes = left.flatMap((records, batch) => [
      task.store('packed').applyPacked(packRecords(records)),
      task.store('records').applyBatch(right[batch] as ChangelogRecord[]),
    ]);
    await Promise.all(writes);
    expect(entriesHex(await task.store('packed').all())).toEqual(applied([], left.flat()));
    expect(entriesHex(await task.store('records').all())).toEqual(applied([], right.flat()));
  });

  it('refuses a malformed packed batch when it is queued and still writes the batches around it', async () => {
    const store = task.store('packed');
    const first = store.applyPacked(packRecords([{ key: key('a'), value: value('1') }]));
    const malformed = new Uint8Array(packRecords([{ key: key('b'), value: value('2') }]).byteLength + 1);
    expect(() => store.applyPacked(malformed.buffer)).toThrow(/packed records end at/);
    const last = store.applyPacked(packRecords([{ key: key('c'), value: value('3') }]));
    await Promise.all([first, last]);
    expect(entriesHex(await store.all())).toEqual(applied([], [{ key: key('a'), value: value('1') }, { key: key('c'), value: value('3') }]));
  });
});
