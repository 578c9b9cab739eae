// The innermost in-memory store: a hash map for point reads and writes, plus a sorted key list
// for ranges. New keys wait in a pending list and deleted keys stay in the sorted list until the
// next range merges the two (sorting only the pending keys), so point-only workloads never sort
// and join-style workloads (a put and a range per record) pay a linear merge, not a full sort.
import type { ChangelogRecord, StateStoreContext } from '../../core/topology/processor.ts';
import { bytesKey, compareBytes } from './bytes.ts';
import type { KeyValue, KeyValueBytesStore } from './types.ts';

interface Entry {
  readonly key: Uint8Array;
  value: Uint8Array;
}

export class InMemoryKeyValueBytesStore implements KeyValueBytesStore {
  readonly persistent = false;
  private readonly entries = new Map<string, Entry>();
  /** Keys in byte order as of the last merge; may hold deleted keys, which ranges skip. */
  private sortedKeys: string[] = [];
  /** Keys added since the last merge, unsorted. */
  private pendingKeys: string[] = [];
  private deletesSinceMerge = 0;
  private open = false;

  constructor(readonly name: string) {}

  init(_context: StateStoreContext): void {
    this.open = true;
  }

  get(key: Uint8Array): Uint8Array | null {
    return this.entries.get(bytesKey(key))?.value ?? null;
  }

  put(key: Uint8Array, value: Uint8Array | null): void {
    this.assertOpen();
    const hashKey = bytesKey(key);
    if (value === null) {
      if (this.entries.delete(hashKey)) this.deletesSinceMerge++;
      return;
    }
    const existing = this.entries.get(hashKey);
    if (existing !== undefined) {
      existing.value = value;
      return;
    }
    // Copies guard against callers reusing their buffers after the put.
    this.entries.set(hashKey, { key: new Uint8Array(key), value });
    this.pendingKeys.push(hashKey);
    // Stores that are never ranged still merge now and then, so the lists stay bounded.
    if (this.pendingKeys.length > 2 * this.entries.size + 1024) this.sorted();
  }

  delete(key: Uint8Array): Uint8Array | null {
    const previous = this.get(key);
    if (previous !== null) this.put(key, null);
    return previous;
  }

  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    const result: KeyValue<Uint8Array, Uint8Array>[] = [];
    const fromKey = from === null ? null : bytesKey(from);
    const toKey = to === null ? null : bytesKey(to);
    const keys = this.sorted();
    let index = fromKey === null ? 0 : lowerBound(keys, fromKey);
    for (; index < keys.length; index++) {
      const hashKey = keys[index] as string;
      if (toKey !== null && hashKey > toKey) break;
      const entry = this.entries.get(hashKey);
      if (entry !== undefined) result.push({ key: entry.key, value: entry.value });
    }
    return result;
  }

  approximateNumEntries(): number {
    return this.entries.size;
  }

  restore(records: readonly ChangelogRecord[]): void {
    for (const record of records) this.put(record.key, record.value);
  }

  flush(): void {}

  close(): void {
    this.open = false;
  }

  private sorted(): string[] {
    if (this.pendingKeys.length === 0 && this.deletesSinceMerge === 0) return this.sortedKeys;
    const pending = this.pendingKeys.sort();
    const merged: string[] = [];
    let left = 0;
    let right = 0;
    while (left < this.sortedKeys.length || right < pending.length) {
      const fromLeft = right >= pending.length || (left < this.sortedKeys.length && (this.sortedKeys[left] as string) <= (pending[right] as string));
      const key = (fromLeft ? this.sortedKeys[left++] : pending[right++]) as string;
      if (merged[merged.length - 1] !== key && this.entries.has(key)) merged.push(key);
    }
    this.sortedKeys = merged;
    this.pendingKeys = [];
    this.deletesSinceMerge = 0;
    return merged;
  }

  private assertOpen(): void {
    if (!this.open) throw new Error(`store ${this.name} is not open`);
  }
}

function lowerBound(keys: readonly string[], target: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((keys[middle] as string) < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function inMemoryKeyValueBytesStore(name: string): KeyValueBytesStore {
  return new InMemoryKeyValueBytesStore(name);
}

export { compareBytes };
