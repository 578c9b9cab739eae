// Shared pieces of the RocksDB store tests: temporary task directories and a seeded generator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function temporaryDirectory(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Mulberry32: small, seeded, good enough to drive random operations reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function entriesHex(entries: readonly { key: Uint8Array; value: Uint8Array }[]): string[] {
  return entries.map((entry) => `${hex(entry.key)}=${hex(entry.value)}`);
}

export function hexOrNull(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : hex(bytes);
}
