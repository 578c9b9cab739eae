// Time segments shared by the segmented RocksDB stores (window and session). A segment is the
// key range of one column family that starts with the 8-byte big-endian segment id, so the
// stores drop an expired segment with one deleteRange tombstone instead of key by key, and a
// scan of one segment is a prefix scan. Segments are key ranges rather than column families of
// their own because rocksdb-native cannot create or drop a column family once a database is open.
import { withSuffix } from '../bytes.ts';
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
