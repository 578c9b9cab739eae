import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import { restoreChangelog } from '../../../../state/stores/rocksdb/restore.ts';
import type { RestoreProgress } from '../../../../state/stores/rocksdb/restore.ts';
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
});
