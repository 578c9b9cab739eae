import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangelogRecord, StateStoreContext } from '../../../../core/topology/processor.ts';
import { InMemoryKeyValueBytesStore } from '../../../../state/stores/in-memory.ts';
import { formatDuration, renderRestoreProgress } from '../../../../state/stores/progress-bar.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { restoreChangelog, synchronousRestoreTarget } from '../../../../state/stores/rocksdb/restore.ts';
import type { ChangelogChunk, RestoreProgress, StateRestoreListener, TopicPartition } from '../../../../state/stores/rocksdb/restore.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';
import { seededRandom, temporaryDirectory } from './helpers.ts';

const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
let directory: ReturnType<typeof temporaryDirectory>;

beforeEach(() => {
  directory = temporaryDirectory('runnel-rocksdb-restore-');
});
afterEach(() => {
  directory.remove();
});

/** A changelog of updates and tombstones over 500 keys, in fetch-sized chunks. */
function changelog(recordCount: number, chunkSize: number): ChangelogRecord[][] {
  const random = seededRandom(7);
  const chunks: ChangelogRecord[][] = [];
  for (let offset = 0; offset < recordCount; offset += chunkSize) {
    const chunk: ChangelogRecord[] = [];
    for (let index = offset; index < Math.min(offset + chunkSize, recordCount); index++) {
      const key = Buffer.from(`key-${Math.floor(random() * 500)}`);
      chunk.push({ key, value: random() < 0.2 ? null : Buffer.from(`value-${index}`) });
    }
    chunks.push(chunk);
  }
  return chunks;
}

describe('restoreChangelog', () => {
  it('leaves the store holding the last value per key, in order across batches', async () => {
    const chunks = changelog(12_345, 1_000);
    const expected = new Map<string, string>();
    for (const record of chunks.flat()) {
      const key = Buffer.from(record.key).toString();
      if (record.value === null) expected.delete(key);
      else expected.set(key, Buffer.from(record.value).toString());
    }
    const task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames: ['table'], budget });
    try {
      const reports: RestoreProgress[] = [];
      let clockMs = 0;
      async function* source(): AsyncGenerator<readonly ChangelogRecord[]> {
        for (const chunk of chunks) {
          clockMs += 10;
          yield chunk;
        }
      }
      const final = await restoreChangelog(task.store('table'), source(), {
        total: 12_345,
        batchRecords: 700,
        progressIntervalMs: 50,
        nowMs: () => clockMs,
        onProgress: (progress) => reports.push(progress),
      });
      expect(final).toMatchObject({ restored: 12_345, total: 12_345, done: true, etaMs: 0 });
      expect(final.recordsPerSecond).toBeCloseTo(12_345 / 0.13, 0);
      const during = reports.filter((report) => !report.done);
      expect(during.length).toBeGreaterThan(1);
      expect(during.every((report, index) => index === 0 || report.restored > (during[index - 1] as RestoreProgress).restored)).toBe(true);
      const middle = during[0] as RestoreProgress;
      expect(middle.etaMs).toBeCloseTo(((12_345 - middle.restored) * 1000) / middle.recordsPerSecond, 3);
      expect(reports.at(-1)).toEqual(final);

      const actual = new Map((await task.store('table').all()).map((entry) => [Buffer.from(entry.key).toString(), Buffer.from(entry.value).toString()]));
      expect(actual).toEqual(expected);
    } finally {
      await task.close();
    }
  });

  it('rejects when a batch fails and checks its batch size', async () => {
    const failing = { applyBatch: async (): Promise<void> => Promise.reject(new Error('disk full')) };
    await expect(restoreChangelog(failing, [[{ key: Uint8Array.of(1), value: null }]])).rejects.toThrow('disk full');
    await expect(restoreChangelog(failing, [], { batchRecords: 0 })).rejects.toThrow(/batchRecords/);
  });

  it('tells a StateRestoreListener about start, every batch with its end offset, and the end', async () => {
    // Offsets with gaps, as a compacted changelog has: chunk i holds 100 records ending at offset 1000 * (i + 1) - 1.
    const chunks: ChangelogChunk[] = changelog(1_000, 100).map((records, index) => ({ records, nextOffset: BigInt(1_000 * (index + 1)) }));
    const events: string[] = [];
    const restored: RestoreProgress[] = [];
    const listener: StateRestoreListener = {
      onRestoreStart: (topicPartition: TopicPartition, storeName, startingOffset, endingOffset) => events.push(`start ${topicPartition.topic}-${topicPartition.partition} ${storeName} ${startingOffset}..${endingOffset}`),
      onBatchRestored: (_topicPartition, _storeName, batchEndOffset, numRestored, progress) => {
        events.push(`batch ${batchEndOffset} ${numRestored}`);
        restored.push(progress);
      },
      onRestoreEnd: (_topicPartition, storeName, totalRestored, progress) => events.push(`end ${storeName} ${totalRestored} next ${progress.nextOffset}`),
    };
    const applied: number[] = [];
    const target = { applyBatch: async (records: readonly unknown[]): Promise<void> => void applied.push(records.length) };
    const final = await restoreChangelog(target, chunks, { listener, batchRecords: 250, topicPartition: { topic: 'app-counts-changelog', partition: 3 }, storeName: 'counts', startingOffset: 0n, endingOffset: 10_000n });
    // Chunks are never split: batches close at the first chunk boundary at or past 250 records.
    expect(applied).toEqual([300, 300, 300, 100]);
    expect(events).toEqual(['start app-counts-changelog-3 counts 0..10000', 'batch 2999 300', 'batch 5999 300', 'batch 8999 300', 'batch 9999 100', 'end counts 1000 next 10000']);
    expect(restored.map((progress) => progress.restored)).toEqual([300, 600, 900, 1_000]);
    expect(final).toMatchObject({ restored: 1_000, total: 10_000, nextOffset: 10_000n, done: true });
  });

  it('restores an in-memory store through the same loop', async () => {
    const memory = new InMemoryKeyValueBytesStore('counts');
    memory.init({} as StateStoreContext);
    const chunks = changelog(2_000, 300);
    const final = await restoreChangelog(synchronousRestoreTarget(memory), chunks, { batchRecords: 500 });
    expect(final.restored).toBe(2_000);
    const expected = new Map<string, string>();
    for (const record of chunks.flat()) {
      if (record.value === null) expected.delete(Buffer.from(record.key).toString());
      else expected.set(Buffer.from(record.key).toString(), Buffer.from(record.value).toString());
    }
    expect(new Map(memory.range(null, null).map((entry) => [Buffer.from(entry.key).toString(), Buffer.from(entry.value).toString()]))).toEqual(expected);
  });

  it('counts offsets from the checkpoint for chunks without offsets', async () => {
    const events: bigint[] = [];
    const target = { applyBatch: async (): Promise<void> => {} };
    const final = await restoreChangelog(target, changelog(500, 100), { startingOffset: 40n, batchRecords: 200, listener: { onBatchRestored: (_tp, _store, batchEndOffset) => events.push(batchEndOffset) } });
    expect(events).toEqual([239n, 439n, 539n]);
    expect(final.nextOffset).toBe(540n);
    expect(final.total).toBeNull();
  });
});

describe('renderRestoreProgress', () => {
  const progress = (fields: Partial<RestoreProgress>): RestoreProgress => ({ restored: 0, total: null, recordsPerSecond: 0, etaMs: null, done: false, nextOffset: 0n, ...fields });

  it('draws a bar with percentage, counts, rate and ETA', () => {
    expect(renderRestoreProgress(progress({ restored: 6_172, total: 12_345, recordsPerSecond: 61_720.4, etaMs: 100_100 }), { label: 'counts 0_3', width: 10 })).toBe(
      'counts 0_3 [####......]  50.0% 6,172/12,345 records 61,720 records/s ETA 1:41',
    );
    expect(renderRestoreProgress(progress({ restored: 12_345, total: 12_345, recordsPerSecond: 500_000, etaMs: 0, done: true }), { width: 4 })).toBe('[####] 100.0% 12,345/12,345 records 500,000 records/s done');
  });

  it('leaves the bar out without a total and keeps within the bar when the count passes the total', () => {
    expect(renderRestoreProgress(progress({ restored: 42, recordsPerSecond: 10 }))).toBe('42 records 10 records/s');
    expect(renderRestoreProgress(progress({ restored: 15, total: 10, recordsPerSecond: 1, etaMs: 0 }), { width: 5 })).toBe('[#####] 100.0% 15/10 records 1 records/s ETA 0:00');
    expect(renderRestoreProgress(progress({ restored: 0, total: 0 }), { width: 2 })).toBe('[##] 100.0% 0/0 records 0 records/s');
    expect(() => renderRestoreProgress(progress({}), { width: 0 })).toThrow(/width/);
  });

  it('formats durations as m:ss and h:mm:ss, rounding up', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(1)).toBe('0:01');
    expect(formatDuration(59_001)).toBe('1:00');
    expect(formatDuration(3_600_000 + 61_000)).toBe('1:01:01');
  });
});
