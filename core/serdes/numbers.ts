// Big-endian number layouts written and read byte by byte. A DataView per call, or a BigInt per
// 8-byte value, costs more than the rest of a small serde call, and serdes run several times per
// record on the streams hot path.

export function writeInt32(bytes: Uint8Array, offset: number, value: number): void {
  // Typed-array stores keep the low 8 bits, which is the ToInt32 wrap DataView.setInt32 applies.
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

export function readInt32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] as number) << 24) | ((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number);
}

export function readUint32(bytes: Uint8Array, offset: number): number {
  return readInt32(bytes, offset) >>> 0;
}

/**
 * A safe integer as an 8-byte two's-complement number, the layout of Java's long: the signed
 * high half and the unsigned low half are exact for every safe integer.
 */
export function writeInt64Number(bytes: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new TypeError(`an 8-byte integer field needs a safe integer, got ${value}`);
  writeInt32(bytes, offset, Math.floor(value / 0x1_0000_0000));
  writeInt32(bytes, offset + 4, value >>> 0);
}

/**
 * Reads an 8-byte two's-complement number; values beyond the safe range lose precision. Small
 * values come back as the engine's small integers, not boxed doubles: a timestamp field that
 * holds small integers in some objects and doubles in others makes V8 migrate every object of
 * that shape it made before, which cost more than the rest of a stream-table join.
 */
export function readInt64Number(bytes: Uint8Array, offset: number): number {
  const high = readInt32(bytes, offset);
  const low = readUint32(bytes, offset + 4);
  return high === 0 ? low : high * 0x1_0000_0000 + low;
}
