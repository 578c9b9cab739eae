// suppress(): holds table updates back and emits only the latest value per key, either once
// the key's window has closed (final results) or once a time limit of stream time has passed.
// The buffer lives in the processor; it is rebuilt from upstream after a restart (a known gap:
// Kafka Streams logs it to a changelog).
import type { Serde } from '../../core/serdes/serde.ts';
import type { Change, StreamRecord } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';
import type { Windowed } from '../../core/topology/windows.ts';
import { processorOf } from './stateless.ts';

export interface SuppressOptions<K> {
  /** When a buffered key may be emitted: the window end plus grace, or its first update plus the limit. */
  readonly bufferTimeMs: (record: StreamRecord<K, unknown>) => number;
  readonly delayMs: number;
  readonly recordsMax: number;
  /** What to do when the buffer is full: emit the oldest early, or fail. */
  readonly whenFull: 'emit-early' | 'shut-down';
  readonly keySerde: Serde<K>;
}

interface Buffered<K, V> {
  record: StreamRecord<K, Change<V>>;
  readonly bufferTimeMs: number;
  readonly priorValue: V | null;
}

export function suppressProcessor<K, V>(options: SuppressOptions<K>): () => UntypedProcessor {
  return () => {
    // Map order is insertion order, so when the buffer is full its head is the oldest key.
    const buffer = new Map<string, Buffered<K, V>>();
    return processorOf<K, Change<V>, K, Change<V>>((record, forward, context) => {
      const keyBytes = options.keySerde.serialize(record.key, 'suppress');
      const hashKey = Buffer.from(keyBytes.buffer, keyBytes.byteOffset, keyBytes.byteLength).toString('latin1');
      const existing = buffer.get(hashKey);
      if (existing !== undefined) existing.record = record;
      else buffer.set(hashKey, { record, bufferTimeMs: options.bufferTimeMs(record), priorValue: record.value.oldValue });
      const emit = (entry: Buffered<K, V>): void => {
        const change = { newValue: entry.record.value.newValue, oldValue: entry.priorValue };
        if (change.newValue !== null || change.oldValue !== null) forward({ ...entry.record, value: change });
      };
      const expiryMs = context.currentStreamTimeMs() - options.delayMs;
      const expired = [...buffer].filter(([, entry]) => entry.bufferTimeMs <= expiryMs).sort((a, b) => a[1].bufferTimeMs - b[1].bufferTimeMs);
      for (const [key, entry] of expired) {
        buffer.delete(key);
        emit(entry);
      }
      while (buffer.size > options.recordsMax) {
        if (options.whenFull === 'shut-down') throw new Error(`suppress buffer is over its limit of ${options.recordsMax} records`);
        const [key, entry] = buffer.entries().next().value as [string, Buffered<K, V>];
        buffer.delete(key);
        emit(entry);
      }
    })();
  };
}

/** Buffer time for final results: the end of the record's window. */
export function windowEndTime<K>(record: StreamRecord<Windowed<K>, unknown>): number {
  return record.key.window.endMs;
}
