// Shared pieces of the RocksDB store tests: temporary task directories and a seeded generator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function temporaryDirectory(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
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
