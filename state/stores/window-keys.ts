// A window store's composite key (record key | windowStart (8 bytes) | sequence (4 bytes), see
// typed.ts) as two parts: the record key's hashed form (hashKeyOf: one char per byte) and the
// window start as a number. The window fast path of the layers (WindowedBytesAccess) passes a
// window around as these two parts, so the composite string is not built, hashed and looked up
// per record; the composite bytes are made once, where they must exist (the changelog record and
// the RocksDB write), and shared between the two. Only windows of sequence 0 go this way: stores
// that retain duplicates number their entries and keep the byte path.
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

function suffixCode(startMs: number, index: number): number {
  const word = index < 4 ? Math.floor(startMs / 0x1_0000_0000) : startMs >>> 0;
  return (word >>> (8 * (3 - (index & 3)))) & 0xff;
}

/** The latin1 form of the 12-byte suffix of window startMs with sequence 0. */
export function windowSuffixHash(startMs: number): string {
  if (startMs === lastSuffixStartMs) return lastSuffix;
  let suffix = suffixHashes.get(startMs);
  if (suffix === undefined) {
    const clamped = Math.max(0, startMs);
    const codes: number[] = [];
    for (let index = 0; index < 8; index++) codes.push(suffixCode(clamped, index));
    codes.push(0, 0, 0, 0);
    suffix = String.fromCharCode(...codes);
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
  const clamped = Math.max(0, startMs);
  const high = Math.floor(clamped / 0x1_0000_0000);
  const low = clamped >>> 0;
  bytes[length] = high >>> 24;
  bytes[length + 1] = (high >>> 16) & 0xff;
  bytes[length + 2] = (high >>> 8) & 0xff;
  bytes[length + 3] = high & 0xff;
  bytes[length + 4] = low >>> 24;
  bytes[length + 5] = (low >>> 16) & 0xff;
  bytes[length + 6] = (low >>> 8) & 0xff;
  bytes[length + 7] = low & 0xff;
  // The sequence (0) is the array's initial zeros.
  return bytes;
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
