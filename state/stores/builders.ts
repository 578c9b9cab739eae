// Store builders: compose Metered(Caching(ChangeLogging(inner))) for each kind of store. The
// innermost store comes from the user's supplier, else from the runtime's provider (the streams
// runtime's RocksDB stores, see withBytesStoreProvider), else it is the in-memory map.
import type { Serde } from '../../core/serdes/serde.ts';
import { inMemoryKeyValueBytesStore } from './in-memory.ts';
import { CachingLayer, ChangeLoggingLayer } from './layers.ts';
import { MeteredKeyValueStore, MeteredSessionStore, MeteredWindowStore } from './typed.ts';
import { WindowCachingLayer } from './window-cache.ts';
import type { KeyValueBytesStore, KeyValueBytesStoreSupplier } from './types.ts';

export interface StoreLayerOptions {
  readonly name: string;
  readonly logging: boolean;
  readonly caching: boolean;
  /** Innermost bytes store; in memory unless given. */
  readonly supplier?: KeyValueBytesStoreSupplier;
}

/** What a runtime is asked for when it may supply a store's innermost bytes store. */
export interface BytesStoreRequest {
  readonly name: string;
  readonly kind: 'key-value' | 'window' | 'session';
  readonly logging: boolean;
  /** Window and session stores: how long an entry stays after stream time passes its time. */
  readonly retentionMs: number | null;
}

/**
 * Supplies the innermost store (null: the default in-memory one). A bytes store it supplies
 * for a window or session store expires old entries itself, by dropping time segments.
 */
export type BytesStoreProvider = (request: BytesStoreRequest) => KeyValueBytesStore | null;

let ambientProvider: BytesStoreProvider | null = null;

/**
 * Runs build (which creates stores, as a task's init does) with the provider in place. Stores
 * are built synchronously, so the provider cannot leak into another task's build.
 */
export function withBytesStoreProvider<T>(provider: BytesStoreProvider, build: () => T): T {
  const previous = ambientProvider;
  ambientProvider = provider;
  try {
    return build();
  } finally {
    ambientProvider = previous;
  }
}

function byteStack(options: StoreLayerOptions, kind: BytesStoreRequest['kind'], retentionMs: number | null): { store: KeyValueBytesStore; provided: boolean } {
  const provided = options.supplier === undefined ? (ambientProvider?.({ name: options.name, kind, logging: options.logging, retentionMs }) ?? null) : null;
  let store = provided ?? (options.supplier ?? inMemoryKeyValueBytesStore)(options.name);
  if (options.logging) store = new ChangeLoggingLayer(store);
  // A window store's cache holds windows by start and record key (window-cache.ts).
  if (options.caching) store = kind === 'window' ? new WindowCachingLayer(store) : new CachingLayer(store);
  return { store, provided: provided !== null };
}

export function buildKeyValueStore<K, V>(options: StoreLayerOptions, keySerde: Serde<K>, valueSerde: Serde<V>): MeteredKeyValueStore<K, V> {
  return new MeteredKeyValueStore(byteStack(options, 'key-value', null).store, keySerde, valueSerde);
}

export interface WindowStoreOptions extends StoreLayerOptions {
  readonly retentionMs: number;
  readonly windowSizeMs: number;
  /** Join buffers keep every record of a key, so each put is a new entry. */
  readonly retainDuplicates: boolean;
}

export function buildWindowStore<K, V>(options: WindowStoreOptions, keySerde: Serde<K>, valueSerde: Serde<V>): MeteredWindowStore<K, V> {
  // Caching would merge duplicates, which a join buffer must keep apart.
  const stack = byteStack({ ...options, caching: options.caching && !options.retainDuplicates }, 'window', options.retentionMs);
  return new MeteredWindowStore(stack.store, keySerde, valueSerde, { ...options, expiresBelow: stack.provided });
}

export interface SessionStoreOptions extends StoreLayerOptions {
  readonly retentionMs: number;
}

export function buildSessionStore<K, V>(options: SessionStoreOptions, keySerde: Serde<K>, valueSerde: Serde<V>): MeteredSessionStore<K, V> {
  return new MeteredSessionStore(byteStack(options, 'session', options.retentionMs).store, keySerde, valueSerde, options.retentionMs);
}
