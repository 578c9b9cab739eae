import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { readCheckpoint, topicPartitionKey, writeCheckpoint } from '../../../../state/checkpoint/checkpoint.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { restoreChangelog } from '../../../../state/stores/rocksdb/restore.ts';
import type { ChangelogChunk } from '../../../../state/stores/rocksdb/restore.ts';
import { StandbyUpdater } from '../../../../state/stores/rocksdb/standby.ts';
import { RocksDbWindowStore } from '../../../../state/stores/rocksdb/window.ts';
import { withSuffix } from '../../../../state/stores/bytes.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { seededRandom, temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
const topicPartition = { topic: 'app-counts-changelog', partition: 2 };
let directory: ReturnType<typeof temporaryDirectory>;

beforeEach(() => {
  directory = temporaryDirectory('runnel-rocksdb-standby-');
});
afterEach(() => {
  directory.remove();
});

/** A changelog over 300 keys with tombstones, in chunks of 50 whose offsets skip (as compaction leaves them). */
function changelogChunks(chunkCount: number): ChangelogChunk[] {
  const random = seededRandom(21);
  const chunks: ChangelogChunk[] = [];
  for (let chunk = 0; chunk < chunkCount; chunk++) {
    const records: ChangelogRecord[] = [];
    for (let index = 0; index < 50; index++) {
      records.push({ key: Buffer.from(`key-${Math.floor(random() * 300)}`), value: random() < 0.15 ? null : Buffer.from(`value-${chunk}-${index}`) });
    }
    chunks.push({ records, nextOffset: BigInt((chunk + 1) * 70) });
  }
  return chunks;
}

function expectedState(chunks: readonly ChangelogChunk[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const record of chunks.flatMap((chunk) => chunk.records)) {
    if (record.value === null) state.delete(Buffer.from(record.key).toString());
    else state.set(Buffer.from(record.key).toString(), Buffer.from(record.value).toString());
  }
  return state;
}

async function storeState(task: RocksDbTask): Promise<Map<string, string>> {
  return new Map((await task.store('counts').all()).map((entry) => [Buffer.from(entry.key).toString(), Buffer.from(entry.value).toString()]));
}

describe('StandbyUpdater', () => {
  it('follows the changelog in write batches, checkpoints only flushed offsets, and a promoted replica restores only the tail', async () => {
    const chunks = changelogChunks(40);
    const loaded: string[] = [];
    let task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['counts'], budget });
    try {
      const standby = new StandbyUpdater({
        topicPartition,
        storeName: 'counts',
        target: task.store('counts'),
        startingOffset: 0n,
        batchRecords: 120,
        onBatchLoaded: (_topicPartition, _storeName, batchEndOffset, batchSize) => loaded.push(`${batchEndOffset}:${batchSize}`),
      });
      for (const chunk of chunks.slice(0, 25)) await standby.apply(chunk);
      expect(standby.position).toBe(1_750n);
      expect(standby.lag(2_800n)).toBe(1_050n);
      // Nothing is checkpointable before a commit flushes the store.
      expect(standby.checkpointOffset().offset).toBe(0n);
      const committed = await standby.commit();
      expect(committed).toEqual({ topic: 'app-counts-changelog', partition: 2, offset: 1_750n });
      expect(standby.recordsAppliedCount).toBe(1_250);
      // Batches close at the first chunk boundary at or past 120 records: 3 chunks of 50.
      expect(loaded.slice(0, 2)).toEqual(['209:150', '419:150']);
      expect(await storeState(task)).toEqual(expectedState(chunks.slice(0, 25)));
      await writeCheckpoint(directory.path, [committed]);

      // More arrives but is never committed: the checkpoint still says 1750 after a restart.
      for (const chunk of chunks.slice(25, 30)) await standby.apply(chunk);
      await task.close();
      task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['counts'], budget });
      const checkpoint = await readCheckpoint(directory.path);
      const startingOffset = checkpoint.get(topicPartitionKey(topicPartition.topic, topicPartition.partition))?.offset ?? 0n;
      expect(startingOffset).toBe(1_750n);

      // Promotion to active: restore from the checkpoint to the end, only the tail.
      const tail = chunks.filter((chunk) => chunk.nextOffset > startingOffset);
      const final = await restoreChangelog(task.store('counts'), tail, { startingOffset, endingOffset: 2_800n });
      expect(final.restored).toBe(15 * 50);
      expect(final.nextOffset).toBe(2_800n);
      expect(await storeState(task)).toEqual(expectedState(chunks));
    } finally {
      await task.close();
    }
  });

  it('keeps a segmented window store warm, dropping expired segments at commit', async () => {
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['windows'], budget });
    try {
      const windows = new RocksDbWindowStore('windows', task.store('windows'), { retentionMs: 300, segmentIntervalMs: 100 });
      const standby = new StandbyUpdater({ topicPartition, storeName: 'windows', target: windows, startingOffset: 0n, batchRecords: 4 });
      const record = (key: string, startMs: number, value: number | null): ChangelogRecord => ({ key: withSuffix(Buffer.from(key), [startMs], 0), value: value === null ? null : Uint8Array.of(value) });
      await standby.apply({ records: [record('a', 10, 1), record('b', 120, 2), record('a', 250, 3)], nextOffset: 3n });
      await standby.apply({ records: [record('b', 120, null), record('c', 330, 4)], nextOffset: 5n });
      expect((await standby.commit()).offset).toBe(5n);
      // Stream time 330, retention 300: the oldest live start is 31, in segment 0, so a@10 stays.
      expect((await windows.all()).map((window) => `${Buffer.from(window.key).toString()}@${window.windowStartMs}`)).toEqual(['a@10', 'a@250', 'c@330']);
      await standby.apply({ records: [record('d', 560, 5)], nextOffset: 6n });
      await standby.close();
      // Stream time 560 leaves segments 2 and up live: segment 0 (a@10) is gone from disk.
      const segments = new Set((await task.store('windows').all()).map((entry) => Buffer.from(entry.key).readUInt32BE(4)));
      expect([...segments].sort()).toEqual([2, 3, 5]);
      expect(standby.checkpointOffset().offset).toBe(6n);
      await expect(standby.apply({ records: [], nextOffset: 7n })).rejects.toThrow(/closed/);
    } finally {
      await task.close();
    }
  });

  it('refuses offsets that go back, and stops at the first failed write batch without advancing the checkpoint', async () => {
    let failNext = false;
    const target = {
      applyBatch: async (): Promise<void> => {
        if (failNext) throw new Error('disk full');
      },
      flush: async (): Promise<void> => {},
    };
    const standby = new StandbyUpdater({ topicPartition, storeName: 'counts', target, startingOffset: 100n, batchRecords: 1 });
    await standby.apply({ records: [{ key: Uint8Array.of(1), value: null }], nextOffset: 101n });
    expect((await standby.commit()).offset).toBe(101n);
    await expect(standby.apply({ records: [], nextOffset: 100n })).rejects.toThrow(/before 101/);
    failNext = true;
    await standby.apply({ records: [{ key: Uint8Array.of(2), value: null }], nextOffset: 102n });
    await expect(standby.commit()).rejects.toThrow(/rebuilt/);
    expect(standby.checkpointOffset().offset).toBe(101n);
    expect(() => new StandbyUpdater({ topicPartition, storeName: 'counts', target, startingOffset: -1n })).toThrow(/negative/);
  });
});
