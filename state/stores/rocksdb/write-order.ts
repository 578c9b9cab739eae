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
 * Runs up to this long are sorted by comparing keys instead of by more digits: a key repeated a
 * few times in a batch (a changelog's unread tail of counts) would otherwise cost a native sort
 * per remaining digit of its key (measured: 0.9 to 1.2 us per record of 16-byte keys, each
 * repeated about three times per batch, against 0.2 us for unique keys).
 */
const SMALL_RUN = 16;

/**
 * Where the keys of a batch are: key index lies at lengths[index] bytes from starts[index] of
 * buffer (packed batches keep every key in one buffer), or is arrays[index] whole.
 */
export interface BatchKeys {
  readonly count: number;
  readonly buffer: Uint8Array | null;
  readonly arrays: readonly Uint8Array[] | null;
  readonly starts: Float64Array;
  readonly lengths: Float64Array;
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
    const start = keys.starts[index] as number;
    digits[position] = digitAt(keyBytes(keys, index), start + offset, start + (keys.lengths[index] as number)) * INDEX_RANGE + index;
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
      else if (position - runStart <= SMALL_RUN) sortSmallRun(keys, digits, dropped, runStart, position, offset + 4);
      else sortRun(keys, digits, dropped, runStart, position, offset + 4);
    }
    runStart = position;
    runDigit = digit;
  }
}

/**
 * Insertion sort of entries [from, to) by their keys' bytes from offset on; it never moves a
 * record past an equal key, so records of one key keep their batch order, and all but the last
 * of them are marked in dropped.
 */
function sortSmallRun(keys: BatchKeys, digits: Float64Array, dropped: Uint8Array, from: number, to: number, offset: number): void {
  for (let position = from + 1; position < to; position++) {
    const entry = digits[position] as number;
    const index = entry % INDEX_RANGE;
    let before = position - 1;
    while (before >= from && compareFrom(keys, (digits[before] as number) % INDEX_RANGE, index, offset) > 0) {
      digits[before + 1] = digits[before] as number;
      before--;
    }
    digits[before + 1] = entry;
  }
  for (let position = from; position + 1 < to; position++) {
    if (compareFrom(keys, (digits[position] as number) % INDEX_RANGE, (digits[position + 1] as number) % INDEX_RANGE, offset) === 0) dropped[position] = 1;
  }
}

/** Bytewise comparison of two keys of the batch from byte offset on (their earlier bytes are equal). */
function compareFrom(keys: BatchKeys, left: number, right: number, offset: number): number {
  const leftBytes = keyBytes(keys, left);
  const rightBytes = keyBytes(keys, right);
  const leftStart = keys.starts[left] as number;
  const rightStart = keys.starts[right] as number;
  const leftLength = keys.lengths[left] as number;
  const rightLength = keys.lengths[right] as number;
  const length = Math.min(leftLength, rightLength);
  for (let index = offset; index < length; index++) {
    const difference = (leftBytes[leftStart + index] as number) - (rightBytes[rightStart + index] as number);
    if (difference !== 0) return difference;
  }
  return leftLength - rightLength;
}

/** The four bytes of `bytes` from start as one base-257 number: byte + 1 each, 0 at or past end. */
function digitAt(bytes: Uint8Array, start: number, end: number): number {
  const byte0 = start < end ? (bytes[start] as number) + 1 : 0;
  const byte1 = start + 1 < end ? (bytes[start + 1] as number) + 1 : 0;
  const byte2 = start + 2 < end ? (bytes[start + 2] as number) + 1 : 0;
  const byte3 = start + 3 < end ? (bytes[start + 3] as number) + 1 : 0;
  return ((byte0 * DIGIT_BASE + byte1) * DIGIT_BASE + byte2) * DIGIT_BASE + byte3;
}

function keyBytes(keys: BatchKeys, index: number): Uint8Array {
  return keys.buffer ?? ((keys.arrays as readonly Uint8Array[])[index] as Uint8Array);
}

/** Reused by every batch, like digitScratch. */
let startScratch = new Float64Array(1024);
let lengthScratch = new Float64Array(1024);

function startsAndLengths(count: number): { starts: Float64Array; lengths: Float64Array } {
  if (startScratch.length < count) {
    startScratch = new Float64Array(Math.max(count, startScratch.length * 2));
    lengthScratch = new Float64Array(startScratch.length);
  }
  return { starts: startScratch.subarray(0, count), lengths: lengthScratch.subarray(0, count) };
}

/** The keys of records held as objects; a view of scratch space, like writeOrder's answer. */
export function recordKeys(records: readonly { readonly key: Uint8Array }[]): BatchKeys {
  const { starts, lengths } = startsAndLengths(records.length);
  const arrays = new Array<Uint8Array>(records.length);
  for (let index = 0; index < records.length; index++) {
    const key = (records[index] as { readonly key: Uint8Array }).key;
    arrays[index] = key;
    starts[index] = 0;
    lengths[index] = key.byteLength;
  }
  return { count: records.length, buffer: null, arrays, starts, lengths };
}

/**
 * The keys of a packed batch (worker/protocol.ts: per record key length u32, value length i32,
 * key, value), given where each record starts; a view of scratch space, like writeOrder's answer.
 */
export function packedKeys(packed: ArrayBuffer, view: DataView, positions: Float64Array): BatchKeys {
  const { starts, lengths } = startsAndLengths(positions.length);
  for (let index = 0; index < positions.length; index++) {
    const position = positions[index] as number;
    starts[index] = position + 8;
    lengths[index] = view.getUint32(position);
  }
  return { count: positions.length, buffer: new Uint8Array(packed), arrays: null, starts, lengths };
}
