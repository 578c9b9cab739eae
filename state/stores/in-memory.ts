// The innermost in-memory store: a hash map for point reads and writes, plus a sorted key list
// for ranges. The list exists only once a range has been asked for: point-only stores (counts,
// windows purged through their index) never sort. After that, new keys wait in a pending list and
// deleted keys stay in the sorted list until the next range merges the two (sorting only the
// pending keys), so join-style workloads (a put and a range per record) pay a linear merge.
import type { ChangelogRecord, StateStoreContext } from '../../core/topology/processor.ts';
import { compareBytes, lowerBound } from './bytes.ts';
import { hashKeyOf, type HashedBytesStore } from './layers.ts';
import type { KeyValue, KeyValueBytesStore } from './types.ts';

export class InMemoryKeyValueBytesStore implements HashedBytesStore {
  readonly persistent = false;
  /**
   * Values by the latin1 form of their key (hashKeyOf). The key bytes are that string, so they
   * are made again only for ranges: point reads and writes keep one Map entry and no key object.
   */
  private readonly entries = new Map<string, Uint8Array>();
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
    return this.entries.get(hashKeyOf(key)) ?? null;
  }

  getHashed(hashKey: string, _key: Uint8Array): Uint8Array | null {
    return this.entries.get(hashKey) ?? null;
  }

  /** Keeps no reference to the key, so a caller may reuse its buffer after the put. */
  put(key: Uint8Array, value: Uint8Array | null): void {
    this.write(hashKeyOf(key), value);
  }

  putHashed(hashKey: string, _key: Uint8Array, value: Uint8Array | null): void {
    this.write(hashKey, value);
  }

  /** An expired entry is deleted like any other; only the layers above treat it differently. */
  expireHashed(hashKey: string, _key: Uint8Array): void {
    this.write(hashKey, null);
  }

  private write(hashKey: string, value: Uint8Array | null): void {
    this.assertOpen();
    if (value === null) {
      if (this.entries.delete(hashKey)) this.deletesSinceMerge++;
      return;
    }
    const sizeBefore = this.entries.size;
    this.entries.set(hashKey, value);
    if (this.entries.size === sizeBefore || !this.ordered) return;
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
      const value = this.entries.get(hashKey);
      if (value !== undefined) result.push({ key: Buffer.from(hashKey, 'latin1'), value });
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

export function inMemoryKeyValueBytesStore(name: string): KeyValueBytesStore {
  return new InMemoryKeyValueBytesStore(name);
}

export { compareBytes };
