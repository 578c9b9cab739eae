// A synchronous KeyValueBytesStore over the asynchronous RocksDB store in the same thread. The
// streams runtime no longer uses it (its stores are DiskBackedBytesStores over the RocksDB worker,
// disk-backed.ts); it stays for running the synchronous layer stack over RocksDB in-process, which
// the property tests (RocksDB and in-memory stacks agree) and the timestamped store tests do, and
// for embedders without the worker. Before the caller processes a batch of input records it
// awaits prefetch() with the store keys that batch will touch (one RocksDB read batch for all of
// them); processing then reads those keys synchronously from this layer's cache. Writes need no
// bridge: the RocksDB store stages them synchronously. A read of a key that was not prefetched is
// a programmer error in the runtime and throws, rather than silently answering "absent".
// Ranges work the same way: prefetchRange(from, to) loads the range, and range(from, to) answers
// it with the writes made since laid over it.
import type { ChangelogRecord, StateStoreContext } from '../../../core/topology/processor.ts';
import { bytesKey } from '../bytes.ts';
import type { HashedBytesStore } from '../layers.ts';
import type { KeyValue } from '../types.ts';
import type { RocksDbKeyValueStore } from './key-value.ts';

/** Cached keys kept across commits; above this the cache is emptied at the next commit. */
const CACHED_KEYS_MAX = 100_000;

export class PrefetchedKeyValueStore implements HashedBytesStore {
  readonly persistent = true;
  /** Prefetched or written values by latin1 key; null means known absent. */
  private readonly cache = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
  private readonly ranges = new Map<string, KeyValue<Uint8Array, Uint8Array>[]>();
  private estimatedEntries = 0;
  private pendingWrite: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly inner: RocksDbKeyValueStore,
  ) {}

  init(_context: StateStoreContext): void {}

  /** Loads every key not yet cached with one batched read. */
  async prefetch(keys: readonly Uint8Array[]): Promise<void> {
    const missing = new Map<string, Uint8Array>();
    for (const key of keys) {
      const hashKey = bytesKey(key);
      if (!this.cache.has(hashKey)) missing.set(hashKey, key);
    }
    if (missing.size === 0) return;
    const missingKeys = [...missing.values()];
    const values = await this.inner.getMany(missingKeys);
    let index = 0;
    for (const [hashKey, key] of missing) {
      // A write that landed while the read was in flight is newer than what the read saw.
      if (!this.cache.has(hashKey)) this.cache.set(hashKey, { key, value: values[index] ?? null });
      index++;
    }
  }

  /** Loads [from, to] so that range(from, to) can answer synchronously until the next commit. */
  async prefetchRange(from: Uint8Array | null, to: Uint8Array | null): Promise<void> {
    this.ranges.set(rangeKey(from, to), await this.inner.range(from, to));
  }

  get(key: Uint8Array): Uint8Array | null {
    return this.getHashed(bytesKey(key), key);
  }

  /** get with the key's bytesKey form, which the layers above have made already. */
  getHashed(hashKey: string, _key: Uint8Array): Uint8Array | null {
    const cached = this.cache.get(hashKey);
    if (cached === undefined) throw new Error(`store ${this.name}: get of a key that was not prefetched`);
    return cached.value;
  }

  put(key: Uint8Array, value: Uint8Array | null): void {
    const copy = new Uint8Array(key);
    this.putHashed(bytesKey(copy), copy, value);
  }

  /** put of a key handed over with its bytesKey form; the cache and the staged batch share the bytes. */
  putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    this.inner.putHashed(hashKey, key, value);
    this.cache.set(hashKey, { key, value });
  }

  delete(key: Uint8Array): Uint8Array | null {
    const previous = this.get(key);
    if (previous !== null) this.put(key, null);
    return previous;
  }

  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    const loaded = this.ranges.get(rangeKey(from, to));
    if (loaded === undefined) throw new Error(`store ${this.name}: range that was not prefetched`);
    const fromKey = from === null ? null : bytesKey(from);
    const toKey = to === null ? null : bytesKey(to);
    const merged = new Map<string, KeyValue<Uint8Array, Uint8Array> | null>();
    for (const entry of loaded) merged.set(bytesKey(entry.key), entry);
    // The cache holds every write since the prefetch; latin1 order is byte order.
    for (const [hashKey, cached] of this.cache) {
      if ((fromKey !== null && hashKey < fromKey) || (toKey !== null && hashKey > toKey)) continue;
      if (cached.value === null) merged.set(hashKey, null);
      else merged.set(hashKey, { key: cached.key, value: cached.value });
    }
    return [...merged.entries()]
      .filter((pair): pair is [string, KeyValue<Uint8Array, Uint8Array>] => pair[1] !== null)
      .sort((left, right) => (left[0] < right[0] ? -1 : left[0] > right[0] ? 1 : 0))
      .map((pair) => pair[1]);
  }

  /** RocksDB's estimate as of the last commit. */
  approximateNumEntries(): number {
    return this.estimatedEntries;
  }

  restore(records: readonly ChangelogRecord[]): void {
    for (const record of records) this.put(record.key, record.value);
  }

  /** Starts writing the staged batch; the runtime awaits commit() before it checkpoints. */
  flush(): void {
    this.pendingWrite = this.pendingWrite.then(() => this.inner.writeStaged());
    // A failure stays in pendingWrite for commit() to throw; this branch only keeps a flush
    // nobody awaits (on close) from becoming an unhandled rejection.
    this.pendingWrite.catch(() => {});
  }

  /** Writes staged data, refreshes the estimate and drops prefetched ranges and an oversized cache. */
  async commit(): Promise<void> {
    this.flush();
    await this.pendingWrite;
    this.estimatedEntries = await this.inner.approximateNumEntries();
    this.ranges.clear();
    if (this.cache.size > CACHED_KEYS_MAX) this.cache.clear();
  }

  close(): void {
    this.flush();
  }
}

function rangeKey(from: Uint8Array | null, to: Uint8Array | null): string {
  return `${from === null ? '-' : `+${bytesKey(from)}`}\u0100${to === null ? '-' : `+${bytesKey(to)}`}`;
}
