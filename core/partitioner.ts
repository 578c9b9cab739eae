// The Java client's default partitioning of keyed records, in the pure core so that the streams
// engine and its test driver place keys exactly where a Kafka producer would, without reaching
// into the client. The hash is Kafka's murmur2 (seed 0x9747b28c, multiplier 0x5bd1e995, shift
// 24) over the serialized key; the sign bit is masked off before taking the remainder, because
// Java's Math.abs of the smallest integer stays negative.

const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_MULTIPLIER = 0x5bd1e995;
const MURMUR2_SHIFT = 24;

/** Kafka's Utils.murmur2: a signed 32-bit hash of the bytes. */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.byteLength;
  let hash = (MURMUR2_SEED ^ length) | 0;
  const wholeWordsEnd = length - (length % 4);
  for (let index = 0; index < wholeWordsEnd; index += 4) {
    // Little-endian words; the indexes are in range by the loop bound.
    let word = (bytes[index] ?? 0) | ((bytes[index + 1] ?? 0) << 8) | ((bytes[index + 2] ?? 0) << 16) | ((bytes[index + 3] ?? 0) << 24);
    word = Math.imul(word, MURMUR2_MULTIPLIER);
    word ^= word >>> MURMUR2_SHIFT;
    word = Math.imul(word, MURMUR2_MULTIPLIER);
    hash = Math.imul(hash, MURMUR2_MULTIPLIER) ^ word;
  }
  // Java's switch over the remaining bytes falls through from three to one.
  const remaining = length % 4;
  if (remaining === 3) hash ^= (bytes[wholeWordsEnd + 2] ?? 0) << 16;
  if (remaining >= 2) hash ^= (bytes[wholeWordsEnd + 1] ?? 0) << 8;
  if (remaining >= 1) {
    hash ^= bytes[wholeWordsEnd] ?? 0;
    hash = Math.imul(hash, MURMUR2_MULTIPLIER);
  }
  hash ^= hash >>> 13;
  hash = Math.imul(hash, MURMUR2_MULTIPLIER);
  hash ^= hash >>> 15;
  return hash | 0;
}

/** The partition the Java client's default partitioner chooses for serialized key bytes. */
export function partitionForKey(keyBytes: Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) throw new RangeError(`partition count ${partitionCount} is not a positive integer`);
  const partition = (murmur2(keyBytes) & 0x7fffffff) % partitionCount;
  if (partition < 0 || partition >= partitionCount) throw new Error(`partitioner: ${partition} outside [0, ${partitionCount})`);
  return partition;
}
