// The innermost in-memory store: a hash map for point reads and writes, plus a sorted key list
// for ranges. The list exists only once a range has been asked for: point-only stores (counts,
// windows purged through their index) never sort. After that, new keys wait in a pending list and
// deleted keys stay in the sorted list until the next range merges the two (sorting only the
// pending keys), so join-style workloads (a put and a range per record) pay a linear merge.
import type { ChangelogRecord, StateStoreContext } from '../../core/topology/processor.ts';
import { compareBytes } from './bytes.ts';
import { hashKeyOf, type HashedBytesStore } from './layers.ts';
import type { KeyValue, KeyValueBytesStore } from './types.ts';

interface Entry {
  readonly key: Uint8Array;
  value: Uint8Array;
}

export class InMemoryKeyValueBytesStore implements HashedBytesStore {
  readonly persistent = false;
  private readonly entries = new Map<string, Entry>();
  /** Whether sortedKeys and pendingKeys are kept: from the first range on. */
  private ordered = false;
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
    return this.entries.get(hashKeyOf(key))?.value ?? null;
  }

  getHashed(hashKey: string, _key: Uint8Array): Uint8Array | null {
    return this.entries.get(hashKey)?.value ?? null;
  }

  put(key: Uint8Array, value: Uint8Array | null): void {
    // Copies guard against callers reusing their buffers after the put.
    this.write(hashKeyOf(key), key, false, value);
  }

  putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    this.write(hashKey, key, true, value);
  }

  private write(hashKey: string, key: Uint8Array, keyOwned: boolean, value: Uint8Array | null): void {
    this.assertOpen();
    if (value === null) {
      if (this.entries.delete(hashKey)) this.deletesSinceMerge++;
      return;
    }
    const existing = this.entries.get(hashKey);
    if (existing !== undefined) {
      existing.value = value;
      return;
    }
    this.entries.set(hashKey, { key: keyOwned ? key : new Uint8Array(key), value });
    if (!this.ordered) return;
    this.pendingKeys.push(hashKey);
    // Stores ranged rarely still merge now and then, so the lists stay bounded.
    if (this.pendingKeys.length > 2 * this.entries.size + 1024) this.sorted();
  }

  delete(key: Uint8Array): Uint8Array | null {
    const previous = this.get(key);
    if (previous !== null) this.put(key, null);
    return previous;
  }

  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    const result: KeyValue<Uint8Array, Uint8Array>[] = [];
    const fromKey = from === null ? null : hashKeyOf(from);
    const toKey = to === null ? null : hashKeyOf(to);
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
    if (!this.ordered) {
      this.ordered = true;
      this.deletesSinceMerge = 0;
      this.sortedKeys = [...this.entries.keys()].sort();
      return this.sortedKeys;
    }
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
