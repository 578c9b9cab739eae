// A window store on RocksDB segmented by time. Every entry's key is
//   segmentId (8 bytes, big-endian) | key | windowStartMs (8 bytes) | sequence (4 bytes)
// where segmentId = floor(windowStartMs / segmentIntervalMs). The key|windowStart|sequence tail
// is the windowed key the typed window store and its changelog already use, so changelog records
// restore by prefixing the segment id. Segments are key ranges of one column family, not column
// families of their own, because rocksdb-native cannot create or drop a column family once the
// database is open; an expired segment is dropped whole with one deleteRange tombstone (and its
// files reclaimed by compaction), never key by key.
import { bytesEqual, readUint32, suffixNumber, withSuffix } from '../bytes.ts';
import type { RocksDbKeyValueStore } from './key-value.ts';
import { assertTime, inSegment, SEGMENT_BYTES, SegmentedRocksDbStore, segmentPrefix } from './segments.ts';
import type { SegmentOptions } from './segments.ts';

/** retentionMs: how long a window stays after stream time passes its start. */
export type SegmentedWindowStoreOptions = SegmentOptions;

export interface WindowedBytes {
  readonly key: Uint8Array;
  readonly windowStartMs: number;
  readonly sequence: number;
  readonly value: Uint8Array;
}

const WINDOW_SUFFIX_BYTES = 12;
const SEQUENCE_MAX = 0xffff_ffff;

/** Stream time is the largest window start; a window lives until it is retentionMs behind. */
export class RocksDbWindowStore extends SegmentedRocksDbStore {
  constructor(name: string, inner: RocksDbKeyValueStore, private readonly options: SegmentedWindowStoreOptions) {
    super(name, inner, options, 1, WINDOW_SUFFIX_BYTES);
  }

  /** Recovers stream time from the newest entry on disk, so retention resumes after a restart. */
  async init(): Promise<void> {
    for await (const entry of this.inner.entries(null, null, { reverse: true })) {
      this.clock.observe(suffixNumber(entry.key, WINDOW_SUFFIX_BYTES, 0));
      break;
    }
    this.clock.forgetDropped();
  }

  /** Stages a window's value (null deletes); windows already expired are dropped and counted. */
  put(key: Uint8Array, windowStartMs: number, value: Uint8Array | null, sequence = 0): void {
    assertTime(windowStartMs);
    this.clock.observe(windowStartMs);
    if (this.clock.isExpired(windowStartMs)) {
      this.clock.droppedPuts++;
      return;
    }
    this.inner.put(this.compositeKey(key, windowStartMs, sequence), value);
  }

  async fetch(key: Uint8Array, windowStartMs: number, sequence = 0): Promise<Uint8Array | null> {
    assertTime(windowStartMs);
    if (this.clock.isExpired(windowStartMs)) return null;
    return this.inner.get(this.compositeKey(key, windowStartMs, sequence));
  }

  /** Windows of one key starting within [fromMs, toMs], oldest first, across segments. */
  async fetchRange(key: Uint8Array, fromMs: number, toMs: number): Promise<WindowedBytes[]> {
    const result: WindowedBytes[] = [];
    for (const segmentId of this.clock.liveSegmentIds(fromMs, toMs)) {
      const from = this.compositeKeyIn(segmentId, key, Math.max(fromMs, 0), 0);
      const to = this.compositeKeyIn(segmentId, key, toMs, SEQUENCE_MAX);
      for (const entry of await this.inner.range(from, to)) {
        // Longer keys that start with this key can sort inside the range; only exact keys count.
        const windowed = decode(entry.key, entry.value);
        if (bytesEqual(windowed.key, key)) result.push(windowed);
      }
    }
    return result;
  }

  /** Windows of every key starting within [fromMs, toMs], by segment, then key, then start. */
  async fetchAll(fromMs: number, toMs: number): Promise<WindowedBytes[]> {
    const result: WindowedBytes[] = [];
    for (const segmentId of this.clock.liveSegmentIds(fromMs, toMs)) {
      for (const entry of await this.inner.prefixScan(segmentPrefix(segmentId))) {
        const windowed = decode(entry.key, entry.value);
        if (windowed.windowStartMs >= fromMs && windowed.windowStartMs <= toMs) result.push(windowed);
      }
    }
    return result;
  }

  all(): Promise<WindowedBytes[]> {
    return this.fetchAll(0, Number.MAX_SAFE_INTEGER);
  }

  private compositeKey(key: Uint8Array, windowStartMs: number, sequence: number): Uint8Array {
    return this.compositeKeyIn(this.clock.segmentId(windowStartMs), key, windowStartMs, sequence);
  }

  private compositeKeyIn(segmentId: number, key: Uint8Array, windowStartMs: number, sequence: number): Uint8Array {
    return inSegment(segmentId, withSuffix(key, [windowStartMs], sequence));
  }
}

function decode(compositeKey: Uint8Array, value: Uint8Array): WindowedBytes {
  const windowedKey = compositeKey.subarray(SEGMENT_BYTES);
  const sequence = readUint32(windowedKey, windowedKey.byteLength - 4);
  return {
    key: windowedKey.subarray(0, windowedKey.byteLength - WINDOW_SUFFIX_BYTES),
    windowStartMs: suffixNumber(windowedKey, WINDOW_SUFFIX_BYTES, 0),
    sequence,
    value,
  };
}
