// Store descriptors for DSL operators. Each descriptor builds the layered store stack
// Metered(Caching(ChangeLogging(inner))) for one task; tables store values with timestamps.
import { valueAndTimestampSerde } from '../core/serdes/composite.ts';
import type { Serde } from '../core/serdes/serde.ts';
import type { StoreDescriptor } from '../core/topology/topology.ts';
import { buildKeyValueStore, buildSessionStore, buildWindowStore } from '../state/stores/builders.ts';
import type { KeyValueBytesStoreSupplier } from '../state/stores/types.ts';

export interface StoreSettings {
  readonly logging: boolean;
  readonly caching: boolean;
  /** Named by the user and not hidden with `queryable: false`. */
  readonly queryable: boolean;
  readonly changelogConfig: Readonly<Record<string, string>>;
  readonly supplier?: KeyValueBytesStoreSupplier;
}

/** Settings from Materialized-like options; a store is queryable only when they name it. */
export function settingsFrom(options: {
  readonly name?: string;
  readonly queryable?: boolean;
  readonly logging?: boolean;
  readonly caching?: boolean;
  readonly changelogConfig?: Readonly<Record<string, string>>;
  readonly storeSupplier?: KeyValueBytesStoreSupplier;
}): StoreSettings {
  const queryable = options.name !== undefined && options.queryable !== false;
  const base = { logging: options.logging ?? true, caching: options.caching ?? true, queryable, changelogConfig: options.changelogConfig ?? {} };
  return options.storeSupplier === undefined ? base : { ...base, supplier: options.storeSupplier };
}

function layerOptions(name: string, settings: StoreSettings) {
  const base = { name, logging: settings.logging, caching: settings.caching };
  return settings.supplier === undefined ? base : { ...base, supplier: settings.supplier };
}

function common(name: string, settings: StoreSettings) {
  return {
    name,
    logging: settings.logging,
    caching: settings.caching,
    queryable: settings.queryable,
    changelogTopic: settings.logging ? `${name}-changelog` : null,
    changelogConfig: settings.changelogConfig,
  };
}

export function keyValueStoreDescriptor<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, settings: StoreSettings, timestamped: boolean): StoreDescriptor {
  const storedSerde: Serde<unknown> = timestamped ? (valueAndTimestampSerde(valueSerde) as Serde<unknown>) : (valueSerde as Serde<unknown>);
  return {
    ...common(name, settings),
    kind: 'key-value',
    timestamped,
    retentionMs: null,
    windowSizeMs: null,
    keySerdeName: keySerde.name,
    valueSerdeName: valueSerde.name,
    build: () => buildKeyValueStore(layerOptions(name, settings), keySerde, storedSerde),
  };
}

export function windowStoreDescriptor<K, V>(
  name: string,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  settings: StoreSettings,
  window: { readonly retentionMs: number; readonly windowSizeMs: number; readonly retainDuplicates: boolean; readonly timestamped: boolean },
): StoreDescriptor {
  const storedSerde: Serde<unknown> = window.timestamped ? (valueAndTimestampSerde(valueSerde) as Serde<unknown>) : (valueSerde as Serde<unknown>);
  return {
    ...common(name, settings),
    kind: 'window',
    timestamped: window.timestamped,
    retentionMs: window.retentionMs,
    windowSizeMs: window.windowSizeMs,
    keySerdeName: keySerde.name,
    valueSerdeName: valueSerde.name,
    build: () => buildWindowStore({ ...layerOptions(name, settings), ...window }, keySerde, storedSerde),
  };
}

export function sessionStoreDescriptor<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, settings: StoreSettings, retentionMs: number): StoreDescriptor {
  return {
    ...common(name, settings),
    kind: 'session',
    timestamped: false,
    retentionMs,
    windowSizeMs: null,
    keySerdeName: keySerde.name,
    valueSerdeName: valueSerde.name,
    build: () => buildSessionStore({ ...layerOptions(name, settings), retentionMs }, keySerde, valueSerde),
  };
}
