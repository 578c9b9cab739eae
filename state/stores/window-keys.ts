// A window store's composite key (record key | windowStart (8 bytes) | sequence (4 bytes), see
// typed.ts) as two parts: the record key's hashed form (hashKeyOf: one char per byte) and the
// window start as a number. The window fast path of the layers (WindowedBytesAccess) passes a
// window around as these two parts, so the composite string is not built, hashed and looked up
// per record; the composite bytes are made once, where they must exist (the changelog record and
// the RocksDB write), and shared between the two. Only windows of sequence 0 go this way: stores
// that retain duplicates number their entries and keep the byte path.
import { writeInt32 } from '../../core/serdes/numbers.ts';
import { hashedSuffixNumber } from './bytes.ts';

/** Bytes after the record key in a window store's keys. */
export const WINDOW_SUFFIX_BYTES = 12;

/**
 * Reads and writes of one window by its two parts, beside a byte store's composite-key interface
 * and coherent with it: windowHashKey(recordKeyHash, startMs) is the hashed composite key of the
 * same entry. startMs is a non-negative integer (the composite layout clamps at 0).
 */
export interface WindowedBytesAccess {
  getWindow(recordKeyHash: string, startMs: number): Uint8Array | null;
  /** bytes is the window's composite key (windowKeyBytes), handed over: nobody changes it later. */
  putWindow(recordKeyHash: string, startMs: number, bytes: Uint8Array, value: Uint8Array | null): void;
}

export function hasWindowAccess(store: object): store is WindowedBytesAccess {
  const candidate = store as Partial<WindowedBytesAccess>;
  return typeof candidate.getWindow === 'function' && typeof candidate.putWindow === 'function';
}

/** Latin1 forms of window suffixes (sequence 0) by window start; only live starts are asked for. */
const suffixHashes = new Map<number, string>();
let lastSuffixStartMs = Number.NaN;
let lastSuffix = '';

/** The latin1 form of the 12-byte suffix of window startMs with sequence 0. */
export function windowSuffixHash(startMs: number): string {
  if (startMs === lastSuffixStartMs) return lastSuffix;
  let suffix = suffixHashes.get(startMs);
  if (suffix === undefined) {
    suffix = String.fromCharCode(...windowKeyBytes('', startMs));
    if (suffixHashes.size >= 1024) suffixHashes.clear();
    suffixHashes.set(startMs, suffix);
  }
  lastSuffixStartMs = startMs;
  lastSuffix = suffix;
  return suffix;
}

/** The hashed composite key of window (recordKeyHash, startMs), sequence 0. */
export function windowHashKey(recordKeyHash: string, startMs: number): string {
  return recordKeyHash + windowSuffixHash(startMs);
}

/**
 * The composite key bytes of window (recordKeyHash, startMs), sequence 0. They are made at a
 * flush for the changelog record and the RocksDB write batch, which copy them before long, so a
 * small typed array filled by hand serves: cheaper to make than a slice of Buffer's pool filled
 * by the native encoder, and dead young.
 */
export function windowKeyBytes(recordKeyHash: string, startMs: number): Uint8Array {
  const length = recordKeyHash.length;
  const bytes = new Uint8Array(length + WINDOW_SUFFIX_BYTES);
  for (let index = 0; index < length; index++) bytes[index] = recordKeyHash.charCodeAt(index);
  writeWindowSuffix(bytes, startMs);
  // The sequence (0) is the array's initial zeros.
  return bytes;
}

/** Writes windowStart (clamped at 0, as withSuffix does) and sequence 0 into the last 12 bytes. */
export function writeWindowSuffix(bytes: Uint8Array, windowStartMs: number): void {
  const position = bytes.byteLength - WINDOW_SUFFIX_BYTES;
  const clamped = Math.max(0, windowStartMs);
  writeInt32(bytes, position, Math.floor(clamped / 0x1_0000_0000));
  writeInt32(bytes, position + 4, clamped >>> 0);
}

/** The window start in a hashed composite key. */
export function hashedWindowStart(hashKey: string): number {
  return hashedSuffixNumber(hashKey, WINDOW_SUFFIX_BYTES);
}

/** Whether a hashed composite key has sequence 0 (the last four bytes are zero). */
export function hashedSequenceIsZero(hashKey: string): boolean {
  const length = hashKey.length;
  return hashKey.charCodeAt(length - 1) === 0 && hashKey.charCodeAt(length - 2) === 0 && hashKey.charCodeAt(length - 3) === 0 && hashKey.charCodeAt(length - 4) === 0;
}
