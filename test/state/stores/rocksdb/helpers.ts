// Shared pieces of the RocksDB store tests: temporary task directories and a seeded generator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { RocksDbMemoryBudget } from '../../../../state/stores/rocksdb/budget.ts';
import type { RocksDbKeyValueStore } from '../../../../state/stores/rocksdb/key-value.ts';
import { RocksDbTask } from '../../../../state/stores/rocksdb/task.ts';

export function temporaryDirectory(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A RocksDB task over storeNames, opened in a fresh directory before each test and closed and
 * removed after it; reopen closes it and opens it again over the same directory.
 */
export function rocksDbTaskPerTest(prefix: string, storeNames: string[]): { store(name: string): RocksDbKeyValueStore; reopen(): Promise<void> } {
  const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 64 * 1024 * 1024, columnFamiliesMax: 8 });
  let directory: ReturnType<typeof temporaryDirectory>;
  let task: RocksDbTask;
  const open = async (): Promise<void> => {
    task = await RocksDbTask.open({ taskDirectory: directory.path, storeNames, budget });
  };
  beforeEach(async () => {
    directory = temporaryDirectory(prefix);
    await open();
  });
  afterEach(async () => {
    await task.close();
    directory.remove();
  });
  return {
    store: (name) => task.store(name),
    reopen: async () => {
      await task.close();
      await open();
    },
  };
}

export { seededRandom } from '../../../helpers/random.ts';

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function entriesHex(entries: readonly { key: Uint8Array; value: Uint8Array }[]): string[] {
  return entries.map((entry) => `${hex(entry.key)}=${hex(entry.value)}`);
}

export function hexOrNull(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : hex(bytes);
}
