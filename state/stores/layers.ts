// Byte-level layers stacked over the innermost store: change logging and caching. Each layer is
// small and does one thing; the typed stores in typed.ts sit on top and own the serdes.
import { LIMITS } from '../../core/limits.ts';
import type { ChangelogRecord, ChangelogWriter, StateStoreContext } from '../../core/topology/processor.ts';
import type { KeyValue, KeyValueBytesStore } from './types.ts';
import { hasWindowAccess, windowHashKey, windowKeyBytes, type WindowedBytesAccess } from './window-keys.ts';

const nativeSlices = Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string };

/**
 * The latin1 form of key bytes, one char per byte, so string order is unsigned byte order and
 * the string can key a Map (the same string bytesKey makes, without a Buffer view per call).
 */
export function hashKeyOf(bytes: Uint8Array): string {
  return nativeSlices.latin1Slice.call(bytes, 0, bytes.byteLength);
}

/**
 * A byte store that also takes a key together with its hashKeyOf form, so a stack of layers
 * turns the key into a string once rather than once per layer. A key passed to putHashed is
 * handed over: the caller never changes it afterwards, so no layer needs to copy it.
 */
export interface HashedBytesStore extends KeyValueBytesStore {
  getHashed(hashKey: string, key: Uint8Array): Uint8Array | null;
  putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null): void;
}

/**
 * A store that can delete an entry as retention rather than as an update: the delete reaches
 * the innermost store but not the changelog (which expires old entries by its own retention)
 * and not flush listeners.
 */
export interface ExpiringBytesStore {
  expireHashed(hashKey: string, key: Uint8Array): void;
}

/** Deletes an expired entry below every layer that would log or report it. */
export function expireBelow(store: KeyValueBytesStore, hashKey: string, key: Uint8Array): void {
  const candidate = store as Partial<ExpiringBytesStore>;
  if (typeof candidate.expireHashed === 'function') candidate.expireHashed(hashKey, key);
  else if (isHashedBytesStore(store)) store.putHashed(hashKey, key, null);
  else store.put(key, null);
}

export function isHashedBytesStore(store: KeyValueBytesStore): store is HashedBytesStore {
  const candidate = store as Partial<HashedBytesStore>;
  return typeof candidate.getHashed === 'function' && typeof candidate.putHashed === 'function';
}

/** Delegates everything; layers override what they change. */
export class WrappedBytesStore implements HashedBytesStore, WindowedBytesAccess {
  /** The inner store when it takes hashed keys, else null. */
  protected readonly hashedInner: HashedBytesStore | null;
  /** The inner store when it takes windows by record key and start, else null. */
  protected readonly windowInner: (KeyValueBytesStore & WindowedBytesAccess) | null;
  constructor(protected readonly inner: KeyValueBytesStore) {
    this.hashedInner = isHashedBytesStore(inner) ? inner : null;
    this.windowInner = hasWindowAccess(inner) ? inner : null;
  }
  get name(): string {
    return this.inner.name;
  }
  get persistent(): boolean {
    return this.inner.persistent;
  }
  init(context: StateStoreContext): void {
    this.inner.init(context);
  }
  get(key: Uint8Array): Uint8Array | null {
    return this.inner.get(key);
  }
  put(key: Uint8Array, value: Uint8Array | null): void {
    this.inner.put(key, value);
  }
  /** Goes through get and put unless a layer overrides it, so an override of those still applies. */
  getHashed(_hashKey: string, key: Uint8Array): Uint8Array | null {
    return this.get(key);
  }
  putHashed(_hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    this.put(key, value);
  }
  /** A window of a window store: through getHashed unless a layer overrides it (see window-keys.ts). */
  getWindow(recordKeyHash: string, startMs: number): Uint8Array | null {
    return this.getHashed(windowHashKey(recordKeyHash, startMs), windowKeyBytes(recordKeyHash, startMs));
  }
  putWindow(recordKeyHash: string, startMs: number, bytes: Uint8Array, value: Uint8Array | null): void {
    this.putHashed(windowHashKey(recordKeyHash, startMs), bytes, value);
  }
  delete(key: Uint8Array): Uint8Array | null {
    const previous = this.get(key);
    if (previous !== null) this.put(key, null);
    return previous;
  }
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    return this.inner.range(from, to);
  }
  approximateNumEntries(): number {
    return this.inner.approximateNumEntries();
  }
  restore(records: readonly ChangelogRecord[]): void {
    this.inner.restore(records);
  }
  flush(): void {
    this.inner.flush();
  }
  close(): void {
    this.inner.close();
  }
  /** Expiry goes to the innermost store untouched by default. */
  expireHashed(hashKey: string, key: Uint8Array): void {
    expireBelow(this.inner, hashKey, key);
  }
  /** Reads below this layer with the hashed key when the inner store takes it. */
  protected innerGet(hashKey: string, key: Uint8Array): Uint8Array | null {
    return this.hashedInner === null ? this.inner.get(key) : this.hashedInner.getHashed(hashKey, key);
  }
  /** Writes below this layer; the key is handed over (the inner store copies it when it cannot take it). */
  protected innerPut(hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    if (this.hashedInner === null) this.inner.put(key, value);
    else this.hashedInner.putHashed(hashKey, key, value);
  }
  /** Reads a window below this layer, by record key and start when the inner store takes that. */
  protected innerGetWindow(recordKeyHash: string, startMs: number): Uint8Array | null {
    if (this.windowInner !== null) return this.windowInner.getWindow(recordKeyHash, startMs);
    return this.innerGet(windowHashKey(recordKeyHash, startMs), windowKeyBytes(recordKeyHash, startMs));
  }
  /** Writes a window below this layer; bytes is its composite key, handed over. */
  protected innerPutWindow(recordKeyHash: string, startMs: number, bytes: Uint8Array, value: Uint8Array | null): void {
    if (this.windowInner !== null) this.windowInner.putWindow(recordKeyHash, startMs, bytes, value);
    else this.innerPut(windowHashKey(recordKeyHash, startMs), bytes, value);
  }
}

/** Writes every change to the changelog topic after applying it below. */
export class ChangeLoggingLayer extends WrappedBytesStore {
  private writer: ChangelogWriter | null = null;
  private topic: string | null = null;
  private partition = 0;
  private context: StateStoreContext | null = null;

  override init(context: StateStoreContext): void {
    super.init(context);
    this.writer = context.changelogWriter;
    this.topic = context.changelogTopic;
    this.partition = context.partition;
    this.context = context;
  }

  override put(key: Uint8Array, value: Uint8Array | null): void {
    this.inner.put(key, value);
    this.log(key, value);
  }

  override getHashed(hashKey: string, key: Uint8Array): Uint8Array | null {
    return this.innerGet(hashKey, key);
  }

  override putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    this.innerPut(hashKey, key, value);
    this.log(key, value);
  }

  override getWindow(recordKeyHash: string, startMs: number): Uint8Array | null {
    return this.innerGetWindow(recordKeyHash, startMs);
  }

  /** The composite key bytes go below and into the changelog record: made once, for both. */
  override putWindow(recordKeyHash: string, startMs: number, bytes: Uint8Array, value: Uint8Array | null): void {
    this.innerPutWindow(recordKeyHash, startMs, bytes, value);
    this.log(bytes, value);
  }

  private log(key: Uint8Array, value: Uint8Array | null): void {
    if (this.writer !== null && this.topic !== null && this.context !== null) this.writer.send(this.topic, this.partition, key, value, this.context.recordTimestampMs());
  }
}

interface CachedEntry {
  readonly hashKey: string;
  /** The caller's bytes for an entry only read so far; the cache's own bytes once written. */
  key: Uint8Array;
  keyOwned: boolean;
  value: Uint8Array | null;
  dirty: boolean;
  /** Timestamp of the record being processed at the last write; -1 for entries only read. */
  writtenAtMs: number;
  /**
   * The value below, when the entry was cached by a read, or undefined. Nothing writes below
   * while an entry is cached, so at flush it is the old value without reading again.
   */
  readonly below: Uint8Array | null | undefined;
  /** The typed key the layer above wrote with, reported to the flush listener; undefined if none. */
  typedKey: unknown;
}

/**
 * Told about each key a flush writes below: its new value, the value it replaced there (the value
 * of the previous flush) and the timestamp of the record whose processing wrote it last. Tables
 * forward these merged changes downstream. typedKey is what the typed layer above passed with
 * its last write (see CachingLayer.putHashed), so it need not deserialize the key again.
 */
export type BytesFlushListener = (key: Uint8Array, newValue: Uint8Array | null, oldValue: Uint8Array | null, writtenAtMs: number, typedKey?: unknown) => void;

/**
 * What every write-back cache layer does the same way: whatever reads or writes the whole store
 * below (ranges, counts, restoration, flush, close) writes the cache's dirty entries there first.
 */
export abstract class WriteBackCacheLayer extends WrappedBytesStore {
  protected context: StateStoreContext | null = null;

  /** entriesMax: entries held before a write flushes the cache. */
  constructor(inner: KeyValueBytesStore, protected readonly entriesMax: number = LIMITS.cacheEntriesMax) {
    super(inner);
  }

  override init(context: StateStoreContext): void {
    super.init(context);
    this.context = context;
  }

  /** Writes the dirty entries below, in the order they were first cached, and tells the listener. */
  abstract flushCache(): void;

  override range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    this.flushCache();
    return this.inner.range(from, to);
  }

  override approximateNumEntries(): number {
    this.flushCache();
    return this.inner.approximateNumEntries();
  }

  override restore(records: readonly ChangelogRecord[]): void {
    this.flushCache();
    this.inner.restore(records);
  }

  override flush(): void {
    this.flushCache();
    this.inner.flush();
  }

  override close(): void {
    this.flushCache();
    this.inner.close();
  }
}

/**
 * A write-back cache: writes stay here until flush (commit) or until the cache is full, so a key
 * updated many times between commits reaches the changelog once, and, with a flush listener,
 * reaches downstream processors once too (Kafka Streams' record cache). Ranges flush first, so
 * they read one consistent store below.
 */
export class CachingLayer extends WriteBackCacheLayer {
  /** Entries by hashed key, in the order they were first cached: the order of a flush. */
  private readonly cache = new Map<string, CachedEntry>();
  /**
   * The entry getHashed, peekHashed, readUncached or a write found or made last, while the map
   * holds it: a typed store's read-modify-write (peek or read, then updateCached of the same key)
   * looks the key up once, not twice. Reset or replaced whenever entries leave the map.
   */
  private lastEntry: CachedEntry | null = null;
  private flushListener: BytesFlushListener | null = null;

  setFlushListener(listener: BytesFlushListener): void {
    this.flushListener = listener;
  }

  override get(key: Uint8Array): Uint8Array | null {
    return this.getHashed(hashKeyOf(key), key);
  }

  override getHashed(hashKey: string, key: Uint8Array): Uint8Array | null {
    const cached = this.cache.get(hashKey);
    if (cached === undefined) return this.readUncached(hashKey, key, false);
    this.lastEntry = cached;
    return cached.value;
  }

  /**
   * getHashed for a key the caller has just found uncached (peekHashed gave undefined): reads
   * below and caches what it read, without looking the key up again. keyOwned hands the key
   * bytes over (the caller never changes them), so a write that follows can go through
   * updateCached.
   */
  readUncached(hashKey: string, key: Uint8Array, keyOwned: boolean): Uint8Array | null {
    const value = this.innerGet(hashKey, key);
    if (this.cache.size >= this.entriesMax) this.flushCache();
    const entry: CachedEntry = { hashKey, key, keyOwned, value, dirty: false, writtenAtMs: -1, below: value, typedKey: undefined };
    this.cache.set(hashKey, entry);
    this.lastEntry = entry;
    return value;
  }

  override put(key: Uint8Array, value: Uint8Array | null): void {
    this.write(hashKeyOf(key), key, false, value, undefined, false);
  }

  /**
   * The cached value of a hashed key, or undefined when the key is not cached. With peekHashed
   * and updateCached a typed layer that can hash a key without serializing it (ASCII strings)
   * builds key bytes only when the key is not cached.
   */
  peekHashed(hashKey: string): Uint8Array | null | undefined {
    const entry = this.cache.get(hashKey);
    if (entry === undefined) return undefined;
    this.lastEntry = entry;
    return entry.value;
  }

  /**
   * Writes to a cached entry whose key bytes the cache owns; false (and nothing written)
   * otherwise. With onlyIfPresent, also false when the cached value is a delete.
   */
  updateCached(hashKey: string, value: Uint8Array | null, typedKey?: unknown, onlyIfPresent = false): boolean {
    const last = this.lastEntry;
    const existing = last !== null && last.hashKey === hashKey ? last : this.cache.get(hashKey);
    if (existing === undefined || !existing.keyOwned || (onlyIfPresent && existing.value === null)) return false;
    existing.value = value;
    existing.dirty = true;
    existing.writtenAtMs = this.context === null ? -1 : this.context.recordTimestampMs();
    existing.typedKey = typedKey;
    return true;
  }

  /**
   * Takes the key over; typedKey, when given, is the key before serialization, for the flush
   * listener. absentBelow says the caller knows the key has no value below (a window store's
   * index does), so a flush need not read the old value there.
   */
  override putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null, typedKey?: unknown, absentBelow = false): void {
    this.write(hashKey, key, true, value, typedKey, absentBelow);
  }

  /**
   * Forgets the key's cached entry and deletes it below, without logging: for deletes that are
   * retention, not updates (expired windows), which flush listeners are not told about.
   */
  override expireHashed(hashKey: string, key: Uint8Array): void {
    if (this.cache.size > 0 && this.cache.delete(hashKey)) this.lastEntry = null;
    super.expireHashed(hashKey, key);
  }

  private write(hashKey: string, key: Uint8Array, keyOwned: boolean, value: Uint8Array | null, typedKey: unknown, absentBelow: boolean): void {
    const writtenAtMs = this.context === null ? -1 : this.context.recordTimestampMs();
    const last = this.lastEntry;
    const existing = last !== null && last.hashKey === hashKey ? last : this.cache.get(hashKey);
    if (existing !== undefined) {
      existing.value = value;
      existing.dirty = true;
      existing.writtenAtMs = writtenAtMs;
      existing.typedKey = typedKey;
      if (!existing.keyOwned) {
        // The bytes a read passed in are the caller's; a write needs bytes nobody else changes.
        existing.key = keyOwned ? key : new Uint8Array(key);
        existing.keyOwned = true;
      }
      return;
    }
    if (this.cache.size >= this.entriesMax) this.flushCache();
    const entry: CachedEntry = { hashKey, key: keyOwned ? key : new Uint8Array(key), keyOwned: true, value, dirty: true, writtenAtMs, below: absentBelow ? null : undefined, typedKey };
    // A flush listener may have read and cached this key during flushCache: the entry it made
    // leaves the map now, so it must not stay lastEntry.
    this.cache.set(hashKey, entry);
    this.lastEntry = entry;
  }

  /**
   * Writes dirty entries below in the order they were first cached, then tells the listener.
   * The cache is emptied before anything is written or told, so a listener whose downstream
   * reads this store (a join's value getter) reads the flushed values and cannot re-enter an
   * iteration in progress.
   */
  flushCache(): void {
    if (this.cache.size === 0) return;
    const dirty: CachedEntry[] = [];
    for (const entry of this.cache.values()) if (entry.dirty) dirty.push(entry);
    this.cache.clear();
    this.lastEntry = null;
    const listener = this.flushListener;
    if (listener === null) {
      for (const entry of dirty) this.innerPut(entry.hashKey, entry.key, entry.value);
      return;
    }
    const replaced: (Uint8Array | null)[] = new Array<Uint8Array | null>(dirty.length);
    for (let index = 0; index < dirty.length; index++) {
      const entry = dirty[index] as CachedEntry;
      replaced[index] = entry.below === undefined ? this.innerGet(entry.hashKey, entry.key) : entry.below;
      this.innerPut(entry.hashKey, entry.key, entry.value);
    }
    for (let index = 0; index < dirty.length; index++) {
      const entry = dirty[index] as CachedEntry;
      const oldValue = replaced[index] ?? null;
      if (entry.value !== null || oldValue !== null) listener(entry.key, entry.value, oldValue, entry.writtenAtMs, entry.typedKey);
    }
  }
}
