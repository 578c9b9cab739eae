// Time segments shared by the segmented RocksDB stores (window and session). A segment is the
// key range of one column family that starts with the 8-byte big-endian segment id, so the
// stores drop an expired segment with one deleteRange tombstone instead of key by key, and a
// scan of one segment is a prefix scan. Segments are key ranges rather than column families of
// their own because rocksdb-native cannot create or drop a column family once a database is open.
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import { suffixNumber, withSuffix } from '../bytes.ts';
import { packedPositions } from './key-value.ts';
import type { RocksDbKeyValueStore } from './key-value.ts';
import { ROCKSDB_LIMITS } from './limits.ts';

export const SEGMENT_BYTES = 8;

export interface SegmentOptions {
  /** How long an entry stays after stream time passes its segment time (window start, session end). */
  readonly retentionMs: number;
  /** Time covered by one segment; Kafka Streams uses max(retention / 2, 60 s). */
  readonly segmentIntervalMs: number;
}

/** Kafka Streams' default segment interval for a retention period. */
export function defaultSegmentIntervalMs(retentionMs: number): number {
  return Math.max(Math.floor(retentionMs / 2), 60_000);
}

export function assertSegmentOptions(storeName: string, options: SegmentOptions): void {
  if (!(options.segmentIntervalMs > 0) || !(options.retentionMs >= options.segmentIntervalMs)) {
    throw new Error(`store ${storeName}: need 0 < segmentIntervalMs <= retentionMs`);
  }
  if (options.retentionMs / options.segmentIntervalMs > ROCKSDB_LIMITS.windowSegmentsMax) {
    throw new Error(`store ${storeName}: retention spans more than ${ROCKSDB_LIMITS.windowSegmentsMax} segments`);
  }
}

export function segmentPrefix(segmentId: number): Uint8Array {
  return withSuffix(new Uint8Array(0), [segmentId], null);
}

/** The segment id a composite key starts with. */
export function segmentIdOf(compositeKey: Uint8Array): number {
  const view = new DataView(compositeKey.buffer, compositeKey.byteOffset, SEGMENT_BYTES);
  return view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
}

/**
 * segmentId | tail in one allocation from Buffer's pool, outside V8's heap, so handing the key
 * to RocksDB moves nothing.
 */
export function inSegment(segmentId: number, tail: Uint8Array): Uint8Array {
  const bytes = Buffer.allocUnsafe(SEGMENT_BYTES + tail.byteLength);
  bytes.writeUInt32BE(Math.floor(segmentId / 0x1_0000_0000), 0);
  bytes.writeUInt32BE(segmentId >>> 0, 4);
  bytes.set(tail, SEGMENT_BYTES);
  return bytes;
}

export function assertTime(timeMs: number): void {
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new Error(`time ${timeMs} must be a non-negative safe integer`);
}

/**
 * The time-keeping the segmented stores share. Stream time is the largest segment time seen
 * (window start, session end); an entry whose time is below streamTime - retention + liveSlackMs
 * is expired. Expired segments are hidden from reads at once and deleted whole on the next flush.
 */
export class SegmentClock {
  /** The largest segment time put or restored; -1 before the first. */
  streamTimeMs = -1;
  /** Segments below this id are expired: hidden from reads now, deleted on the next flush. */
  minLiveSegmentId = 0;
  /** Segments below this id have been deleted from RocksDB. */
  private droppedBelowSegmentId = 0;
  /** Puts ignored because their entry had already expired. */
  droppedPuts = 0;
  /** Changelog records applyBatch skipped because their segment had expired. */
  skippedRestores = 0;

  constructor(private readonly options: SegmentOptions, private readonly liveSlackMs: number) {}

  segmentId(timeMs: number): number {
    return Math.floor(timeMs / this.options.segmentIntervalMs);
  }

  observe(timeMs: number): void {
    if (timeMs <= this.streamTimeMs) return;
    this.streamTimeMs = timeMs;
    const minLiveTimeMs = timeMs - this.options.retentionMs + this.liveSlackMs;
    this.minLiveSegmentId = Math.max(this.minLiveSegmentId, this.segmentId(Math.max(0, minLiveTimeMs)));
  }

  isExpired(timeMs: number): boolean {
    return this.segmentId(timeMs) < this.minLiveSegmentId;
  }

  /** Live segment ids covering [fromMs, toMs], none past stream time. */
  liveSegmentIds(fromMs: number, toMs: number): number[] {
    const first = Math.max(this.segmentId(Math.max(0, fromMs)), this.minLiveSegmentId);
    const last = Math.min(this.segmentId(Math.max(0, toMs)), this.segmentId(Math.max(0, this.streamTimeMs)));
    const ids: number[] = [];
    for (let id = first; id <= last; id++) ids.push(id);
    return ids;
  }

  /** After a reopen nothing is known to be deleted yet: the next flush drops every expired segment. */
  forgetDropped(): void {
    this.droppedBelowSegmentId = 0;
  }

  /**
   * Restores changelog records, whose keys are the store's keys without the segment id, into
   * `inner`: each key gets the segment of the time `timeOf` reads from it.
   */
  applyBatch(inner: RocksDbKeyValueStore, records: readonly ChangelogRecord[], timeOf: (key: Uint8Array) => number): Promise<void> {
    // Stream time first, so that a batch restored in one go skips what its own newer records expire.
    const times = new Float64Array(records.length);
    for (let index = 0; index < records.length; index++) {
      const timeMs = timeOf((records[index] as ChangelogRecord).key);
      times[index] = timeMs;
      this.observe(timeMs);
    }
    const translated: ChangelogRecord[] = [];
    for (let index = 0; index < records.length; index++) {
      const record = records[index] as ChangelogRecord;
      const timeMs = times[index] as number;
      // The changelog expires old entries by its own retention and sends no tombstones for them,
      // so restoration skips entries older than the store's retention instead of writing them.
      if (this.isExpired(timeMs)) {
        this.skippedRestores++;
        continue;
      }
      translated.push({ key: inSegment(this.segmentId(timeMs), record.key), value: record.value });
    }
    return inner.applyBatch(translated);
  }

  /**
   * applyBatch for records packed as the RocksDB worker receives them (worker/protocol.ts), with
   * each key's time read in place at byte timeOffsetFromEnd before the key's end: expired records
   * are skipped before anything is made for them, and the others are copied once into a packed
   * buffer of segment-prefixed keys for the key-value store's packed write.
   */
  applyPacked(inner: RocksDbKeyValueStore, packed: ArrayBuffer, timeOffsetFromEnd: number): Promise<void> {
    const view = new DataView(packed);
    const count = view.getUint32(0);
    // A view of the key-value store's scratch: read through before inner.applyPacked reuses it.
    const positions = packedPositions(packed, view, count);
    const times = new Float64Array(count);
    for (let index = 0; index < count; index++) {
      const position = positions[index] as number;
      const keyBytes = view.getUint32(position);
      if (keyBytes < timeOffsetFromEnd) throw new Error(`a restored key of ${keyBytes} bytes is shorter than its ${timeOffsetFromEnd}-byte suffix`);
      const timePosition = position + 8 + keyBytes - timeOffsetFromEnd;
      const timeMs = view.getUint32(timePosition) * 0x1_0000_0000 + view.getUint32(timePosition + 4);
      times[index] = timeMs;
      this.observe(timeMs);
    }
    let kept = 0;
    let keptBytes = 4;
    for (let index = 0; index < count; index++) {
      if (this.isExpired(times[index] as number)) continue;
      const at = positions[index] as number;
      const valueBytes = view.getInt32(at + 4);
      keptBytes += 8 + SEGMENT_BYTES + view.getUint32(at) + (valueBytes < 0 ? 0 : valueBytes);
      kept++;
    }
    this.skippedRestores += count - kept;
    if (kept === 0) return Promise.resolve();
    const source = Buffer.from(packed);
    const target = Buffer.allocUnsafe(keptBytes);
    target.writeUInt32BE(kept, 0);
    let written = 4;
    for (let index = 0; index < count; index++) {
      const timeMs = times[index] as number;
      if (this.isExpired(timeMs)) continue;
      const at = positions[index] as number;
      const keyBytes = view.getUint32(at);
      const valueBytes = view.getInt32(at + 4);
      const segmentId = this.segmentId(timeMs);
      target.writeUInt32BE(keyBytes + SEGMENT_BYTES, written);
      target.writeInt32BE(valueBytes, written + 4);
      target.writeUInt32BE(Math.floor(segmentId / 0x1_0000_0000), written + 8);
      target.writeUInt32BE(segmentId >>> 0, written + 12);
      written += 8 + SEGMENT_BYTES;
      const tail = keyBytes + (valueBytes < 0 ? 0 : valueBytes);
      source.copy(target, written, at + 8, at + 8 + tail);
      written += tail;
    }
    // The target is a whole allocation of its own only when it is larger than Buffer's pool slab.
    const buffer = target.byteOffset === 0 && target.byteLength === target.buffer.byteLength ? target.buffer : target.buffer.slice(target.byteOffset, target.byteOffset + target.byteLength);
    return inner.applyPacked(buffer as ArrayBuffer);
  }

  /** Writes staged entries, then deletes expired segments whole (no tombstone per entry). */
  async dropExpired(inner: RocksDbKeyValueStore): Promise<void> {
    await inner.writeStaged();
    if (this.minLiveSegmentId > this.droppedBelowSegmentId) {
      await inner.deleteRange(segmentPrefix(this.droppedBelowSegmentId), segmentPrefix(this.minLiveSegmentId));
      this.droppedBelowSegmentId = this.minLiveSegmentId;
    }
  }

  /** dropExpired, then flushes memtables, so a reopen replays no write-ahead log. */
  async flush(inner: RocksDbKeyValueStore): Promise<void> {
    await this.dropExpired(inner);
    await inner.flush();
  }
}

/**
 * What a window store and a session store on segments share: their time clock over one
 * RocksDB key-value store, restoration (the time is the first number of the changelog key's
 * suffix: a window's start, a session's end), and commit and flush that drop expired segments.
 */
export abstract class SegmentedRocksDbStore {
  protected readonly clock: SegmentClock;

  constructor(
    readonly name: string,
    protected readonly inner: RocksDbKeyValueStore,
    options: SegmentOptions,
    liveSlackMs: number,
    private readonly suffixBytes: number,
  ) {
    assertSegmentOptions(name, options);
    this.clock = new SegmentClock(options, liveSlackMs);
  }

  /** Restores changelog records (keys key|time|...), skipping those older than the retention period. */
  applyBatch(records: readonly ChangelogRecord[]): Promise<void> {
    return this.clock.applyBatch(this.inner, records, (key) => suffixNumber(key, this.suffixBytes, 0));
  }

  /** applyBatch for records packed as the worker receives them (worker/protocol.ts). */
  applyPacked(packed: ArrayBuffer): Promise<void> {
    return this.clock.applyPacked(this.inner, packed, this.suffixBytes);
  }

  /** Writes staged entries, then deletes expired segments whole. */
  flush(): Promise<void> {
    return this.clock.flush(this.inner);
  }

  /** Writes staged entries and deletes expired segments whole, without flushing memtables: for commits. */
  commit(): Promise<void> {
    return this.clock.dropExpired(this.inner);
  }

  /** Changelog records restoration skipped because they were older than the retention period. */
  get skippedRestores(): number {
    return this.clock.skippedRestores;
  }

  /** Puts ignored because their window or session had already expired. */
  get droppedPuts(): number {
    return this.clock.droppedPuts;
  }

  get streamTimeMs(): number {
    return this.clock.streamTimeMs;
  }
}
