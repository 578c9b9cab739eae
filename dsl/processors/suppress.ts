// suppress(): holds table updates back and emits only the latest value per key, either once
// the key's window has closed (final results) or once a time limit of stream time has passed.
// The buffer is a logged key-value store keyed by the serialized key, so held updates survive
// a restart like any other state.
import { DeserializationError, type Serde } from '../../core/serdes/serde.ts';
import type { Headers, StreamRecord, Change } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';
import type { Windowed } from '../../core/topology/windows.ts';
import type { KeyValueStore } from '../../state/stores/types.ts';
import { processorOf } from './stateless.ts';

export interface SuppressOptions<K> {
  /** When a buffered key may be emitted: the window end plus grace, or its first update plus the limit. */
  readonly bufferTimeMs: (record: StreamRecord<K, unknown>) => number;
  readonly delayMs: number;
  readonly recordsMax: number;
  /** What to do when the buffer is full: emit the oldest early, or fail. */
  readonly whenFull: 'emit-early' | 'shut-down';
  readonly keySerde: Serde<K>;
  readonly storeName: string;
}

/** A held update: the latest value, the value before the first held update, and times. */
export interface BufferedUpdate {
  readonly bufferTimeMs: number;
  readonly timestamp: number;
  readonly newValue: Uint8Array | null;
  readonly priorValue: Uint8Array | null;
}

function writeOptional(view: DataView, bytes: Uint8Array, position: number, value: Uint8Array | null): number {
  view.setInt32(position, value === null ? -1 : value.byteLength);
  if (value !== null) bytes.set(value, position + 4);
  return position + 4 + (value?.byteLength ?? 0);
}

function readOptional(view: DataView, bytes: Uint8Array, position: number, topic: string): [Uint8Array | null, number] {
  if (position + 4 > bytes.byteLength) throw new DeserializationError(topic, 'truncated suppress buffer entry');
  const length = view.getInt32(position);
  if (length < 0) return [null, position + 4];
  if (position + 4 + length > bytes.byteLength) throw new DeserializationError(topic, 'truncated suppress buffer entry');
  return [bytes.subarray(position + 4, position + 4 + length), position + 4 + length];
}

/** bufferTime (8) | timestamp (8) | new value (4-byte length, -1 for null, bytes) | prior value (same). */
export const bufferedUpdateSerde: Serde<BufferedUpdate> = {
  name: 'suppress-buffer',
  serialize: (update) => {
    const bytes = new Uint8Array(24 + (update.newValue?.byteLength ?? 0) + (update.priorValue?.byteLength ?? 0));
    const view = new DataView(bytes.buffer);
    view.setFloat64(0, update.bufferTimeMs);
    view.setFloat64(8, update.timestamp);
    writeOptional(view, bytes, writeOptional(view, bytes, 16, update.newValue), update.priorValue);
    return bytes;
  },
  deserialize: (bytes, topic) => {
    if (bytes.byteLength < 24) throw new DeserializationError(topic, 'short suppress buffer entry');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [newValue, next] = readOptional(view, bytes, 16, topic);
    const [priorValue] = readOptional(view, bytes, next, topic);
    return { bufferTimeMs: view.getFloat64(0), timestamp: view.getFloat64(8), newValue, priorValue };
  },
};

type HeldUpdates = KeyValueStore<Uint8Array, BufferedUpdate>;

export function suppressProcessor<K, V>(options: SuppressOptions<K>, valueSerde: Serde<V>): () => UntypedProcessor {
  const topic = options.storeName;
  const serializeValue = (value: V | null): Uint8Array | null => (value === null ? null : valueSerde.serialize(value, topic));
  const deserializeValue = (bytes: Uint8Array | null): V | null => (bytes === null ? null : valueSerde.deserialize(bytes, topic));
  return () => {
    let buffer: HeldUpdates | null = null;
    return processorOf<K, Change<V>, K, Change<V>>((record, forward, context) => {
      buffer ??= context.getStateStore<HeldUpdates>(options.storeName);
      const keyBytes = options.keySerde.serialize(record.key, topic);
      const existing = buffer.get(keyBytes);
      buffer.put(keyBytes, {
        bufferTimeMs: existing?.bufferTimeMs ?? options.bufferTimeMs(record),
        timestamp: record.timestamp,
        newValue: serializeValue(record.value.newValue),
        priorValue: existing === null ? serializeValue(record.value.oldValue) : existing.priorValue,
      });
      const emit = (key: Uint8Array, update: BufferedUpdate, headers: Headers): void => {
        buffer?.delete(key);
        const change = { newValue: deserializeValue(update.newValue), oldValue: deserializeValue(update.priorValue) };
        if (change.newValue === null && change.oldValue === null) return;
        forward({ key: options.keySerde.deserialize(key, topic), value: change, timestamp: update.timestamp, headers });
      };
      const expiryMs = context.currentStreamTimeMs() - options.delayMs;
      const held = buffer.all().sort((a, b) => a.value.bufferTimeMs - b.value.bufferTimeMs);
      let remaining = held.length;
      for (const entry of held) {
        const expired = entry.value.bufferTimeMs <= expiryMs;
        if (!expired && remaining <= options.recordsMax) break;
        if (!expired && options.whenFull === 'shut-down') throw new Error(`suppress buffer ${options.storeName} is over its limit of ${options.recordsMax} records`);
        emit(entry.key, entry.value, record.headers);
        remaining--;
      }
    })();
  };
}

/** Buffer time for final results: the end of the record's window. */
export function windowEndTime<K>(record: StreamRecord<Windowed<K>, unknown>): number {
  return record.key.window.endMs;
}
