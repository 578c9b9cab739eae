// The outer, typed layer of every store: serdes plus counters. Window and session stores are
// key-value byte stores underneath, with Kafka Streams' composite key layouts:
//   window:  key | windowStart (8 bytes) | sequence (4 bytes)
//   session: key | sessionEnd (8 bytes) | sessionStart (8 bytes)
// so caching and change logging exist once, for all three kinds of store. A window store's cache
// (window-cache.ts) and the layers below it also take a window as its record key's hashed form
// and its start (window-keys.ts), which the typed window store uses when its cache is one.
import { encodeUtf8Padded, Serdes, type Serde } from '../../core/serdes/serde.ts';
import type { ChangelogRecord, StateStoreContext } from '../../core/topology/processor.ts';
import type { Windowed } from '../../core/topology/windows.ts';
import { bytesEqual, prefixUpperBound, readUint32, startsWith, suffixNumber, withSuffix, withoutSuffix } from './bytes.ts';
import { CachingLayer, expireBelow, hashKeyOf, isHashedBytesStore, type HashedBytesStore } from './layers.ts';
import type { FlushListener, KeyValue, KeyValueBytesStore, KeyValueStore, SessionStore, StoreMetrics, WindowEntry, WindowStore } from './types.ts';
import { WindowCachingLayer } from './window-cache.ts';
import { WINDOW_SUFFIX_BYTES, windowHashKey, windowKeyBytes, windowSuffixHash, writeWindowSuffix } from './window-keys.ts';

/** Serialized key bytes with their hashed form; owned when no one else holds the bytes. */
interface EncodedKey {
  readonly bytes: Uint8Array;
  readonly hashKey: string;
}

const stringSerde = Serdes.string();
const bytesSerde = Serdes.bytes();

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}

/**
 * The hashed key without serializing, for ASCII strings through the string serde: their UTF-8
 * bytes read as latin1 are the string itself. Null for every other key.
 */
function keyAsHash(keySerde: Serde<unknown>, key: unknown): string | null {
  return typeof key === 'string' && keySerde === stringSerde && isAscii(key) ? key : null;
}

function isPrimitive(value: unknown): boolean {
  return typeof value !== 'object' && typeof value !== 'function';
}

/**
 * The key to hand the cache with a write, so its flush listener can skip deserializing: only
 * strings through the string serde, whose bytes decode back to the same string (a string with
 * a lone surrogate does not, so it goes the long way).
 */
function typedKeyFor(keySerde: Serde<unknown>, key: unknown): unknown {
  return keySerde === stringSerde && typeof key === 'string' && (key as unknown as { isWellFormed(): boolean }).isWellFormed() ? key : undefined;
}

abstract class MeteredStore {
  readonly metrics: StoreMetrics = { puts: 0, gets: 0, deletes: 0, ranges: 0 };
  /** The inner store when it takes hashed keys, else null. */
  protected readonly hashed: HashedBytesStore | null;
  /** The inner store when it is a cache, else null. */
  protected readonly cache: CachingLayer | null;
  constructor(protected readonly inner: KeyValueBytesStore) {
    this.hashed = isHashedBytesStore(inner) ? inner : null;
    this.cache = inner instanceof CachingLayer ? inner : null;
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
  restore(records: readonly ChangelogRecord[]): void {
    this.inner.restore(records);
    for (const record of records) this.restored(record);
  }
  /** Lets window and session stores learn stream time (and stored windows) from restored records. */
  protected restored(_record: ChangelogRecord): void {}
  flush(): void {
    this.inner.flush();
  }
  close(): void {
    this.inner.close();
  }
  protected getBytes(hashKey: string, bytes: Uint8Array): Uint8Array | null {
    return this.hashed === null ? this.inner.get(bytes) : this.hashed.getHashed(hashKey, bytes);
  }
  /** Writes below; the key bytes are handed over and never changed afterwards. */
  protected putBytes(hashKey: string, bytes: Uint8Array, value: Uint8Array | null, typedKey: unknown, absentBelow = false): void {
    if (this.cache !== null) this.cache.putHashed(hashKey, bytes, value, typedKey, absentBelow);
    else if (this.hashed !== null) this.hashed.putHashed(hashKey, bytes, value);
    else this.inner.put(bytes, value);
  }
}

export class MeteredKeyValueStore<K, V> extends MeteredStore implements KeyValueStore<K, V> {
  /** The last primitive key encoded: a read-modify-write encodes the same key twice. */
  private lastKey: { readonly key: K; readonly encoded: EncodedKey } | null = null;
  /** Whether serialized keys are new bytes: the bytes serde hands back the caller's own array. */
  private readonly keysOwned: boolean;

  constructor(inner: KeyValueBytesStore, private readonly keySerde: Serde<K>, private readonly valueSerde: Serde<V>) {
    super(inner);
    this.keysOwned = (keySerde as Serde<unknown>) !== bytesSerde;
  }
  /**
   * Asks the caching layer to report what each flush writes, with typed keys and values.
   * Returns false when the store has no cache, and the caller must forward updates itself.
   */
  setFlushListener(listener: FlushListener<K, V>): boolean {
    if (this.cache === null) return false;
    const deserialize = (bytes: Uint8Array | null): V | null => (bytes === null ? null : this.valueSerde.deserialize(bytes, this.name));
    this.cache.setFlushListener((key, newValue, oldValue, writtenAtMs, typedKey) => {
      listener(typedKey === undefined ? this.keySerde.deserialize(key, this.name) : (typedKey as K), deserialize(newValue), deserialize(oldValue), writtenAtMs);
    });
    return true;
  }
  get(key: K): V | null {
    this.metrics.gets++;
    const hashKey = this.cache === null ? null : keyAsHash(this.keySerde as Serde<unknown>, key);
    let bytes: Uint8Array | null;
    if (hashKey === null) {
      bytes = this.readEncoded(key);
    } else {
      const cached = (this.cache as CachingLayer).peekHashed(hashKey);
      // Not cached: read below with the key handed to the cache, which a put then updates in place.
      bytes = cached !== undefined ? cached : this.readUncached(key);
    }
    return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
  }
  put(key: K, value: V | null): void {
    this.metrics.puts++;
    const bytes = value === null ? null : this.valueSerde.serialize(value, this.name);
    const hashKey = this.cache === null ? null : keyAsHash(this.keySerde as Serde<unknown>, key);
    if (hashKey !== null && this.cache?.updateCached(hashKey, bytes, key) === true) return;
    this.write(key, bytes);
  }
  private readUncached(key: K): Uint8Array | null {
    const encoded = this.encode(key);
    return (this.cache as CachingLayer).readUncached(encoded.hashKey, encoded.bytes, this.keysOwned);
  }
  private readEncoded(key: K): Uint8Array | null {
    const encoded = this.encode(key);
    return this.getBytes(encoded.hashKey, encoded.bytes);
  }
  putIfAbsent(key: K, value: V): V | null {
    const existing = this.get(key);
    if (existing === null) this.put(key, value);
    return existing;
  }
  delete(key: K): V | null {
    this.metrics.deletes++;
    const encoded = this.encode(key);
    const bytes = this.getBytes(encoded.hashKey, encoded.bytes);
    if (bytes === null) return null;
    this.write(key, null);
    return this.valueSerde.deserialize(bytes, this.name);
  }
  range(from: K | null, to: K | null): KeyValue<K, V>[] {
    this.metrics.ranges++;
    const fromBytes = from === null ? null : this.keySerde.serialize(from, this.name);
    const toBytes = to === null ? null : this.keySerde.serialize(to, this.name);
    return this.inner.range(fromBytes, toBytes).map((entry) => ({
      key: this.keySerde.deserialize(entry.key, this.name),
      value: this.valueSerde.deserialize(entry.value, this.name),
    }));
  }
  all(): KeyValue<K, V>[] {
    return this.range(null, null);
  }
  /** The range [from, to], largest key first. */
  reverseRange(from: K | null, to: K | null): KeyValue<K, V>[] {
    return this.range(from, to).reverse();
  }
  /**
   * Entries whose serialized key starts with the serialized prefix, in key order (Kafka Streams'
   * prefixScan(prefix, prefixKeySerializer)); reads the range [prefix, prefixUpperBound] below.
   */
  prefixScan<P>(prefix: P, prefixSerde: Serde<P>): KeyValue<K, V>[] {
    this.metrics.ranges++;
    const prefixBytes = prefixSerde.serialize(prefix, this.name);
    const result: KeyValue<K, V>[] = [];
    for (const entry of this.inner.range(prefixBytes, prefixUpperBound(prefixBytes))) {
      if (!startsWith(entry.key, prefixBytes)) continue;
      result.push({ key: this.keySerde.deserialize(entry.key, this.name), value: this.valueSerde.deserialize(entry.value, this.name) });
    }
    return result;
  }
  /** Stores each entry in order, as consecutive puts would (null deletes). */
  putAll(entries: readonly KeyValue<K, V | null>[]): void {
    for (const entry of entries) this.put(entry.key, entry.value);
  }
  approximateNumEntries(): number {
    return this.inner.approximateNumEntries();
  }
  private write(key: K, value: Uint8Array | null): void {
    const encoded = this.encode(key);
    const bytes = this.keysOwned ? encoded.bytes : new Uint8Array(encoded.bytes);
    this.putBytes(encoded.hashKey, bytes, value, typedKeyFor(this.keySerde as Serde<unknown>, key));
  }
  /** Primitive keys are remembered by value (Object.is: 0 and -0 serialize apart), so the same key is serialized once in a row. */
  private encode(key: K): EncodedKey {
    const last = this.lastKey;
    if (last !== null && Object.is(last.key, key)) return last.encoded;
    const bytes = this.keySerde.serialize(key, this.name);
    // An ASCII string's UTF-8 bytes read as latin1 are the string itself: no second string.
    const ascii = typeof key === 'string' && (this.keySerde as Serde<unknown>) === stringSerde && bytes.byteLength === key.length;
    const encoded = { bytes, hashKey: ascii ? (key as string) : hashKeyOf(bytes) };
    if (isPrimitive(key)) this.lastKey = { key, encoded };
    return encoded;
  }
}

/** No key yet: equal to no key a caller passes. */
const NO_KEY = Symbol('no key');

interface CompositeKey<K> extends EncodedKey {
  readonly key: K;
  readonly windowStartMs: number;
}

function suffixSequence(key: Uint8Array): number {
  return readUint32(key, key.byteLength - 4);
}
const SESSION_SUFFIX_BYTES = 16;
const MAX_TIME = Number.MAX_SAFE_INTEGER;

/**
 * Windows older than the retention period (measured from the latest window start put) are
 * invisible at once and deleted from the bytes below at the next flush (commit), after the cache
 * has flushed, so the last update of a window still goes downstream. The store remembers which
 * keys it holds per window start, so expiry deletes them without scanning the store.
 */
export class MeteredWindowStore<K, V> extends MeteredStore implements WindowStore<K, V> {
  private observedStreamTimeMs = -1;
  /** Smallest window start that may still be stored below; purges run only when it expires. */
  private oldestStartMs = Number.MAX_SAFE_INTEGER;
  private sequence = 0;
  /** The last composite key built: an aggregation fetches then puts the same window. */
  private lastComposite: CompositeKey<K> | null = null;
  /**
   * The last hash compositeHash made and what it was made of (an aggregation fetches then puts
   * the same window), kept in fields rather than an object per window.
   */
  private lastHashOf: string | null = null;
  private lastHashStartMs = Number.NaN;
  private lastHash = '';
  /**
   * Stored composite keys by time slot (a sixteenth of the retention period, so stores whose
   * windows start at every millisecond, like join buffers, keep a few maps rather than one per
   * start) and hashed key.
   */
  private readonly windowKeys = new Map<number, Map<string, Uint8Array>>();
  private readonly slotMs: number;
  /**
   * False while the store below may hold windows this instance has not seen (a persistent store
   * opened on existing data); the first purge then learns them with one scan.
   */
  private windowKeysComplete: boolean;
  /**
   * The cache when it holds windows by start and record key (WindowCachingLayer), else null: then
   * fetch and put pass a window as its record key's hashed form and its start, and build no
   * composite key unless the index needs one.
   */
  private readonly windowCache: WindowCachingLayer | null;
  /** The last primitive key recordKeyHash was asked for (compared with Object.is, as encode), and its answer. */
  private lastRecordKey: unknown = NO_KEY;
  private lastRecordKeyHash = '';

  constructor(
    inner: KeyValueBytesStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly options: {
      readonly retentionMs: number;
      readonly windowSizeMs: number;
      readonly retainDuplicates: boolean;
      /** The bytes store drops expired windows itself (by time segment), so no index is kept here. */
      readonly expiresBelow?: boolean;
    },
  ) {
    super(inner);
    this.windowKeysComplete = !inner.persistent && options.expiresBelow !== true;
    // Windows already on disk are not known yet, so the first flush looks for expired ones.
    if (!this.windowKeysComplete) this.oldestStartMs = Number.MIN_SAFE_INTEGER;
    this.slotMs = Math.max(1, Math.floor(options.retentionMs / 16));
    this.windowCache = inner instanceof WindowCachingLayer && !options.retainDuplicates ? inner : null;
  }
  put(key: K, value: V | null, windowStartMs: number): void {
    this.metrics.puts++;
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, windowStartMs);
    if (windowStartMs < this.minLiveTimeMs()) return;
    if (this.options.retainDuplicates && value === null) return;
    const valueBytes = value === null ? null : this.valueSerde.serialize(value, this.name);
    if (this.windowCache !== null) {
      this.putWindow(this.windowCache, key, valueBytes, windowStartMs);
      return;
    }
    if (valueBytes !== null && !this.options.retainDuplicates && this.updateCachedWindow(key, windowStartMs, valueBytes)) return;
    const encoded = this.options.retainDuplicates ? this.duplicateKey(key, windowStartMs) : this.compositeKey(key, windowStartMs);
    if (this.options.expiresBelow === true) {
      this.putBytes(encoded.hashKey, encoded.bytes, valueBytes, typedKeyFor(this.keySerde as Serde<unknown>, key));
      return;
    }
    // The index is updated first; whether it held the key tells the cache the key is new below.
    const known = valueBytes === null ? this.forgetWindow(windowStartMs, encoded.hashKey) : !this.rememberWindow(windowStartMs, encoded.hashKey, encoded.bytes);
    this.putBytes(encoded.hashKey, encoded.bytes, valueBytes, typedKeyFor(this.keySerde as Serde<unknown>, key), this.windowKeysComplete && !known);
    this.oldestStartMs = Math.min(this.oldestStartMs, windowStartMs);
  }
  /**
   * Asks the caching layer to report what each flush writes, per window. Expired windows are
   * deleted below the cache, so listeners never see them. Returns false when the store has no
   * cache.
   */
  setFlushListener(listener: FlushListener<Windowed<K>, V>): boolean {
    const deserialize = (bytes: Uint8Array | null): V | null => (bytes === null ? null : this.valueSerde.deserialize(bytes, this.name));
    if (this.windowCache !== null) {
      this.windowCache.setWindowListener((recordKeyHash, startMs, newValue, oldValue, writtenAtMs, typedKey) => {
        const key = typedKey === undefined ? this.keySerde.deserialize(Buffer.from(recordKeyHash, 'latin1'), this.name) : (typedKey as K);
        listener({ key, window: { startMs, endMs: startMs + this.options.windowSizeMs } }, deserialize(newValue), deserialize(oldValue), writtenAtMs);
      });
      return true;
    }
    if (this.cache === null) return false;
    this.cache.setFlushListener((bytes, newValue, oldValue, writtenAtMs, typedKey) => {
      const startMs = suffixNumber(bytes, WINDOW_SUFFIX_BYTES, 0);
      const key = typedKey === undefined ? this.keySerde.deserialize(withoutSuffix(bytes, WINDOW_SUFFIX_BYTES), this.name) : (typedKey as K);
      listener({ key, window: { startMs, endMs: startMs + this.options.windowSizeMs } }, deserialize(newValue), deserialize(oldValue), writtenAtMs);
    });
    return true;
  }
  fetch(key: K, windowStartMs: number): V | null {
    this.metrics.gets++;
    if (windowStartMs < this.minLiveTimeMs()) return null;
    if (this.windowCache !== null) {
      const bytes = this.fetchWindow(this.windowCache, key, windowStartMs);
      return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
    }
    const hashKey = this.cache === null ? null : this.compositeHash(key, windowStartMs);
    if (hashKey !== null) {
      const cached = this.cache?.peekHashed(hashKey);
      if (cached !== undefined) return cached === null ? null : this.valueSerde.deserialize(cached, this.name);
      if (this.windowKeysComplete && this.windowKeys.get(this.slotOf(windowStartMs))?.has(hashKey) !== true) return null;
    }
    const encoded = this.compositeKey(key, windowStartMs);
    // The index holds every stored window (written here or restored), so a window it lacks is
    // absent in the cache and below alike: new windows cost no store reads. A peeked key was
    // looked up there already.
    if (encoded.hashKey !== hashKey && this.windowKeysComplete && this.windowKeys.get(this.slotOf(windowStartMs))?.has(encoded.hashKey) !== true) return null;
    // Peeked and not cached: the cache takes the composite key (new bytes nobody changes).
    const bytes = hashKey !== null && hashKey === encoded.hashKey ? (this.cache as CachingLayer).readUncached(hashKey, encoded.bytes, true) : this.getBytes(encoded.hashKey, encoded.bytes);
    return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
  }
  /** fetch through a window cache: the composite key is built only for the index's look-up. */
  private fetchWindow(cache: WindowCachingLayer, key: K, windowStartMs: number): Uint8Array | null {
    // The composite layout clamps starts at 0; the index is kept by the start as given (see put).
    const startMs = Math.max(0, windowStartMs);
    const recordKeyHash = this.recordKeyHash(key);
    const cached = cache.peekWindow(recordKeyHash, startMs);
    if (cached !== undefined) return cached;
    // The index holds every stored window, so a window it lacks is absent below: no read.
    if (this.windowKeysComplete && this.windowKeys.get(this.slotOf(windowStartMs))?.has(windowHashKey(recordKeyHash, startMs)) !== true) return null;
    return cache.readWindowUncached(recordKeyHash, startMs);
  }
  /** put through a window cache, keeping the index (stores that do not expire below) as put does. */
  private putWindow(cache: WindowCachingLayer, key: K, valueBytes: Uint8Array | null, windowStartMs: number): void {
    const startMs = Math.max(0, windowStartMs);
    const recordKeyHash = this.recordKeyHash(key);
    // An ASCII string key is its own hashed form and decodes back to itself.
    const typedKey = recordKeyHash === key ? key : typedKeyFor(this.keySerde as Serde<unknown>, key);
    // A store that expires below keeps no index; a window the cache holds with a value is stored
    // (every put of a value enters the index), so the index needs no change (as updateCachedWindow).
    if (this.options.expiresBelow === true || (valueBytes !== null && (cache.peekWindow(recordKeyHash, startMs) ?? null) !== null)) {
      cache.writeWindow(recordKeyHash, startMs, valueBytes, typedKey);
      return;
    }
    const hashKey = windowHashKey(recordKeyHash, startMs);
    let known: boolean;
    if (valueBytes === null) known = this.forgetWindow(windowStartMs, hashKey);
    else known = this.windowKeys.get(this.slotOf(windowStartMs))?.has(hashKey) === true || !this.rememberWindow(windowStartMs, hashKey, windowKeyBytes(recordKeyHash, startMs));
    cache.writeWindow(recordKeyHash, startMs, valueBytes, typedKey, this.windowKeysComplete && !known);
    this.oldestStartMs = Math.min(this.oldestStartMs, windowStartMs);
  }
  /** The hashed form of a key's serialized bytes; an ASCII string through the string serde is its own. */
  private recordKeyHash(key: K): string {
    if (Object.is(key, this.lastRecordKey)) return this.lastRecordKeyHash;
    const hash = keyAsHash(this.keySerde as Serde<unknown>, key) ?? hashKeyOf(this.keySerde.serialize(key, this.name));
    if (isPrimitive(key)) {
      this.lastRecordKey = key;
      this.lastRecordKeyHash = hash;
    }
    return hash;
  }
  /**
   * Updates a window the cache holds with a value, without building its key bytes. With an
   * index, only a window cached with a value: it is stored (every put of a value enters the
   * index), so the index needs no change. A store that expires below keeps no index, so a
   * window cached as absent (a read that found nothing) is updated in place too.
   */
  private updateCachedWindow(key: K, windowStartMs: number, valueBytes: Uint8Array): boolean {
    if (this.cache === null) return false;
    const hashKey = this.compositeHash(key, windowStartMs);
    return hashKey !== null && this.cache.updateCached(hashKey, valueBytes, key, this.options.expiresBelow !== true);
  }
  /**
   * The hashed composite key without building its bytes, for ASCII string keys through the
   * string serde (the key itself followed by the latin1 form of the window suffix); else null.
   */
  private compositeHash(key: K, windowStartMs: number): string | null {
    if (typeof key !== 'string' || (this.keySerde as Serde<unknown>) !== stringSerde) return null;
    if (this.lastHashOf === key && this.lastHashStartMs === windowStartMs) return this.lastHash;
    if (!isAscii(key)) return null;
    const hashKey = key + windowSuffixHash(windowStartMs);
    this.lastHashOf = key;
    this.lastHashStartMs = windowStartMs;
    this.lastHash = hashKey;
    return hashKey;
  }
  /** Primitive keys (strings, numbers) are memoised by value (Object.is, as encode); objects only by identity. */
  private compositeKey(key: K, windowStartMs: number): EncodedKey {
    const last = this.lastComposite;
    if (last !== null && Object.is(last.key, key) && last.windowStartMs === windowStartMs) return last;
    let bytes: Uint8Array;
    const hashKey = this.compositeHash(key, windowStartMs);
    if (hashKey !== null) {
      // An ASCII key's composite key is its hashed form, one byte per char: made by the native
      // latin1 encoder in a slice of Buffer's pool, which keeps fewer bytes on the heap than a
      // small typed array of its own while the cache holds the key until the commit.
      bytes = Buffer.from(hashKey, 'latin1');
    } else if (typeof key === 'string' && (this.keySerde as Serde<unknown>) === stringSerde) {
      // A string key that is not ASCII is encoded straight into the composite key: one allocation, not two.
      bytes = encodeUtf8Padded(key, WINDOW_SUFFIX_BYTES);
      writeWindowSuffix(bytes, windowStartMs);
    } else {
      bytes = withSuffix(this.keySerde.serialize(key, this.name), [windowStartMs], 0);
    }
    const composite = { key, windowStartMs, bytes, hashKey: hashKey ?? hashKeyOf(bytes) };
    this.lastComposite = composite;
    return composite;
  }
  private duplicateKey(key: K, windowStartMs: number): EncodedKey {
    const bytes = withSuffix(this.keySerde.serialize(key, this.name), [windowStartMs], ++this.sequence);
    return { bytes, hashKey: hashKeyOf(bytes) };
  }
  fetchRange(key: K, timeFromMs: number, timeToMs: number): WindowEntry<V>[] {
    this.metrics.ranges++;
    const keyBytes = this.keySerde.serialize(key, this.name);
    const fromMs = Math.max(timeFromMs, this.minLiveTimeMs());
    if (timeToMs < fromMs) return [];
    const entries = this.inner.range(withSuffix(keyBytes, [fromMs], 0), withSuffix(keyBytes, [timeToMs], 0xffffffff));
    const result: WindowEntry<V>[] = [];
    for (const entry of entries) {
      if (!bytesEqual(withoutSuffix(entry.key, WINDOW_SUFFIX_BYTES), keyBytes)) continue;
      result.push({ windowStartMs: suffixNumber(entry.key, WINDOW_SUFFIX_BYTES, 0), value: this.valueSerde.deserialize(entry.value, this.name) });
    }
    return result;
  }
  fetchAll(timeFromMs: number, timeToMs: number): KeyValue<Windowed<K>, V>[] {
    this.metrics.ranges++;
    const fromMs = Math.max(timeFromMs, this.minLiveTimeMs());
    const result: KeyValue<Windowed<K>, V>[] = [];
    for (const entry of this.inner.range(null, null)) {
      const startMs = suffixNumber(entry.key, WINDOW_SUFFIX_BYTES, 0);
      if (startMs < fromMs || startMs > timeToMs) continue;
      const key = this.keySerde.deserialize(withoutSuffix(entry.key, WINDOW_SUFFIX_BYTES), this.name);
      const window = { startMs, endMs: startMs + this.options.windowSizeMs };
      result.push({ key: { key, window }, value: this.valueSerde.deserialize(entry.value, this.name) });
    }
    return result.sort((a, b) => a.key.window.startMs - b.key.window.startMs);
  }
  all(): KeyValue<Windowed<K>, V>[] {
    return this.fetchAll(0, MAX_TIME);
  }
  private minLiveTimeMs(): number {
    return this.observedStreamTimeMs - this.options.retentionMs + 1;
  }
  /** Cached updates go down (and to listeners) first; then expired windows are deleted below. */
  override flush(): void {
    this.cache?.flushCache();
    this.windowCache?.flushCache();
    if (this.options.expiresBelow !== true) this.purgeExpired();
    super.flush();
  }
  /**
   * Skips records older than the retention period as of the newest record restored: the
   * changelog expires them by its own retention (no tombstones are sent for expired windows).
   */
  override restore(records: readonly ChangelogRecord[]): void {
    for (const record of records) if (record.value !== null) this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, suffixNumber(record.key, WINDOW_SUFFIX_BYTES, 0));
    const minLiveMs = this.minLiveTimeMs();
    super.restore(records.filter((record) => suffixNumber(record.key, WINDOW_SUFFIX_BYTES, 0) >= minLiveMs));
  }
  protected override restored(record: ChangelogRecord): void {
    const startMs = suffixNumber(record.key, WINDOW_SUFFIX_BYTES, 0);
    if (this.options.expiresBelow === true) {
      this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, startMs);
      if (this.options.retainDuplicates) this.sequence = Math.max(this.sequence, suffixSequence(record.key));
      return;
    }
    if (record.value === null) {
      this.forgetWindow(startMs, hashKeyOf(record.key));
      return;
    }
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, startMs);
    this.oldestStartMs = Math.min(this.oldestStartMs, startMs);
    if (this.options.retainDuplicates) this.sequence = Math.max(this.sequence, suffixSequence(record.key));
    this.rememberWindow(startMs, hashKeyOf(record.key), record.key);
  }
  private slotOf(startMs: number): number {
    return Math.floor(startMs / this.slotMs);
  }
  /** Adds a stored window to the index; true when it was not there before. */
  private rememberWindow(startMs: number, hashKey: string, bytes: Uint8Array): boolean {
    const slot = this.slotOf(startMs);
    let keys = this.windowKeys.get(slot);
    if (keys === undefined) this.windowKeys.set(slot, (keys = new Map()));
    const sizeBefore = keys.size;
    keys.set(hashKey, bytes);
    if (keys.size === sizeBefore) return false;
    // A slice of Buffer's pool (compositeKey makes them) is copied: the index keeps it for the
    // retention period, and one slice kept would keep its whole pool chunk alive.
    if (bytes instanceof Buffer) keys.set(hashKey, new Uint8Array(bytes));
    return true;
  }
  /** Removes a deleted window from the index; true when it was there. */
  private forgetWindow(startMs: number, hashKey: string): boolean {
    return this.windowKeys.get(this.slotOf(startMs))?.delete(hashKey) === true;
  }
  /**
   * Deletes expired windows below the cache, looking only when the oldest stored window has
   * expired: slots wholly before the oldest live time go at once, the slot that straddles it is
   * checked key by key.
   */
  private purgeExpired(): void {
    const minLiveMs = this.minLiveTimeMs();
    if (this.oldestStartMs >= minLiveMs) return;
    if (!this.windowKeysComplete) this.learnStoredWindows();
    let oldestStartMs = Number.MAX_SAFE_INTEGER;
    for (const [slot, keys] of this.windowKeys) {
      const slotStartMs = slot * this.slotMs;
      if (slotStartMs >= minLiveMs) {
        if (keys.size > 0) oldestStartMs = Math.min(oldestStartMs, slotStartMs);
        else this.windowKeys.delete(slot);
        continue;
      }
      const wholeSlotExpired = slotStartMs + this.slotMs <= minLiveMs;
      // forEach, not for-of: no entry array per key.
      keys.forEach((bytes, hashKey) => {
        const startMs = wholeSlotExpired ? slotStartMs : suffixNumber(bytes, WINDOW_SUFFIX_BYTES, 0);
        if (startMs >= minLiveMs) {
          oldestStartMs = Math.min(oldestStartMs, startMs);
          return;
        }
        this.deleteBelowCache(hashKey, bytes);
        // A wholly expired slot is dropped below in one go.
        if (!wholeSlotExpired) keys.delete(hashKey);
      });
      if (wholeSlotExpired || keys.size === 0) this.windowKeys.delete(slot);
    }
    this.oldestStartMs = oldestStartMs;
  }
  /** Expiry is local: the delete skips the changelog, which expires the window by its own retention. */
  private deleteBelowCache(hashKey: string, bytes: Uint8Array): void {
    expireBelow(this.inner, hashKey, bytes);
  }
  private learnStoredWindows(): void {
    for (const entry of this.inner.range(null, null)) this.rememberWindow(suffixNumber(entry.key, WINDOW_SUFFIX_BYTES, 0), hashKeyOf(entry.key), entry.key);
    this.windowKeysComplete = true;
  }
}

export class MeteredSessionStore<K, V> extends MeteredStore implements SessionStore<K, V> {
  private observedStreamTimeMs = -1;

  constructor(
    inner: KeyValueBytesStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly retentionMs: number,
  ) {
    super(inner);
  }
  findSessions(key: K, earliestSessionEndMs: number, latestSessionStartMs: number): KeyValue<Windowed<K>, V>[] {
    this.metrics.ranges++;
    const keyBytes = this.keySerde.serialize(key, this.name);
    // A session ending exactly one retention period ago can still merge with a record at stream
    // time (its gap reaches that far), so it stays visible.
    const fromEndMs = Math.max(earliestSessionEndMs, this.observedStreamTimeMs - this.retentionMs);
    const entries = this.inner.range(withSuffix(keyBytes, [fromEndMs, 0], null), withSuffix(keyBytes, [MAX_TIME, MAX_TIME], null));
    const result: KeyValue<Windowed<K>, V>[] = [];
    for (const entry of entries) {
      if (!bytesEqual(withoutSuffix(entry.key, SESSION_SUFFIX_BYTES), keyBytes)) continue;
      const endMs = suffixNumber(entry.key, SESSION_SUFFIX_BYTES, 0);
      const startMs = suffixNumber(entry.key, SESSION_SUFFIX_BYTES, 1);
      if (startMs > latestSessionStartMs) continue;
      result.push({ key: { key, window: { startMs, endMs } }, value: this.valueSerde.deserialize(entry.value, this.name) });
    }
    return result;
  }
  /**
   * The layout sorts by key first, so this scans every session; emit-final calls it once per
   * advance of the window close time, not once per record of a key.
   */
  findSessionsEndingWithin(earliestSessionEndMs: number, latestSessionEndMs: number): KeyValue<Windowed<K>, V>[] {
    this.metrics.ranges++;
    const result: KeyValue<Windowed<K>, V>[] = [];
    if (latestSessionEndMs < earliestSessionEndMs) return result;
    for (const entry of this.inner.range(null, null)) {
      const endMs = suffixNumber(entry.key, SESSION_SUFFIX_BYTES, 0);
      if (endMs < earliestSessionEndMs || endMs > latestSessionEndMs) continue;
      const startMs = suffixNumber(entry.key, SESSION_SUFFIX_BYTES, 1);
      const key = this.keySerde.deserialize(withoutSuffix(entry.key, SESSION_SUFFIX_BYTES), this.name);
      result.push({ key: { key, window: { startMs, endMs } }, value: this.valueSerde.deserialize(entry.value, this.name) });
    }
    // Stable sort: sessions ending together keep the byte order of their keys.
    return result.sort((a, b) => a.key.window.endMs - b.key.window.endMs);
  }
  fetch(key: K): KeyValue<Windowed<K>, V>[] {
    return this.findSessions(key, 0, MAX_TIME);
  }
  fetchSession(key: K, sessionStartMs: number, sessionEndMs: number): V | null {
    this.metrics.gets++;
    const bytes = this.inner.get(this.sessionKey({ key, window: { startMs: sessionStartMs, endMs: sessionEndMs } }));
    return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
  }
  put(session: Windowed<K>, value: V | null): void {
    this.metrics.puts++;
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, session.window.endMs);
    this.inner.put(this.sessionKey(session), value === null ? null : this.valueSerde.serialize(value, this.name));
  }
  remove(session: Windowed<K>): void {
    this.metrics.deletes++;
    this.inner.put(this.sessionKey(session), null);
  }
  protected override restored(record: ChangelogRecord): void {
    if (record.value === null) return;
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, suffixNumber(record.key, SESSION_SUFFIX_BYTES, 0));
  }
  private sessionKey(session: Windowed<K>): Uint8Array {
    return withSuffix(this.keySerde.serialize(session.key, this.name), [session.window.endMs, session.window.startMs], null);
  }
}
