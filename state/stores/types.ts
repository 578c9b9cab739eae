// Store interfaces. The typed stores (KeyValueStore, WindowStore, SessionStore) sit on top of a
// stack of byte-level layers; read-only views are what interactive queries and the test driver
// hand out. Ranges are inclusive at both ends and come back in byte order of the serialized key.
import type { StateStore, StateStoreContext } from '../../core/topology/processor.ts';
import type { Windowed } from '../../core/topology/windows.ts';

export interface KeyValue<K, V> {
  readonly key: K;
  readonly value: V;
}

/** The byte-level store every layer implements. A null value deletes. */
export interface KeyValueBytesStore extends StateStore {
  get(key: Uint8Array): Uint8Array | null;
  put(key: Uint8Array, value: Uint8Array | null): void;
  delete(key: Uint8Array): Uint8Array | null;
  /** Entries with from <= key <= to; a null bound is open. */
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[];
  approximateNumEntries(): number;
}

/** Makes the innermost store; RocksDB stores will offer the same shape. */
export type KeyValueBytesStoreSupplier = (name: string) => KeyValueBytesStore;

export interface ReadOnlyKeyValueStore<K, V> {
  readonly name: string;
  get(key: K): V | null;
  range(from: K | null, to: K | null): KeyValue<K, V>[];
  all(): KeyValue<K, V>[];
  approximateNumEntries(): number;
}

export interface KeyValueStore<K, V> extends StateStore, ReadOnlyKeyValueStore<K, V> {
  /** Stores the value; null deletes. */
  put(key: K, value: V | null): void;
  /** Stores the value only when the key has none; returns the value already there. */
  putIfAbsent(key: K, value: V): V | null;
  /** Removes the key and returns the value it had. */
  delete(key: K): V | null;
}

/**
 * What a flush of a caching store wrote for one key: the new value, the one it replaced and the
 * timestamp of the record whose processing wrote it last.
 */
export type FlushListener<K, V> = (key: K, newValue: V | null, oldValue: V | null, writtenAtMs: number) => void;

/** A key-value store that may hold writes in a cache until commit. */
export interface CachedKeyValueStore<K, V> extends KeyValueStore<K, V> {
  /** Registers the listener and returns true when the store caches; false when it writes through. */
  setFlushListener(listener: FlushListener<K, V>): boolean;
}

export interface WindowEntry<V> {
  readonly windowStartMs: number;
  readonly value: V;
}

export interface ReadOnlyWindowStore<K, V> {
  readonly name: string;
  /** The value of one window, or null. */
  fetch(key: K, windowStartMs: number): V | null;
  /** Windows of one key starting within [timeFromMs, timeToMs], oldest first. */
  fetchRange(key: K, timeFromMs: number, timeToMs: number): WindowEntry<V>[];
  /** Windows of all keys starting within [timeFromMs, timeToMs]. */
  fetchAll(timeFromMs: number, timeToMs: number): KeyValue<Windowed<K>, V>[];
  all(): KeyValue<Windowed<K>, V>[];
}

export interface WindowStore<K, V> extends StateStore, ReadOnlyWindowStore<K, V> {
  /** Stores a window's value (null deletes); with duplicates retained, each put is a new entry. */
  put(key: K, value: V | null, windowStartMs: number): void;
}

/** A window store that may hold writes in a cache until commit. */
export interface CachedWindowStore<K, V> extends WindowStore<K, V> {
  /** Registers the listener and returns true when the store caches; false when it writes through. */
  setFlushListener(listener: FlushListener<Windowed<K>, V>): boolean;
}

export interface ReadOnlySessionStore<K, V> {
  readonly name: string;
  /** All live sessions of a key, oldest first. */
  fetch(key: K): KeyValue<Windowed<K>, V>[];
  fetchSession(key: K, sessionStartMs: number, sessionEndMs: number): V | null;
}

export interface SessionStore<K, V> extends StateStore, ReadOnlySessionStore<K, V> {
  /** Sessions of a key that end at or after earliestSessionEndMs and start at or before latestSessionStartMs. */
  findSessions(key: K, earliestSessionEndMs: number, latestSessionStartMs: number): KeyValue<Windowed<K>, V>[];
  /** Sessions of all keys that end within [earliestSessionEndMs, latestSessionEndMs], by end then key; for emit-final. */
  findSessionsEndingWithin(earliestSessionEndMs: number, latestSessionEndMs: number): KeyValue<Windowed<K>, V>[];
  put(session: Windowed<K>, value: V | null): void;
  remove(session: Windowed<K>): void;
}

/** Counters the metered layer keeps. */
export interface StoreMetrics {
  puts: number;
  gets: number;
  deletes: number;
  ranges: number;
}

export type { StateStore, StateStoreContext };
