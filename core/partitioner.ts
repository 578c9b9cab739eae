// The Java client's default partitioning of keyed records, in the pure core so that the streams
// engine and its test driver place keys exactly where a Kafka producer would, without reaching
// into the client. The hash is Kafka's murmur2 (seed 0x9747b28c, multiplier 0x5bd1e995, shift
// 24) over the serialized key; the sign bit is masked off before taking the remainder, because
// Java's Math.abs of the smallest integer stays negative.
import { Buffer } from 'node:buffer';

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
    hash = mixWord(hash, (bytes[index] ?? 0) | ((bytes[index + 1] ?? 0) << 8) | ((bytes[index + 2] ?? 0) << 16) | ((bytes[index + 3] ?? 0) << 24));
  }
  return finish(hash, length % 4, bytes[wholeWordsEnd] ?? 0, bytes[wholeWordsEnd + 1] ?? 0, bytes[wholeWordsEnd + 2] ?? 0);
}

/**
 * murmur2 of a string's UTF-8 bytes. An ASCII string's bytes are its character codes, so its
 * hash is taken from the string itself and no bytes are made; any other string is encoded first.
 */
export function murmur2Utf8(text: string): number {
  const length = text.length;
  let hash = (MURMUR2_SEED ^ length) | 0;
  // Every character code is or-ed in here: the hash is taken on the guess that the string is
  // ASCII, and thrown away when it was not.
  let codes = 0;
  const wholeWordsEnd = length - (length % 4);
  for (let index = 0; index < wholeWordsEnd; index += 4) {
    const code0 = text.charCodeAt(index);
    const code1 = text.charCodeAt(index + 1);
    const code2 = text.charCodeAt(index + 2);
    const code3 = text.charCodeAt(index + 3);
    codes |= code0 | code1 | code2 | code3;
    hash = mixWord(hash, code0 | (code1 << 8) | (code2 << 16) | (code3 << 24));
  }
  const remaining = length % 4;
  const first0 = remaining >= 1 ? text.charCodeAt(wholeWordsEnd) : 0;
  const first1 = remaining >= 2 ? text.charCodeAt(wholeWordsEnd + 1) : 0;
  const first2 = remaining === 3 ? text.charCodeAt(wholeWordsEnd + 2) : 0;
  codes |= first0 | first1 | first2;
  if (codes > 0x7f) return murmur2(Buffer.from(text, 'utf8'));
  return finish(hash, remaining, first0, first1, first2);
}

function mixWord(hash: number, word: number): number {
  let mixed = Math.imul(word, MURMUR2_MULTIPLIER);
  mixed ^= mixed >>> MURMUR2_SHIFT;
  mixed = Math.imul(mixed, MURMUR2_MULTIPLIER);
  return Math.imul(hash, MURMUR2_MULTIPLIER) ^ mixed;
}

/** The hash of the last `remaining` (0-3) bytes, first0..first2, and the final avalanche. */
function finish(hash: number, remaining: number, first0: number, first1: number, first2: number): number {
  // Java's switch over the remaining bytes falls through from three to one.
  if (remaining === 3) hash ^= first2 << 16;
  if (remaining >= 2) hash ^= first1 << 8;
  if (remaining >= 1) {
    hash ^= first0;
    hash = Math.imul(hash, MURMUR2_MULTIPLIER);
  }
  hash ^= hash >>> 13;
  hash = Math.imul(hash, MURMUR2_MULTIPLIER);
  hash ^= hash >>> 15;
  return hash | 0;
}

/**
 * The partition the Java client's default partitioner chooses for serialized key bytes; a string
 * stands for its UTF-8 bytes.
 */
export function partitionForKey(keyBytes: Uint8Array | string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) throw new RangeError(`partition count ${partitionCount} is not a positive integer`);
  const hash = typeof keyBytes === 'string' ? murmur2Utf8(keyBytes) : murmur2(keyBytes);
  const partition = (hash & 0x7fffffff) % partitionCount;
  if (partition < 0 || partition >= partitionCount) throw new Error(`partitioner: ${partition} outside [0, ${partitionCount})`);
  return partition;
}
