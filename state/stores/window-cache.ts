// The write-back cache of a window store (CachingLayer's semantics, see layers.ts), holding
// windows by window start and then record key (window-keys.ts) rather than by composite key: a
// windowed aggregation's read and write of a window look up its start (mostly the one looked up
// last) and its record key, a string the record already has, and build no composite key. The
// composite bytes are made at flush, once per window written, for the changelog record and the
// store below. The byte interface takes composite keys as CachingLayer does and splits them, so
// both interfaces see the same entries.
//
// Entries live until the commit that flushes them, long enough to outlive the young generation;
// each flush hands its entries back to a pool that the next commit's entries come from, so the
// cache makes few objects of its own in steady state.
import type { StateStoreContext } from '../../core/topology/processor.ts';
import { hashKeyOf, WriteBackCacheLayer, type BytesFlushListener } from './layers.ts';
import { hashedSequenceIsZero, hashedWindowStart, WINDOW_SUFFIX_BYTES, windowKeyBytes } from './window-keys.ts';

/**
 * Told about each window a flush writes below: its new value, the value it replaced there and the
 * timestamp of the record whose processing wrote it last; typedKey as in BytesFlushListener.
 */
export type WindowFlushListener = (recordKeyHash: string, startMs: number, newValue: Uint8Array | null, oldValue: Uint8Array | null, writtenAtMs: number, typedKey: unknown) => void;

interface WindowCacheEntry {
  /** The hashed record key; for a key of another layout, its whole hashed key. */
  recordKeyHash: string;
  /** False for a key of another layout (kept by its whole hashed key in others). */
  window: boolean;
  startMs: number;
  /** The composite key a byte-interface write handed over, else null until the flush makes it. */
  bytes: Uint8Array | null;
  value: Uint8Array | null;
  dirty: boolean;
  /** False once expiry took the entry out of the maps: the flush skips it. */
  live: boolean;
  /** Timestamp of the record being processed at the last write; -1 for entries only read. */
  writtenAtMs: number;
  /** The value below when known (read, or known absent), else undefined; see CachingLayer. */
  below: Uint8Array | null | undefined;
  typedKey: unknown;
}

/** A composite key the window maps hold: at least a suffix long, sequence 0. */
function isWindowKey(hashKey: string): boolean {
  return hashKey.length >= WINDOW_SUFFIX_BYTES && hashedSequenceIsZero(hashKey);
}

/** A write to a cached entry; bytes, when given, is the entry's composite key, handed over. */
function rewrite(entry: WindowCacheEntry, value: Uint8Array | null, writtenAtMs: number, typedKey: unknown, bytes: Uint8Array | null): void {
  entry.value = value;
  entry.dirty = true;
  entry.writtenAtMs = writtenAtMs;
  entry.typedKey = typedKey;
  if (bytes !== null) entry.bytes = bytes;
}

export class WindowCachingLayer extends WriteBackCacheLayer {
  /** Entries by window start, then hashed record key. */
  private readonly byStart = new Map<number, Map<string, WindowCacheEntry>>();
  /** The start looked up last and its entries. */
  private lastStartMs = Number.NaN;
  private lastStartEntries: Map<string, WindowCacheEntry> | null = null;
  /** The entry read or written last, while the maps hold it: a fetch then put finds it once. */
  private lastEntry: WindowCacheEntry | null = null;
  /**
   * Entries of keys of another layout (a sequence other than 0, or shorter than a suffix) by
   * hashed key. A cached window store writes none; they come from callers of the byte interface
   * and are cached as CachingLayer caches them.
   */
  private readonly others = new Map<string, WindowCacheEntry>();
  /** Entries in the order first cached (the order of a flush), expired ones included. */
  private order: WindowCacheEntry[] = [];
  /** Entries the maps hold. */
  private cachedCount = 0;
  /** Entries of earlier flushes, for reuse. */
  private readonly pool: WindowCacheEntry[] = [];
  private windowListener: WindowFlushListener | null = null;
  private bytesListener: BytesFlushListener | null = null;

  /** Entries the cache holds. */
  get size(): number {
    return this.cachedCount;
  }

  /** Flushes report windows to this listener (it replaces a bytes listener); keys of another layout are not reported to it. */
  setWindowListener(listener: WindowFlushListener): void {
    this.windowListener = listener;
    this.bytesListener = null;
  }

  /** Flushes report composite keys to this listener, as CachingLayer's do (it replaces a window listener). */
  setFlushListener(listener: BytesFlushListener): void {
    this.bytesListener = listener;
    this.windowListener = null;
  }

  /** The cached value of a window (null: cached as absent), or undefined when it is not cached. */
  peekWindow(recordKeyHash: string, startMs: number): Uint8Array | null | undefined {
    const entry = this.find(recordKeyHash, startMs);
    if (entry === undefined) return undefined;
    this.lastEntry = entry;
    return entry.value;
  }

  /** Reads a window the caller found uncached (peekWindow gave undefined) below, and caches what it read. */
  readWindowUncached(recordKeyHash: string, startMs: number): Uint8Array | null {
    const value = this.innerGetWindow(recordKeyHash, startMs);
    this.insert(this.entry(recordKeyHash, true, startMs, null, value, false, -1, value, undefined));
    return value;
  }

  override getWindow(recordKeyHash: string, startMs: number): Uint8Array | null {
    const cached = this.peekWindow(recordKeyHash, startMs);
    return cached === undefined ? this.readWindowUncached(recordKeyHash, startMs) : cached;
  }

  /**
   * Writes a window. typedKey, when given, is the key before serialization, for the flush
   * listener; absentBelow says the caller knows the window has no value below; bytes, when
   * given, is the window's composite key, handed over.
   */
  writeWindow(recordKeyHash: string, startMs: number, value: Uint8Array | null, typedKey: unknown, absentBelow = false, bytes: Uint8Array | null = null): void {
    const writtenAtMs = this.context === null ? -1 : this.context.recordTimestampMs();
    const existing = this.find(recordKeyHash, startMs);
    if (existing !== undefined) {
      rewrite(existing, value, writtenAtMs, typedKey, bytes);
      this.lastEntry = existing;
      return;
    }
    this.insert(this.entry(recordKeyHash, true, startMs, bytes, value, true, writtenAtMs, absentBelow ? null : undefined, typedKey));
  }

  private writeOther(hashKey: string, key: Uint8Array, value: Uint8Array | null, typedKey: unknown, absentBelow: boolean): void {
    const writtenAtMs = this.context === null ? -1 : this.context.recordTimestampMs();
    const existing = this.others.get(hashKey);
    if (existing !== undefined) {
      rewrite(existing, value, writtenAtMs, typedKey, key);
      return;
    }
    this.insert(this.entry(hashKey, false, Number.NaN, key, value, true, writtenAtMs, absentBelow ? null : undefined, typedKey));
  }

  override putWindow(recordKeyHash: string, startMs: number, bytes: Uint8Array, value: Uint8Array | null): void {
    this.writeWindow(recordKeyHash, startMs, value, undefined, false, bytes);
  }

  override get(key: Uint8Array): Uint8Array | null {
    return this.getHashed(hashKeyOf(key), key);
  }

  override getHashed(hashKey: string, key: Uint8Array): Uint8Array | null {
    if (!isWindowKey(hashKey)) {
      const other = this.others.get(hashKey);
      if (other !== undefined) return other.value;
      const value = this.innerGet(hashKey, key);
      // The caller's bytes: a write that follows hands its own.
      this.insert(this.entry(hashKey, false, Number.NaN, key, value, false, -1, value, undefined));
      return value;
    }
    return this.getWindow(hashKey.slice(0, hashKey.length - WINDOW_SUFFIX_BYTES), hashedWindowStart(hashKey));
  }

  override put(key: Uint8Array, value: Uint8Array | null): void {
    this.putHashed(hashKeyOf(key), new Uint8Array(key), value);
  }

  /** Takes the key over, as CachingLayer.putHashed does. */
  override putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null, typedKey?: unknown, absentBelow = false): void {
    if (!isWindowKey(hashKey)) this.writeOther(hashKey, key, value, typedKey, absentBelow);
    else this.writeWindow(hashKey.slice(0, hashKey.length - WINDOW_SUFFIX_BYTES), hashedWindowStart(hashKey), value, typedKey, absentBelow, key);
  }

  /** Forgets the window's cached entry and deletes it below, without logging or telling listeners. */
  override expireHashed(hashKey: string, key: Uint8Array): void {
    const other = this.others.get(hashKey);
    if (other !== undefined) {
      this.others.delete(hashKey);
      other.live = false;
      this.cachedCount--;
    } else if (this.cachedCount > 0 && isWindowKey(hashKey)) {
      const recordKeyHash = hashKey.slice(0, hashKey.length - WINDOW_SUFFIX_BYTES);
      const startMs = hashedWindowStart(hashKey);
      const entry = this.find(recordKeyHash, startMs);
      if (entry !== undefined) {
        (this.byStart.get(startMs) as Map<string, WindowCacheEntry>).delete(recordKeyHash);
        entry.live = false;
        this.cachedCount--;
        this.lastEntry = null;
      }
    }
    super.expireHashed(hashKey, key);
  }

  /**
   * Writes dirty entries below in the order they were first cached, then tells the listener;
   * the cache is emptied first, as CachingLayer.flushCache does, and for the same reasons.
   */
  flushCache(): void {
    const flushed = this.order;
    if (flushed.length === 0) return;
    this.order = [];
    this.byStart.clear();
    this.others.clear();
    this.lastStartMs = Number.NaN;
    this.lastStartEntries = null;
    this.lastEntry = null;
    this.cachedCount = 0;
    const windowListener = this.windowListener;
    const bytesListener = this.bytesListener;
    if (windowListener === null && bytesListener === null) {
      for (const entry of flushed) {
        if (!entry.live || !entry.dirty) continue;
        if (entry.window) this.innerPutWindow(entry.recordKeyHash, entry.startMs, entry.bytes ?? windowKeyBytes(entry.recordKeyHash, entry.startMs), entry.value);
        else this.innerPut(entry.recordKeyHash, entry.bytes as Uint8Array, entry.value);
      }
    } else {
      const replaced: (Uint8Array | null | undefined)[] = new Array<Uint8Array | null | undefined>(flushed.length);
      for (let index = 0; index < flushed.length; index++) {
        const entry = flushed[index] as WindowCacheEntry;
        if (!entry.live || !entry.dirty) continue;
        if (!entry.window) {
          replaced[index] = entry.below === undefined ? this.innerGet(entry.recordKeyHash, entry.bytes as Uint8Array) : entry.below;
          this.innerPut(entry.recordKeyHash, entry.bytes as Uint8Array, entry.value);
          continue;
        }
        replaced[index] = entry.below === undefined ? this.innerGetWindow(entry.recordKeyHash, entry.startMs) : entry.below;
        entry.bytes ??= windowKeyBytes(entry.recordKeyHash, entry.startMs);
        this.innerPutWindow(entry.recordKeyHash, entry.startMs, entry.bytes, entry.value);
      }
      for (let index = 0; index < flushed.length; index++) {
        const entry = flushed[index] as WindowCacheEntry;
        if (!entry.live || !entry.dirty) continue;
        const oldValue = replaced[index] ?? null;
        if (entry.value === null && oldValue === null) continue;
        if (windowListener !== null) {
          if (entry.window) windowListener(entry.recordKeyHash, entry.startMs, entry.value, oldValue, entry.writtenAtMs, entry.typedKey);
        } else {
          (bytesListener as BytesFlushListener)(entry.bytes as Uint8Array, entry.value, oldValue, entry.writtenAtMs, entry.typedKey);
        }
      }
    }
    // Nothing refers to the flushed entries now: they go back to the pool, holding nothing.
    for (const entry of flushed) {
      if (this.pool.length >= this.entriesMax) break;
      entry.recordKeyHash = '';
      entry.bytes = null;
      entry.value = null;
      entry.below = undefined;
      entry.typedKey = undefined;
      this.pool.push(entry);
    }
  }

  private find(recordKeyHash: string, startMs: number): WindowCacheEntry | undefined {
    const last = this.lastEntry;
    if (last !== null && last.startMs === startMs && last.recordKeyHash === recordKeyHash) return last;
    let entries = this.lastStartEntries;
    if (startMs !== this.lastStartMs || entries === null) {
      const found = this.byStart.get(startMs);
      if (found === undefined) return undefined;
      this.lastStartMs = startMs;
      this.lastStartEntries = entries = found;
    }
    return entries.get(recordKeyHash);
  }

  /** Caches a new entry, flushing first when the cache is full. */
  private insert(entry: WindowCacheEntry): void {
    if (this.cachedCount >= this.entriesMax) this.flushCache();
    if (!entry.window) {
      this.others.set(entry.recordKeyHash, entry);
      this.order.push(entry);
      this.cachedCount++;
      return;
    }
    let entries = this.lastStartMs === entry.startMs ? this.lastStartEntries : null;
    if (entries === null) {
      entries = this.byStart.get(entry.startMs) ?? null;
      if (entries === null) this.byStart.set(entry.startMs, (entries = new Map()));
      this.lastStartMs = entry.startMs;
      this.lastStartEntries = entries;
    }
    entries.set(entry.recordKeyHash, entry);
    this.order.push(entry);
    this.cachedCount++;
    this.lastEntry = entry;
  }

  private entry(recordKeyHash: string, window: boolean, startMs: number, bytes: Uint8Array | null, value: Uint8Array | null, dirty: boolean, writtenAtMs: number, below: Uint8Array | null | undefined, typedKey: unknown): WindowCacheEntry {
    const entry = this.pool.pop();
    if (entry === undefined) return { recordKeyHash, window, startMs, bytes, value, dirty, live: true, writtenAtMs, below, typedKey };
    entry.recordKeyHash = recordKeyHash;
    entry.window = window;
    entry.startMs = startMs;
    entry.bytes = bytes;
    entry.value = value;
    entry.dirty = dirty;
    entry.live = true;
    entry.writtenAtMs = writtenAtMs;
    entry.below = below;
    entry.typedKey = typedKey;
    return entry;
  }
}
