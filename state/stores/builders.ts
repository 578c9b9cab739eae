// Store builders: compose Metered(Caching(ChangeLogging(inner))) for each kind of store. The
// innermost store comes from a supplier so RocksDB can replace the in-memory map later.
import type { Serde } from '../../core/serdes/serde.ts';
import { inMemoryKeyValueBytesStore } from './in-memory.ts';
import { CachingLayer, ChangeLoggingLayer } from './layers.ts';
import { MeteredKeyValueStore, MeteredSessionStore, MeteredWindowStore } from './typed.ts';
import type { KeyValueBytesStore, KeyValueBytesStoreSupplier } from './types.ts';

export interface StoreLayerOptions {
  readonly name: string;
  readonly logging: boolean;
  readonly caching: boolean;
  /** Innermost bytes store; in memory unless given. */
  readonly supplier?: KeyValueBytesStoreSupplier;
}

function byteStack(options: StoreLayerOptions): KeyValueBytesStore {
  let store = (options.supplier ?? inMemoryKeyValueBytesStore)(options.name);
  if (options.logging) store = new ChangeLoggingLayer(store);
  if (options.caching) store = new CachingLayer(store);
  return store;
}

export function buildKeyValueStore<K, V>(options: StoreLayerOptions, keySerde: Serde<K>, valueSerde: Serde<V>): MeteredKeyValueStore<K, V> {
  return new MeteredKeyValueStore(byteStack(options), keySerde, valueSerde);
}

export interface WindowStoreOptions extends StoreLayerOptions {
  readonly retentionMs: number;
  readonly windowSizeMs: number;
  /** Join buffers keep every record of a key, so each put is a new entry. */
  readonly retainDuplicates: boolean;
}

export function buildWindowStore<K, V>(options: WindowStoreOptions, keySerde: Serde<K>, valueSerde: Serde<V>): MeteredWindowStore<K, V> {
  // Caching would merge duplicates, which a join buffer must keep apart.
  const stack = byteStack({ ...options, caching: options.caching && !options.retainDuplicates });
  return new MeteredWindowStore(stack, keySerde, valueSerde, options);
}

export interface SessionStoreOptions extends StoreLayerOptions {
  readonly retentionMs: number;
}

export function buildSessionStore<K, V>(options: SessionStoreOptions, keySerde: Serde<K>, valueSerde: Serde<V>): MeteredSessionStore<K, V> {
  return new MeteredSessionStore(byteStack(options), keySerde, valueSerde, options.retentionMs);
}
