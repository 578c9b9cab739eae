// Byte helpers shared by the store layers. Keys become latin1 strings for hashing because that
// mapping is one char per byte, so string order equals unsigned byte order.
export function bytesKey(bytes: Uint8Array): string {
  // Buffer's native latin1Slice works on any Uint8Array, which saves a Buffer view per call.
  return nativeSlices.latin1Slice.call(bytes, 0, bytes.byteLength);
}

const nativeSlices = Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string };

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** The first index of sorted (hashed) keys whose key is not below target. */
export function lowerBound(keys: readonly string[], target: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((keys[middle] as string) < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Appends big-endian 8-byte numbers (non-negative ms values) and a 4-byte sequence to a key.
 * Bytes are written by hand: a DataView per call costs more than the rest of a store put.
 */
export function withSuffix(key: Uint8Array, numbers: readonly number[], sequence: number | null): Uint8Array {
  const suffixBytes = numbers.length * 8 + (sequence === null ? 0 : 4);
  const bytes = new Uint8Array(key.byteLength + suffixBytes);
  bytes.set(key, 0);
  let position = key.byteLength;
  for (const number of numbers) {
    const clamped = Math.max(0, number);
    writeUint32(bytes, position, Math.floor(clamped / 0x1_0000_0000));
    writeUint32(bytes, position + 4, clamped >>> 0);
    position += 8;
  }
  if (sequence !== null) writeUint32(bytes, position, sequence);
  return bytes;
}

function writeUint32(bytes: Uint8Array, position: number, value: number): void {
  bytes[position] = value >>> 24;
  bytes[position + 1] = (value >>> 16) & 0xff;
  bytes[position + 2] = (value >>> 8) & 0xff;
  bytes[position + 3] = value & 0xff;
}

export function readUint32(bytes: Uint8Array, position: number): number {
  return (((bytes[position] ?? 0) << 24) >>> 0) + ((bytes[position + 1] ?? 0) << 16) + ((bytes[position + 2] ?? 0) << 8) + (bytes[position + 3] ?? 0);
}

/** Reads the 8-byte number at index (0 = first suffix number) from a key with the given suffix size. */
export function suffixNumber(bytes: Uint8Array, suffixBytes: number, index: number): number {
  const position = bytes.byteLength - suffixBytes + index * 8;
  return readUint32(bytes, position) * 0x1_0000_0000 + readUint32(bytes, position + 4);
}

/** suffixNumber(key, suffixBytes, 0) read from the key's hashed (latin1) form, one char per byte. */
export function hashedSuffixNumber(hashKey: string, suffixBytes: number): number {
  const position = hashKey.length - suffixBytes;
  let high = 0;
  let low = 0;
  for (let index = 0; index < 4; index++) {
    high = high * 256 + hashKey.charCodeAt(position + index);
    low = low * 256 + hashKey.charCodeAt(position + 4 + index);
  }
  return high * 0x1_0000_0000 + low;
}

export function withoutSuffix(bytes: Uint8Array, suffixBytes: number): Uint8Array {
  return bytes.subarray(0, bytes.byteLength - suffixBytes);
}

/** The smallest key greater than every key starting with prefix, or null when there is none. */
export function prefixUpperBound(prefix: Uint8Array): Uint8Array | null {
  for (let index = prefix.byteLength - 1; index >= 0; index--) {
    if ((prefix[index] as number) !== 0xff) {
      const bound = prefix.slice(0, index + 1);
      bound[index] = (bound[index] as number) + 1;
      return bound;
    }
  }
  return null;
}

export function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.byteLength < prefix.byteLength) return false;
  for (let index = 0; index < prefix.byteLength; index++) if (key[index] !== prefix[index]) return false;
  return true;
}
