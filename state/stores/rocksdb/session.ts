// A session store on RocksDB segmented by session end time. Every entry's key is
//   segmentId (8 bytes, big-endian) | key | sessionEndMs (8 bytes) | sessionStartMs (8 bytes)
// where segmentId = floor(sessionEndMs / segmentIntervalMs). The key|end|start tail is the
// session key the typed session store (MeteredSessionStore) and its changelog already use, so
// changelog records restore by prefixing the segment id, and reads answer in the same order as
// the in-memory store: one key's sessions by end, then start. Sessions are segmented by end
// because a session's end decides when it expires; a merge (remove the old sessions, put the
// merged one) may move a session to a later segment, never an earlier one.
// Retention follows the in-memory store: stream time is the largest session end put; findSessions
// no longer finds a session ending before streamTime - retentionMs, and a segment holding only
// such sessions is hidden from every read at once and deleted with one range tombstone on the
// next flush.
import { bytesEqual, suffixNumber, withSuffix } from '../bytes.ts';
import type { RocksDbKeyValueStore } from './key-value.ts';
import { assertTime, inSegment, SEGMENT_BYTES, segmentIdOf, segmentPrefix, SegmentedRocksDbStore } from './segments.ts';
import type { SegmentOptions } from './segments.ts';

export type SegmentedSessionStoreOptions = SegmentOptions;

export interface SessionBytes {
  readonly key: Uint8Array;
  readonly startMs: number;
  readonly endMs: number;
  readonly value: Uint8Array;
}

const SESSION_SUFFIX_BYTES = 16;
const TIME_MAX = Number.MAX_SAFE_INTEGER;

/**
 * Stream time is the largest session end; a session expires when its end is more than
 * retentionMs behind, and a segment when its last millisecond does.
 */
export class RocksDbSessionStore extends SegmentedRocksDbStore {
  constructor(name: string, inner: RocksDbKeyValueStore, private readonly options: SegmentedSessionStoreOptions) {
    super(name, inner, options, 0, SESSION_SUFFIX_BYTES);
  }

  /**
   * Recovers stream time after a restart: the newest segment is the one the last key in byte
   * order belongs to, and the largest end lies somewhere in it (keys sort by key before end).
   */
  async init(): Promise<void> {
    let newestSegmentId: number | null = null;
    for await (const entry of this.inner.entries(null, null, { reverse: true })) {
      newestSegmentId = segmentIdOf(entry.key);
      break;
    }
    if (newestSegmentId !== null) {
      for (const entry of await this.inner.prefixScan(segmentPrefix(newestSegmentId))) this.clock.observe(decodeEnd(entry.key));
    }
    this.clock.forgetDropped();
  }

  /** Stages a session's value (null removes it); puts into expired segments are dropped and counted. */
  put(key: Uint8Array, startMs: number, endMs: number, value: Uint8Array | null): void {
    assertSession(startMs, endMs);
    this.clock.observe(endMs);
    if (this.clock.isExpired(endMs)) {
      if (value !== null) this.clock.droppedPuts++;
      return;
    }
    this.inner.put(this.compositeKey(key, startMs, endMs), value);
  }

  remove(key: Uint8Array, startMs: number, endMs: number): void {
    this.put(key, startMs, endMs, null);
  }

  async fetchSession(key: Uint8Array, startMs: number, endMs: number): Promise<Uint8Array | null> {
    assertSession(startMs, endMs);
    if (this.clock.isExpired(endMs)) return null;
    return this.inner.get(this.compositeKey(key, startMs, endMs));
  }

  /**
   * Sessions of one key that end at or after earliestSessionEndMs and start at or before
   * latestSessionStartMs, by end then start: the candidates a new record may merge with.
   */
  async findSessions(key: Uint8Array, earliestSessionEndMs: number, latestSessionStartMs: number): Promise<SessionBytes[]> {
    // A session ending exactly one retention period ago can still merge with a record at stream
    // time (its gap reaches that far), so it stays visible, as in the in-memory store.
    const fromEndMs = Math.max(earliestSessionEndMs, this.clock.streamTimeMs - this.options.retentionMs, 0);
    const result: SessionBytes[] = [];
    for (const segmentId of this.clock.liveSegmentIds(fromEndMs, TIME_MAX)) {
      const from = inSegment(segmentId, withSuffix(key, [fromEndMs, 0], null));
      const to = inSegment(segmentId, withSuffix(key, [TIME_MAX, TIME_MAX], null));
      for (const entry of await this.inner.range(from, to)) {
        const session = decode(entry.key, entry.value);
        // Longer keys that start with this key can sort inside the range; only exact keys count.
        if (session.startMs <= latestSessionStartMs && bytesEqual(session.key, key)) result.push(session);
      }
    }
    return result;
  }

  /** All live sessions of a key, by end then start. */
  fetch(key: Uint8Array): Promise<SessionBytes[]> {
    return this.findSessions(key, 0, TIME_MAX);
  }

  /**
   * Sessions of every key that end within [earliestSessionEndMs, latestSessionEndMs], by end,
   * then key, then start; emit-final calls this once per advance of the close time. Only the
   * segments that can hold such ends are scanned.
   */
  async findSessionsEndingWithin(earliestSessionEndMs: number, latestSessionEndMs: number): Promise<SessionBytes[]> {
    const result: SessionBytes[] = [];
    if (latestSessionEndMs < earliestSessionEndMs) return result;
    for (const segmentId of this.clock.liveSegmentIds(Math.max(earliestSessionEndMs, 0), latestSessionEndMs)) {
      for (const entry of await this.inner.prefixScan(segmentPrefix(segmentId))) {
        const endMs = decodeEnd(entry.key);
        if (endMs >= earliestSessionEndMs && endMs <= latestSessionEndMs) result.push(decode(entry.key, entry.value));
      }
    }
    // Stable sort: sessions ending together keep the byte order of their keys.
    return result.sort((a, b) => a.endMs - b.endMs);
  }

  private compositeKey(key: Uint8Array, startMs: number, endMs: number): Uint8Array {
    return inSegment(this.clock.segmentId(endMs), withSuffix(key, [endMs, startMs], null));
  }
}

function assertSession(startMs: number, endMs: number): void {
  assertTime(startMs);
  assertTime(endMs);
  if (startMs > endMs) throw new Error(`session start ${startMs} is after its end ${endMs}`);
}

function decodeEnd(compositeKey: Uint8Array): number {
  return suffixNumber(compositeKey, SESSION_SUFFIX_BYTES, 0);
}

function decode(compositeKey: Uint8Array, value: Uint8Array): SessionBytes {
  return {
    key: compositeKey.subarray(SEGMENT_BYTES, compositeKey.byteLength - SESSION_SUFFIX_BYTES),
    endMs: suffixNumber(compositeKey, SESSION_SUFFIX_BYTES, 0),
    startMs: suffixNumber(compositeKey, SESSION_SUFFIX_BYTES, 1),
    value,
  };
}
