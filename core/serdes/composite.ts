// Serdes built from other serdes: windowed keys, timestamped table values and table changes.
// Layouts are fixed-width prefixes or suffixes so no length needs storing.
import type { Change, ValueAndTimestamp } from '../topology/record.ts';
import type { Windowed } from '../topology/windows.ts';
import { readInt64Number, readUint32, writeInt32, writeInt64Number } from './numbers.ts';
import { DeserializationError, isFixedWidth, type Serde } from './serde.ts';

/** Windowed<K> as key bytes followed by window start and end, each an 8-byte big-endian ms. */
export function windowedSerde<K>(inner: Serde<K>): Serde<Windowed<K>> {
  return {
    name: `windowed(${inner.name})`,
    serialize: (value, topic) => {
      const keyBytes = inner.serialize(value.key, topic);
      const bytes = new Uint8Array(keyBytes.byteLength + 16);
      bytes.set(keyBytes, 0);
      writeInt64Number(bytes, keyBytes.byteLength, value.window.startMs);
      writeInt64Number(bytes, keyBytes.byteLength + 8, value.window.endMs);
      return bytes;
    },
    deserialize: (bytes, topic) => {
      if (bytes.byteLength < 16) throw new DeserializationError(topic, 'windowed key shorter than 16 bytes');
      const keyLength = bytes.byteLength - 16;
      const startMs = readInt64Number(bytes, keyLength);
      const endMs = readInt64Number(bytes, keyLength + 8);
      return { key: inner.deserialize(bytes.subarray(0, keyLength), topic), window: { startMs, endMs } };
    },
  };
}

/**
 * A value with its timestamp: 8-byte big-endian timestamp, then the value bytes. Fixed-width
 * inner serdes (counts, sums) are written in place, so a table value is one allocation.
 */
export function valueAndTimestampSerde<V>(inner: Serde<V>): Serde<ValueAndTimestamp<V>> {
  const name = `timestamped(${inner.name})`;
  if (isFixedWidth(inner)) {
    const totalBytes = 8 + inner.widthBytes;
    return {
      name,
      serialize: (value) => {
        const bytes = new Uint8Array(totalBytes);
        writeInt64Number(bytes, 0, value.timestamp);
        inner.writeInto(value.value, bytes, 8);
        return bytes;
      },
      deserialize: (bytes, topic) => {
        if (bytes.byteLength < 8) throw new DeserializationError(topic, 'timestamped value shorter than 8 bytes');
        if (bytes.byteLength !== totalBytes) throw new DeserializationError(topic, `${inner.name} expects ${inner.widthBytes} bytes, got ${bytes.byteLength - 8}`);
        return { timestamp: readInt64Number(bytes, 0), value: inner.readFrom(bytes, 8) };
      },
    };
  }
  return {
    name,
    serialize: (value, topic) => {
      const valueBytes = inner.serialize(value.value, topic);
      const bytes = new Uint8Array(valueBytes.byteLength + 8);
      writeInt64Number(bytes, 0, value.timestamp);
      bytes.set(valueBytes, 8);
      return bytes;
    },
    deserialize: (bytes, topic) => {
      if (bytes.byteLength < 8) throw new DeserializationError(topic, 'timestamped value shorter than 8 bytes');
      return { timestamp: readInt64Number(bytes, 0), value: inner.deserialize(bytes.subarray(8), topic) };
    },
  };
}

const EMPTY = new Uint8Array(0);

/**
 * A table change for repartition topics: a flag byte (bit 0 new value present, bit 1 old value
 * present), the new value's length as 4 bytes, the new value, then the old value.
 */
export function changeSerde<V>(inner: Serde<V>): Serde<Change<V>> {
  return {
    name: `change(${inner.name})`,
    serialize: (change, topic) => {
      const newBytes = change.newValue === null ? EMPTY : inner.serialize(change.newValue, topic);
      const oldBytes = change.oldValue === null ? EMPTY : inner.serialize(change.oldValue, topic);
      const bytes = new Uint8Array(5 + newBytes.byteLength + oldBytes.byteLength);
      bytes[0] = (change.newValue === null ? 0 : 1) | (change.oldValue === null ? 0 : 2);
      writeInt32(bytes, 1, newBytes.byteLength);
      bytes.set(newBytes, 5);
      bytes.set(oldBytes, 5 + newBytes.byteLength);
      return bytes;
    },
    deserialize: (bytes, topic) => {
      if (bytes.byteLength < 5) throw new DeserializationError(topic, 'change shorter than 5 bytes');
      const flags = bytes[0] ?? 0;
      const newLength = readUint32(bytes, 1);
      if (5 + newLength > bytes.byteLength) throw new DeserializationError(topic, 'change new-value length out of range');
      const newValue = (flags & 1) === 0 ? null : inner.deserialize(bytes.subarray(5, 5 + newLength), topic);
      const oldValue = (flags & 2) === 0 ? null : inner.deserialize(bytes.subarray(5 + newLength), topic);
      return { newValue, oldValue };
    },
  };
}
