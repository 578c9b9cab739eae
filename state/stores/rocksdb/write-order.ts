// The order in which a write batch's records go into RocksDB. RocksDB's memtable is a skip list
// that remembers where its last insert went, so a batch inserted in key order skips most of each
// search: measured here on restoration batches of random 16-byte keys, inserting them unsorted
// cost about 2 us more CPU per record in RocksDB's write and flush threads than inserting them
// sorted (2 to 3 us, measured with perf per thread). The order is RocksDB's default comparator's (bytewise, a key before every longer key
// it begins), and of the records of one key only the last is kept: a later put or delete of a
// key in the same batch replaces the earlier one, so the batch leaves the store as before, with
// fewer writes. A compacted changelog's unread tail (and a standby's stream of updates) often
// holds a key several times, and a delete that comes last stays a delete.
//
// The sort is a most-significant-digit sort on four-byte digits: each record gets one number,
// its digit times INDEX_RANGE plus its index, and a Float64Array of those sorts natively. A digit
// counts each byte as byte + 1 and a byte past the key's end as 0, so a key sorts before the
// longer keys it begins, and a digit holding a key's end closes its key (base 257: four such
// bytes and the index still fit a double's 53 bits). Runs of records with equal open digits are
// sorted again on the next four bytes: random keys cost one native sort, keys sharing a long
// prefix one more per shared digit. A run of equal closed digits is one key written more than
// once, already in batch order; all but its last record are dropped.

/** Records per batch the order can index; larger batches are written as given. */
export const INDEX_RANGE = 1 << 20;
const DIGIT_BASE = 257;

/**
 * Where the keys of a batch are: key index lies at bytes(index)[start(index) ..+ length(index)].
 * Packed batches keep every key in one buffer; record arrays keep one array per key.
 */
export interface BatchKeys {
  readonly count: number;
  bytes(index: number): Uint8Array;
  start(index: number): number;
  length(index: number): number;
}

/** Reused by every batch: batches are ordered one at a time on the event loop. */
let digitScratch = new Float64Array(1024);
let droppedScratch = new Uint8Array(1024);
let orderScratch = new Uint32Array(1024);

/**
 * The indexes of the records to write, in write order: sorted bytewise by key, one per key (the
 * last). The answer is a view of scratch space that the next call overwrites. Null when the
 * batch is too large to order (it is then written as given, which is correct but slower).
 */
export function writeOrder(keys: BatchKeys): Uint32Array | null {
  const count = keys.count;
  if (count > INDEX_RANGE) return null;
  if (digitScratch.length < count) {
    const size = Math.max(count, digitScratch.length * 2);
    digitScratch = new Float64Array(size);
    droppedScratch = new Uint8Array(size);
    orderScratch = new Uint32Array(size);
  }
  const digits = digitScratch.subarray(0, count);
  const dropped = droppedScratch.subarray(0, count);
  dropped.fill(0);
  for (let index = 0; index < count; index++) digits[index] = index;
  sortRun(keys, digits, dropped, 0, count, 0);
  const order = orderScratch;
  let kept = 0;
  for (let position = 0; position < count; position++) {
    if (dropped[position] === 0) order[kept++] = (digits[position] as number) % INDEX_RANGE;
  }
  return order.subarray(0, kept);
}

/**
 * Sorts entries [from, to) of digits, whose records share their first `offset` key bytes, by the
 * rest of their keys; records of one key keep their batch order, and all but the last of them
 * are marked in dropped. Each entry's index is its value modulo INDEX_RANGE.
 */
function sortRun(keys: BatchKeys, digits: Float64Array, dropped: Uint8Array, from: number, to: number, offset: number): void {
  for (let position = from; position < to; position++) {
    const index = (digits[position] as number) % INDEX_RANGE;
    const start = keys.start(index);
    digits[position] = digitAt(keys.bytes(index), start + offset, start + keys.length(index)) * INDEX_RANGE + index;
  }
  digits.subarray(from, to).sort();
  let runStart = from;
  let runDigit = Math.floor((digits[from] as number) / INDEX_RANGE);
  for (let position = from + 1; position <= to; position++) {
    const digit = position < to ? Math.floor((digits[position] as number) / INDEX_RANGE) : -1;
    if (digit === runDigit) continue;
    if (position - runStart > 1) {
      // A closed digit (its last byte lies past the keys' end) means one key, repeated.
      if (runDigit % DIGIT_BASE === 0) dropped.fill(1, runStart, position - 1);
      else sortRun(keys, digits, dropped, runStart, position, offset + 4);
    }
    runStart = position;
    runDigit = digit;
  }
}

/** The four bytes of `bytes` from start as one base-257 number: byte + 1 each, 0 at or past end. */
function digitAt(bytes: Uint8Array, start: number, end: number): number {
  const byte0 = start < end ? (bytes[start] as number) + 1 : 0;
  const byte1 = start + 1 < end ? (bytes[start + 1] as number) + 1 : 0;
  const byte2 = start + 2 < end ? (bytes[start + 2] as number) + 1 : 0;
  const byte3 = start + 3 < end ? (bytes[start + 3] as number) + 1 : 0;
  return ((byte0 * DIGIT_BASE + byte1) * DIGIT_BASE + byte2) * DIGIT_BASE + byte3;
}

/** The keys of records held as objects. */
export function recordKeys(records: readonly { readonly key: Uint8Array }[]): BatchKeys {
  return {
    count: records.length,
    bytes: (index) => (records[index] as { readonly key: Uint8Array }).key,
    start: () => 0,
    length: (index) => (records[index] as { readonly key: Uint8Array }).key.byteLength,
  };
}

/**
 * The keys of a packed batch (worker/protocol.ts: per record key length u32, value length i32,
 * key, value), given where each record starts.
 */
export function packedKeys(packed: ArrayBuffer, view: DataView, positions: Float64Array): BatchKeys {
  const bytes = new Uint8Array(packed);
  return {
    count: positions.length,
    bytes: () => bytes,
    start: (index) => (positions[index] as number) + 8,
    length: (index) => view.getUint32(positions[index] as number),
  };
}
