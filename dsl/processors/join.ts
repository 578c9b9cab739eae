// Stream-stream joins (both sides buffered in window stores) and lookup joins (a stream record
// looks up a table or global table row). Left and outer stream-stream joins emit a record with
// a null side only once the window of an unmatched record has closed, as Kafka Streams 3.1+ does,
// so no spurious null results appear before a late match.
import { DeserializationError, type Serde } from '../../core/serdes/serde.ts';
import type { ProcessorContext } from '../../core/topology/processor.ts';
import type { StreamRecord } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';
import type { KeyValueStore, WindowStore } from '../../state/stores/types.ts';
import { processorOf } from './stateless.ts';
import type { ValueGetterSupplier } from './table.ts';

export type JoinSide = 'left' | 'right';

export interface SideKey<K> {
  readonly timestamp: number;
  readonly side: JoinSide;
  readonly key: K;
}

/** Unmatched-record buffer key: timestamp first so a range walks records oldest first. */
export function sideKeySerde<K>(keySerde: Serde<K>): Serde<SideKey<K>> {
  return {
    name: `join-side(${keySerde.name})`,
    serialize: (value, topic) => {
      const keyBytes = keySerde.serialize(value.key, topic);
      const bytes = new Uint8Array(9 + keyBytes.byteLength);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(value.timestamp));
      bytes[8] = value.side === 'left' ? 1 : 0;
      bytes.set(keyBytes, 9);
      return bytes;
    },
    deserialize: (bytes, topic) => {
      if (bytes.byteLength < 9) throw new DeserializationError(topic, 'join side key shorter than 9 bytes');
      const timestamp = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0));
      return { timestamp, side: bytes[8] === 1 ? 'left' : 'right', key: keySerde.deserialize(bytes.subarray(9), topic) };
    },
  };
}

export interface StreamJoinSideOptions<K, V, VO, VR> {
  readonly side: JoinSide;
  readonly thisStore: string;
  readonly otherStore: string;
  /** Other records join when other.ts is within [ts - beforeMs, ts + afterMs]. */
  readonly beforeMs: number;
  readonly afterMs: number;
  readonly graceMs: number;
  /** Called with this side's and the other side's value; either may be null in outer results. */
  readonly joiner: (value: V | null, other: VO | null, key: K) => VR;
  /** Buffer of unmatched records, when this join emits unmatched records of some side. */
  readonly unmatchedStore: string | null;
  readonly emitUnmatched: { readonly left: boolean; readonly right: boolean };
  /** How long past its timestamp each side's record may still be matched. */
  readonly windowAfterMs: { readonly left: number; readonly right: number };
}

/** An unmatched record, tagged with its side so one buffer holds both value types. */
export interface SideValue {
  readonly side: JoinSide;
  readonly value: unknown;
}

/** Serializes a SideValue with the serde of its side: one flag byte (1 = left), then the value. */
export function sideValueSerde(leftSerde: Serde<unknown>, rightSerde: Serde<unknown>): Serde<SideValue> {
  return {
    name: `join-value(${leftSerde.name}, ${rightSerde.name})`,
    serialize: (entry, topic) => {
      const valueBytes = (entry.side === 'left' ? leftSerde : rightSerde).serialize(entry.value, topic);
      const bytes = new Uint8Array(1 + valueBytes.byteLength);
      bytes[0] = entry.side === 'left' ? 1 : 0;
      bytes.set(valueBytes, 1);
      return bytes;
    },
    deserialize: (bytes, topic) => {
      if (bytes.byteLength < 1) throw new DeserializationError(topic, 'empty join value');
      const side: JoinSide = bytes[0] === 1 ? 'left' : 'right';
      return { side, value: (side === 'left' ? leftSerde : rightSerde).deserialize(bytes.subarray(1), topic) };
    },
  };
}

type Unmatched = KeyValueStore<SideKey<unknown>, SideValue>;

export function streamJoinProcessor<K, V, VO, VR>(options: StreamJoinSideOptions<K, V, VO, VR>): () => UntypedProcessor {
  return () => {
    let thisStore: WindowStore<K, V> | null = null;
    let otherStore: WindowStore<K, VO> | null = null;
    let unmatched: Unmatched | null = null;
    const otherSide: JoinSide = options.side === 'left' ? 'right' : 'left';
    return processorOf<K, V, K, VR>((record, forward, context) => {
      if (record.key === null || record.key === undefined || record.value === null || record.value === undefined) {
        context.metrics.droppedRecords++;
        return;
      }
      thisStore ??= context.getStateStore<WindowStore<K, V>>(options.thisStore);
      otherStore ??= context.getStateStore<WindowStore<K, VO>>(options.otherStore);
      if (options.unmatchedStore !== null) unmatched ??= context.getStateStore<Unmatched>(options.unmatchedStore);
      const streamTimeMs = context.currentStreamTimeMs();
      if (record.timestamp + options.windowAfterMs[options.side] + options.graceMs < streamTimeMs) {
        context.metrics.droppedLateRecords++;
        return;
      }
      thisStore.put(record.key, record.value, record.timestamp);
      const matches = otherStore.fetchRange(record.key, record.timestamp - options.beforeMs, record.timestamp + options.afterMs);
      for (const match of matches) {
        unmatched?.delete({ timestamp: match.windowStartMs, side: otherSide, key: record.key });
        forward({ ...record, timestamp: Math.max(record.timestamp, match.windowStartMs), value: options.joiner(record.value, match.value, record.key) });
      }
      if (matches.length === 0 && unmatched !== null && options.emitUnmatched[options.side]) {
        unmatched.put({ timestamp: record.timestamp, side: options.side, key: record.key }, { side: options.side, value: record.value });
      }
      if (unmatched !== null) emitExpired(unmatched, options, streamTimeMs, forward);
    })();
  };
}

/**
 * Emits and removes unmatched records whose join window has closed. The buffer is ordered by
 * timestamp, so the walk stops at the first record that no side's window could have closed.
 */
function emitExpired<K, V, VO, VR>(unmatched: Unmatched, options: StreamJoinSideOptions<K, V, VO, VR>, streamTimeMs: number, forward: (record: StreamRecord<K, VR>) => void): void {
  const shortestAfterMs = Math.min(options.windowAfterMs.left, options.windowAfterMs.right);
  for (const entry of unmatched.all()) {
    const { timestamp, side } = entry.key;
    if (timestamp + shortestAfterMs + options.graceMs >= streamTimeMs) break;
    if (timestamp + options.windowAfterMs[side] + options.graceMs >= streamTimeMs) continue;
    unmatched.delete(entry.key);
    const key = entry.key.key as K;
    const value = side === options.side ? options.joiner(entry.value.value as V, null, key) : options.joiner(null, entry.value.value as VO, key);
    forward({ key, value, timestamp, headers: [] });
  }
}

/**
 * A stream record looks up a row: in a table by its own key, or in a global table by a key it
 * selects. Inner joins drop records without a row; left joins pass null for the row.
 */
export function lookupJoinProcessor<K, V, KT, VT, VR>(
  getter: ValueGetterSupplier<KT, VT>,
  selectKey: (value: V, key: K) => KT,
  joiner: (value: V, row: VT | null, key: K) => VR,
  left: boolean,
): () => UntypedProcessor {
  return () => {
    const lookup = getter.create();
    let initialised = false;
    return processorOf<K, V, K, VR>((record, forward, context) => {
      if (!initialised) {
        lookup.init(context as ProcessorContext<unknown, unknown>);
        initialised = true;
      }
      if (record.value === null || record.value === undefined) {
        context.metrics.droppedRecords++;
        return;
      }
      const tableKey = selectKey(record.value, record.key);
      const found = tableKey === null || tableKey === undefined ? null : lookup.get(tableKey);
      if (found === null && !left) return;
      forward({ key: record.key, value: joiner(record.value, found?.value ?? null, record.key), timestamp: record.timestamp, headers: record.headers });
    })();
  };
}
