// Byte helpers shared by the store layers. Keys become latin1 strings for hashing because that
// mapping is one char per byte, so string order equals unsigned byte order.
export function bytesKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/** Appends big-endian 8-byte numbers (non-negative ms values) and a 4-byte sequence to a key. */
export function withSuffix(key: Uint8Array, numbers: readonly number[], sequence: number | null): Uint8Array {
  const suffixBytes = numbers.length * 8 + (sequence === null ? 0 : 4);
  const bytes = new Uint8Array(key.byteLength + suffixBytes);
  bytes.set(key, 0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = key.byteLength;
  for (const number of numbers) {
    // Two 32-bit halves avoid BigInt on this hot path; ms timestamps fit in 53 bits.
    const clamped = Math.max(0, number);
    view.setUint32(position, Math.floor(clamped / 0x1_0000_0000));
    view.setUint32(position + 4, clamped >>> 0);
    position += 8;
  }
  if (sequence !== null) view.setUint32(position, sequence);
  return bytes;
}

/** Reads the 8-byte number at index (0 = first suffix number) from a key with the given suffix size. */
export function suffixNumber(bytes: Uint8Array, suffixBytes: number, index: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const position = bytes.byteLength - suffixBytes + index * 8;
  return view.getUint32(position) * 0x1_0000_0000 + view.getUint32(position + 4);
}

export function withoutSuffix(bytes: Uint8Array, suffixBytes: number): Uint8Array {
  return bytes.subarray(0, bytes.byteLength - suffixBytes);
}
