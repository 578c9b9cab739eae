// A window store on RocksDB segmented by time. Every entry's key is
//   segmentId (8 bytes, big-endian) | key | windowStartMs (8 bytes) | sequence (4 bytes)
// where segmentId = floor(windowStartMs / segmentIntervalMs). The key|windowStart|sequence tail
// is the windowed key the typed window store and its changelog already use, so changelog records
// restore by prefixing the segment id. Segments are key ranges of one column family, not column
// families of their own, because rocksdb-native cannot create or drop a column family once the
// database is open; an expired segment is dropped whole with one deleteRange tombstone (and its
// files reclaimed by compaction), never key by key.
import { bytesEqual, readUint32, suffixNumber, withSuffix } from '../bytes.ts';
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import type { RocksDbKeyValueStore } from './key-value.ts';
import { assertSegmentOptions, assertTime, inSegment, SEGMENT_BYTES, segmentPrefix } from './segments.ts';
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

export class RocksDbWindowStore {
  /** The largest window start put so far; drives retention. */
  private observedStreamTimeMs = -1;
  /** Segments below this id are expired: hidden from reads now, deleted on the next flush. */
  private minLiveSegmentId = 0;
  /** Segments below this id have been deleted from RocksDB. */
  private droppedBelowSegmentId = 0;
  private droppedPutCount = 0;

  constructor(
    readonly name: string,
    private readonly inner: RocksDbKeyValueStore,
    private readonly options: SegmentedWindowStoreOptions,
  ) {
    assertSegmentOptions(name, options);
  }

  /** Recovers stream time from the newest entry on disk, so retention resumes after a restart. */
  async init(): Promise<void> {
    for await (const entry of this.inner.entries(null, null, { reverse: true })) {
      this.observeWindowStart(suffixNumber(entry.key, WINDOW_SUFFIX_BYTES, 0));
      break;
    }
    this.droppedBelowSegmentId = 0;
  }

  /** Stages a window's value (null deletes); windows already expired are dropped and counted. */
  put(key: Uint8Array, windowStartMs: number, value: Uint8Array | null, sequence = 0): void {
    assertTime(windowStartMs);
    this.observeWindowStart(windowStartMs);
    if (this.segmentId(windowStartMs) < this.minLiveSegmentId) {
      this.droppedPutCount++;
      return;
    }
    this.inner.put(this.compositeKey(key, windowStartMs, sequence), value);
  }

  async fetch(key: Uint8Array, windowStartMs: number, sequence = 0): Promise<Uint8Array | null> {
    assertTime(windowStartMs);
    if (this.segmentId(windowStartMs) < this.minLiveSegmentId) return null;
    return this.inner.get(this.compositeKey(key, windowStartMs, sequence));
  }

  /** Windows of one key starting within [fromMs, toMs], oldest first, across segments. */
  async fetchRange(key: Uint8Array, fromMs: number, toMs: number): Promise<WindowedBytes[]> {
    const result: WindowedBytes[] = [];
    for (const segmentId of this.liveSegmentIds(fromMs, toMs)) {
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
    for (const segmentId of this.liveSegmentIds(fromMs, toMs)) {
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

  /** Restores changelog records whose keys are key|windowStart|sequence. */
  applyBatch(records: readonly ChangelogRecord[]): Promise<void> {
    const translated: ChangelogRecord[] = [];
    for (const record of records) {
      const windowStartMs = suffixNumber(record.key, WINDOW_SUFFIX_BYTES, 0);
      this.observeWindowStart(windowStartMs);
      translated.push({ key: inSegment(this.segmentId(windowStartMs), record.key), value: record.value });
    }
    return this.inner.applyBatch(translated);
  }

  /** Writes staged windows, then deletes expired segments whole. */
  async flush(): Promise<void> {
    await this.inner.writeStaged();
    if (this.minLiveSegmentId > this.droppedBelowSegmentId) {
      await this.inner.deleteRange(segmentPrefix(this.droppedBelowSegmentId), segmentPrefix(this.minLiveSegmentId));
      this.droppedBelowSegmentId = this.minLiveSegmentId;
    }
    await this.inner.flush();
  }

  /** Puts ignored because their window had already expired. */
  get droppedPuts(): number {
    return this.droppedPutCount;
  }

  get streamTimeMs(): number {
    return this.observedStreamTimeMs;
  }

  private observeWindowStart(windowStartMs: number): void {
    if (windowStartMs <= this.observedStreamTimeMs) return;
    this.observedStreamTimeMs = windowStartMs;
    const minLiveTimeMs = windowStartMs - this.options.retentionMs + 1;
    this.minLiveSegmentId = Math.max(this.minLiveSegmentId, this.segmentId(Math.max(0, minLiveTimeMs)));
  }

  private liveSegmentIds(fromMs: number, toMs: number): number[] {
    const first = Math.max(this.segmentId(Math.max(0, fromMs)), this.minLiveSegmentId);
    const last = Math.min(this.segmentId(Math.max(0, toMs)), this.segmentId(Math.max(0, this.observedStreamTimeMs)));
    const ids: number[] = [];
    for (let id = first; id <= last; id++) ids.push(id);
    return ids;
  }

  private segmentId(timeMs: number): number {
    return Math.floor(timeMs / this.options.segmentIntervalMs);
  }

  private compositeKey(key: Uint8Array, windowStartMs: number, sequence: number): Uint8Array {
    return this.compositeKeyIn(this.segmentId(windowStartMs), key, windowStartMs, sequence);
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
