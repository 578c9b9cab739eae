// The outer, typed layer of every store: serdes plus counters. Window and session stores are
// key-value byte stores underneath, with Kafka Streams' composite key layouts:
//   window:  key | windowStart (8 bytes) | sequence (4 bytes)
//   session: key | sessionEnd (8 bytes) | sessionStart (8 bytes)
// so caching and change logging exist once, for all three kinds of store.
import type { Serde } from '../../core/serdes/serde.ts';
import type { ChangelogRecord, StateStoreContext } from '../../core/topology/processor.ts';
import type { Windowed } from '../../core/topology/windows.ts';
import { bytesEqual, readUint32, suffixNumber, withSuffix, withoutSuffix } from './bytes.ts';
import { CachingLayer } from './layers.ts';
import type { FlushListener, KeyValue, KeyValueBytesStore, KeyValueStore, SessionStore, StoreMetrics, WindowEntry, WindowStore } from './types.ts';

abstract class MeteredStore {
  readonly metrics: StoreMetrics = { puts: 0, gets: 0, deletes: 0, ranges: 0 };
  constructor(protected readonly inner: KeyValueBytesStore) {}
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
    for (const record of records) if (record.value !== null) this.restored(record.key);
  }
  /** Lets window and session stores learn stream time from restored keys. */
  protected restored(_key: Uint8Array): void {}
  flush(): void {
    this.inner.flush();
  }
  close(): void {
    this.inner.close();
  }
}

export class MeteredKeyValueStore<K, V> extends MeteredStore implements KeyValueStore<K, V> {
  constructor(inner: KeyValueBytesStore, private readonly keySerde: Serde<K>, private readonly valueSerde: Serde<V>) {
    super(inner);
  }
  /**
   * Asks the caching layer to report what each flush writes, with typed keys and values.
   * Returns false when the store has no cache, and the caller must forward updates itself.
   */
  setFlushListener(listener: FlushListener<K, V>): boolean {
    if (!(this.inner instanceof CachingLayer)) return false;
    const deserialize = (bytes: Uint8Array | null): V | null => (bytes === null ? null : this.valueSerde.deserialize(bytes, this.name));
    this.inner.setFlushListener((key, newValue, oldValue, writtenAtMs) => listener(this.keySerde.deserialize(key, this.name), deserialize(newValue), deserialize(oldValue), writtenAtMs));
    return true;
  }
  get(key: K): V | null {
    this.metrics.gets++;
    const bytes = this.inner.get(this.keySerde.serialize(key, this.name));
    return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
  }
  put(key: K, value: V | null): void {
    this.metrics.puts++;
    this.inner.put(this.keySerde.serialize(key, this.name), value === null ? null : this.valueSerde.serialize(value, this.name));
  }
  putIfAbsent(key: K, value: V): V | null {
    const existing = this.get(key);
    if (existing === null) this.put(key, value);
    return existing;
  }
  delete(key: K): V | null {
    this.metrics.deletes++;
    const bytes = this.inner.delete(this.keySerde.serialize(key, this.name));
    return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
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
  approximateNumEntries(): number {
    return this.inner.approximateNumEntries();
  }
}

const WINDOW_SUFFIX_BYTES = 12;

function suffixSequence(key: Uint8Array): number {
  return readUint32(key, key.byteLength - 4);
}
const SESSION_SUFFIX_BYTES = 16;
const MAX_TIME = Number.MAX_SAFE_INTEGER;

/**
 * Windows older than the retention period (measured from the latest window start put) are
 * invisible at once and purged from the bytes below at the next flush (commit).
 */
export class MeteredWindowStore<K, V> extends MeteredStore implements WindowStore<K, V> {
  private observedStreamTimeMs = -1;
  /** Smallest window start that may still be stored below; purges run only when it expires. */
  private oldestStartMs = Number.MAX_SAFE_INTEGER;
  private sequence = 0;
  /** The last composite key built: an aggregation fetches then puts the same window. */
  private lastComposite: { key: K; windowStartMs: number; bytes: Uint8Array } | null = null;

  constructor(
    inner: KeyValueBytesStore,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    private readonly options: { readonly retentionMs: number; readonly windowSizeMs: number; readonly retainDuplicates: boolean },
  ) {
    super(inner);
  }
  put(key: K, value: V | null, windowStartMs: number): void {
    this.metrics.puts++;
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, windowStartMs);
    if (windowStartMs < this.minLiveTimeMs()) return;
    if (this.options.retainDuplicates && value === null) return;
    const bytes = this.options.retainDuplicates
      ? withSuffix(this.keySerde.serialize(key, this.name), [windowStartMs], ++this.sequence)
      : this.compositeKey(key, windowStartMs);
    this.inner.put(bytes, value === null ? null : this.valueSerde.serialize(value, this.name));
    this.oldestStartMs = Math.min(this.oldestStartMs, windowStartMs);
  }
  /**
   * Asks the caching layer to report what each flush writes, per window. Purging expired
   * windows writes deletes too, which listeners see with a null new value. Returns false when
   * the store has no cache.
   */
  setFlushListener(listener: FlushListener<Windowed<K>, V>): boolean {
    if (!(this.inner instanceof CachingLayer)) return false;
    const deserialize = (bytes: Uint8Array | null): V | null => (bytes === null ? null : this.valueSerde.deserialize(bytes, this.name));
    this.inner.setFlushListener((bytes, newValue, oldValue, writtenAtMs) => {
      const startMs = suffixNumber(bytes, WINDOW_SUFFIX_BYTES, 0);
      const key = this.keySerde.deserialize(withoutSuffix(bytes, WINDOW_SUFFIX_BYTES), this.name);
      listener({ key, window: { startMs, endMs: startMs + this.options.windowSizeMs } }, deserialize(newValue), deserialize(oldValue), writtenAtMs);
    });
    return true;
  }
  fetch(key: K, windowStartMs: number): V | null {
    this.metrics.gets++;
    if (windowStartMs < this.minLiveTimeMs()) return null;
    const bytes = this.inner.get(this.compositeKey(key, windowStartMs));
    return bytes === null ? null : this.valueSerde.deserialize(bytes, this.name);
  }
  /** Primitive keys (strings, numbers) are memoised by value; objects only by identity. */
  private compositeKey(key: K, windowStartMs: number): Uint8Array {
    const last = this.lastComposite;
    if (last !== null && last.key === key && last.windowStartMs === windowStartMs) return last.bytes;
    const bytes = withSuffix(this.keySerde.serialize(key, this.name), [windowStartMs], 0);
    this.lastComposite = { key, windowStartMs, bytes };
    return bytes;
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
  /** Expired windows are purged at commit, when the cache below is flushed anyway. */
  override flush(): void {
    this.maybePurge();
    super.flush();
  }
  protected override restored(key: Uint8Array): void {
    const startMs = suffixNumber(key, WINDOW_SUFFIX_BYTES, 0);
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, startMs);
    this.oldestStartMs = Math.min(this.oldestStartMs, startMs);
    if (this.options.retainDuplicates) this.sequence = Math.max(this.sequence, suffixSequence(key));
  }
  /** Deletes expired windows below, scanning only when the oldest stored window has expired. */
  private maybePurge(): void {
    const minLiveMs = this.minLiveTimeMs();
    if (this.oldestStartMs >= minLiveMs) return;
    let oldestStartMs = Number.MAX_SAFE_INTEGER;
    for (const entry of this.inner.range(null, null)) {
      const startMs = suffixNumber(entry.key, WINDOW_SUFFIX_BYTES, 0);
      if (startMs < minLiveMs) this.inner.put(entry.key, null);
      else oldestStartMs = Math.min(oldestStartMs, startMs);
    }
    this.oldestStartMs = oldestStartMs;
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
  protected override restored(key: Uint8Array): void {
    this.observedStreamTimeMs = Math.max(this.observedStreamTimeMs, suffixNumber(key, SESSION_SUFFIX_BYTES, 0));
  }
  private sessionKey(session: Windowed<K>): Uint8Array {
    return withSuffix(this.keySerde.serialize(session.key, this.name), [session.window.endMs, session.window.startMs], null);
  }
}
