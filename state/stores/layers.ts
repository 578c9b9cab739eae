// Byte-level layers stacked over the innermost store: change logging and caching. Each layer is
// small and does one thing; the typed stores in typed.ts sit on top and own the serdes.
import { LIMITS } from '../../core/limits.ts';
import type { ChangelogRecord, ChangelogWriter, StateStoreContext } from '../../core/topology/processor.ts';
import { bytesKey } from './bytes.ts';
import type { KeyValue, KeyValueBytesStore } from './types.ts';

/** Delegates everything; layers override what they change. */
export class WrappedBytesStore implements KeyValueBytesStore {
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
  get(key: Uint8Array): Uint8Array | null {
    return this.inner.get(key);
  }
  put(key: Uint8Array, value: Uint8Array | null): void {
    this.inner.put(key, value);
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
}

/** Writes every change to the changelog topic after applying it below. */
export class ChangeLoggingLayer extends WrappedBytesStore {
  private writer: ChangelogWriter | null = null;
  private topic: string | null = null;
  private partition = 0;
  private timestampMs: () => number = () => 0;

  override init(context: StateStoreContext): void {
    super.init(context);
    this.writer = context.changelogWriter;
    this.topic = context.changelogTopic;
    this.partition = context.partition;
    this.timestampMs = () => context.recordTimestampMs();
  }

  override put(key: Uint8Array, value: Uint8Array | null): void {
    this.inner.put(key, value);
    if (this.writer !== null && this.topic !== null) this.writer.send(this.topic, this.partition, key, value, this.timestampMs());
  }
}

interface CachedEntry {
  readonly key: Uint8Array;
  value: Uint8Array | null;
  dirty: boolean;
  /** Timestamp of the record being processed at the last write; -1 for entries only read. */
  writtenAtMs: number;
}

/**
 * Told about each key a flush writes below: its new value, the value it replaced there (the value
 * of the previous flush) and the timestamp of the record whose processing wrote it last. Tables
 * forward these merged changes downstream.
 */
export type BytesFlushListener = (key: Uint8Array, newValue: Uint8Array | null, oldValue: Uint8Array | null, writtenAtMs: number) => void;

/**
 * A write-back cache: writes stay here until flush (commit) or until the cache is full, so a key
 * updated many times between commits reaches the changelog once, and, with a flush listener,
 * reaches downstream processors once too (Kafka Streams' record cache). Ranges flush first, so
 * they read one consistent store below.
 */
export class CachingLayer extends WrappedBytesStore {
  private readonly cache = new Map<string, CachedEntry>();
  private flushListener: BytesFlushListener | null = null;
  private recordTimestampMs: () => number = () => -1;
  /** Hash of the last key object seen: a read-modify-write passes the same bytes twice. */
  private lastKey: { bytes: Uint8Array; hashKey: string } | null = null;

  constructor(inner: KeyValueBytesStore, private readonly entriesMax: number = LIMITS.cacheEntriesMax) {
    super(inner);
  }

  override init(context: StateStoreContext): void {
    super.init(context);
    this.recordTimestampMs = () => context.recordTimestampMs();
  }

  setFlushListener(listener: BytesFlushListener): void {
    this.flushListener = listener;
  }

  override get(key: Uint8Array): Uint8Array | null {
    const hashKey = this.hashOf(key);
    const cached = this.cache.get(hashKey);
    if (cached !== undefined) return cached.value;
    const value = this.inner.get(key);
    this.remember(hashKey, { key, value, dirty: false, writtenAtMs: -1 });
    return value;
  }

  override put(key: Uint8Array, value: Uint8Array | null): void {
    this.remember(this.hashOf(key), { key: new Uint8Array(key), value, dirty: true, writtenAtMs: this.recordTimestampMs() });
  }

  private hashOf(key: Uint8Array): string {
    if (this.lastKey?.bytes === key) return this.lastKey.hashKey;
    const hashKey = bytesKey(key);
    this.lastKey = { bytes: key, hashKey };
    return hashKey;
  }

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

  private remember(hashKey: string, entry: CachedEntry): void {
    const existing = this.cache.get(hashKey);
    if (existing !== undefined) {
      existing.value = entry.value;
      if (entry.dirty) existing.writtenAtMs = entry.writtenAtMs;
      existing.dirty ||= entry.dirty;
      return;
    }
    if (this.cache.size >= this.entriesMax) this.flushCache();
    this.cache.set(hashKey, entry);
  }

  /**
   * Writes dirty entries below in the order they were first cached, then tells the listener.
   * The cache is emptied before anything is written or told, so a listener whose downstream
   * reads this store (a join's value getter) reads the flushed values and cannot re-enter an
   * iteration in progress.
   */
  private flushCache(): void {
    const dirty = [...this.cache.values()].filter((entry) => entry.dirty);
    this.cache.clear();
    this.lastKey = null;
    const listener = this.flushListener;
    const replaced = dirty.map((entry) => {
      const oldValue = listener === null ? null : this.inner.get(entry.key);
      this.inner.put(entry.key, entry.value);
      return oldValue;
    });
    if (listener === null) return;
    for (const [index, entry] of dirty.entries()) {
      const oldValue = replaced[index] ?? null;
      if (entry.value !== null || oldValue !== null) listener(entry.key, entry.value, oldValue, entry.writtenAtMs);
    }
  }
}
