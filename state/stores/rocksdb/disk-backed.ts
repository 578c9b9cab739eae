// The innermost store of the streams runtime's persistent stores: the data lives in RocksDB (in
// the RocksDB worker), and this layer keeps only a bounded cache of it, so a store is bounded by
// disk, not by memory. Before the runtime processes a batch of input it awaits prefetch() with
// the batch's record keys: one batched read fills the cache with every entry those keys have
// (a key-value store's value; a window or session store's windows or sessions of that key, a
// "group"). Processing then reads from the cache synchronously. A read the prefetch did not
// cover (another key, a range over many keys, an interactive query) is still answered, by a
// synchronous read from the worker: slower, never wrong.
//
// Writes are kept in a list and posted to the worker as one write batch (every
// writeBatchRecords writes, before any read from the worker, and on flush); the worker applies
// batches and reads in posting order, so a read sees every earlier write. The cache holds whole
// groups only: a group is either absent from the cache or complete (every entry of that key
// that RocksDB and the writes since hold), so an absent entry in a cached group means "none".
// When the cache holds more than entriesMax entries, whole groups are dropped, oldest first;
// nothing is lost, because every write was posted before the next read.
//
// Some processors scan a whole store for every record: suppress buffers, the unmatched records
// of outer stream joins, windowed aggregations that emit final results (a time range over all
// keys). Such stores are buffers, small by construction, and a round trip to the worker per
// record would be ruinous, so a store that is asked for such scans residentAfterScans times
// becomes resident: loaded whole into memory once, reads and scans answered there, writes still
// going to RocksDB. A resident window or session store drops its expired entries itself at
// flush, as RocksDB drops expired segments.
//
// Window and session stores are also resident while they are small: they hold what their
// retention period keeps, usually little, and loading each key's windows from RocksDB (a range
// per segment) costs far more than reading them from memory. One that outgrows entriesMax
// leaves memory and is read through prefetch like any other, unless scans made it resident.
import type { ChangelogRecord, StateStoreContext } from '../../../core/topology/processor.ts';
import { InMemoryKeyValueBytesStore } from '../in-memory.ts';
import { hashKeyOf, type HashedBytesStore } from '../layers.ts';
import type { KeyValue } from '../types.ts';
import { windowHashKey, type WindowedBytesAccess } from '../window-keys.ts';
import { ResidentTimeSlots, ResidentWindows } from './resident-slots.ts';
import type { RemoteStore } from './worker/client.ts';
import { RecordPacker, type StoreKind } from './worker/protocol.ts';

export interface DiskBackedOptions {
  /** Cached entries and groups above which whole groups are dropped. */
  readonly entriesMax: number;
  /** Writes gathered before they are posted as one batch. */
  readonly writeBatchRecords: number;
}

export const DISK_BACKED_DEFAULTS: DiskBackedOptions = { entriesMax: 100_000, writeBatchRecords: 10_000 };

/** Scans over many groups after which a store is held in memory whole (see above). */
const RESIDENT_AFTER_SCANS = 3;

let processOptions: DiskBackedOptions = DISK_BACKED_DEFAULTS;
/** Open stores of the process, for diskBackedCacheEntries. */
const openStores = new Set<DiskBackedBytesStore>();

/** Sets the options of disk-backed stores created from now on in this process (the runtime's). */
export function configureDiskBackedStores(options: Partial<DiskBackedOptions>): DiskBackedOptions {
  const next = { ...processOptions, ...options };
  if (!Number.isInteger(next.entriesMax) || next.entriesMax < 1 || !Number.isInteger(next.writeBatchRecords) || next.writeBatchRecords < 1) throw new Error('disk-backed store options must be positive integers');
  processOptions = next;
  return next;
}

/** Reads of every disk-backed store of the process since it started: from the cache, or waited for. */
export const diskBackedReads = { cached: 0, waited: 0 };

/** Cache slots (entries plus groups) held by every open disk-backed store of the process. */
export function diskBackedCacheEntries(): number {
  let total = 0;
  for (const store of openStores) total += store.cachedEntries;
  return total;
}

interface CachedEntry {
  readonly key: Uint8Array;
  value: Uint8Array;
}

/** What a resident store holds in memory: every entry, by hashed key. */
interface ResidentCopy {
  readonly size: number;
  get(hashKey: string): Uint8Array | null;
  put(hashKey: string, value: Uint8Array | null): void;
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[];
  /** Forgets entries past the retention period (window and session stores). */
  purge(): void;
}

/** A resident key-value store: a map with ranges, nothing expires. */
class ResidentMap implements ResidentCopy {
  private readonly store: InMemoryKeyValueBytesStore;
  constructor(name: string) {
    this.store = new InMemoryKeyValueBytesStore(name);
    // The in-memory store only marks itself open at init; it reads nothing of the context.
    this.store.init(undefined as never);
  }
  get size(): number {
    return this.store.approximateNumEntries();
  }
  get(hashKey: string): Uint8Array | null {
    return this.store.getHashed(hashKey, EMPTY);
  }
  put(hashKey: string, value: Uint8Array | null): void {
    this.store.putHashed(hashKey, EMPTY, value);
  }
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    return this.store.range(from, to);
  }
  purge(): void {}
}

const EMPTY = new Uint8Array(0);

/** Bytes after a record key in the store's keys: what tells one group from another. */
function suffixBytesOf(kind: StoreKind): number {
  return kind === 'window' ? 12 : kind === 'session' ? 16 : 0;
}

export class DiskBackedBytesStore implements HashedBytesStore, WindowedBytesAccess {
  readonly persistent = true;
  /** Complete groups by the hashed record key; entries by hashed store key. */
  private readonly groups = new Map<string, Map<string, CachedEntry>>();
  private entryCount = 0;
  /** Writes not yet posted to the worker, packed as they come. */
  private readonly unwritten = new RecordPacker();
  private readonly suffixBytes: number;
  /** Scans over many groups so far; at RESIDENT_AFTER_SCANS the store becomes resident. */
  private scans = 0;
  /** The whole store in memory once resident, else null. */
  private resident: ResidentCopy | null = null;
  /** resident, when it is a window store's copy (which takes windows by record key and start). */
  private residentWindows: ResidentWindows | null = null;
  /** Resident only while it fits in entriesMax (a small window or session store), not for scans. */
  private residentWhileSmall = false;
  /** Reads answered from the cache, and reads that had to wait for the worker. */
  readonly reads = { cached: 0, waited: 0 };

  constructor(
    readonly name: string,
    private readonly remote: RemoteStore,
    private readonly options: DiskBackedOptions = processOptions,
  ) {
    this.suffixBytes = suffixBytesOf(remote.spec.kind);
    openStores.add(this);
    if (this.suffixBytes > 0) this.residentIfSmall();
  }

  init(_context: StateStoreContext): void {}

  /**
   * What the cache holds now, counted as entries plus groups (a key known to have nothing costs
   * a slot too): the memory the store uses, apart from unwritten changes. Bounded by entriesMax
   * except for the one group being read.
   */
  get cachedEntries(): number {
    return this.entryCount + this.groups.size + (this.resident?.size ?? 0);
  }

  /** Whether the store is held in memory whole (it is scanned over many keys). */
  get isResident(): boolean {
    return this.resident !== null;
  }

  /** Loads every group of these record keys that is not cached, with one batched read. */
  async prefetch(recordKeys: readonly Uint8Array[]): Promise<void> {
    if (this.resident !== null) return;
    const missing = new Map<string, Uint8Array>();
    for (const key of recordKeys) {
      const hashKey = hashKeyOf(key);
      const group = this.groups.get(hashKey);
      if (group === undefined) {
        missing.set(hashKey, key);
        continue;
      }
      // Moved to the young end, so eviction drops groups this batch does not need first.
      this.groups.delete(hashKey);
      this.groups.set(hashKey, group);
    }
    if (missing.size === 0) return;
    this.postUnwritten();
    const entries = await this.remote.loadGroups([...missing.values()]);
    // Nothing writes while the runtime awaits a prefetch, but a synchronous read (an interactive
    // query) may have cached a group meanwhile; it read the same data.
    for (const hashKey of missing.keys()) if (!this.groups.has(hashKey)) this.groups.set(hashKey, new Map());
    for (const entry of entries) this.cacheLoaded(entry);
    this.evict();
  }

  get(key: Uint8Array): Uint8Array | null {
    return this.getHashed(hashKeyOf(key), key);
  }

  getHashed(hashKey: string, key: Uint8Array): Uint8Array | null {
    if (this.resident !== null) {
      diskBackedReads.cached++;
      return this.resident.get(hashKey);
    }
    const groupHash = this.groupHashOf(hashKey);
    const group = this.cachedGroup(groupHash) ?? this.loadGroupNow(groupHash, key.subarray(0, key.byteLength - this.suffixBytes));
    return group.get(hashKey)?.value ?? null;
  }

  /** A window by record key and start (window stores only): read in the resident copy without a composite key. */
  getWindow(recordKeyHash: string, startMs: number): Uint8Array | null {
    if (this.resident !== null) {
      diskBackedReads.cached++;
      // A window store without retention is resident as a plain map, by composite key.
      return this.residentWindows !== null ? this.residentWindows.getWindow(recordKeyHash, startMs) : this.resident.get(windowHashKey(recordKeyHash, startMs));
    }
    // A window store's group is its record key's windows: the group's hashed key is recordKeyHash.
    const group = this.cachedGroup(recordKeyHash) ?? this.loadGroupNow(recordKeyHash, Buffer.from(recordKeyHash, 'latin1'));
    return group.get(windowHashKey(recordKeyHash, startMs))?.value ?? null;
  }

  /** bytes is the window's composite key, handed over; the resident copy keeps none of it. */
  putWindow(recordKeyHash: string, startMs: number, bytes: Uint8Array, value: Uint8Array | null): void {
    if (this.residentWindows === null) {
      this.putHashed(windowHashKey(recordKeyHash, startMs), bytes, value);
      return;
    }
    this.unwritten.add(bytes, value);
    this.residentWindows.putWindow(recordKeyHash, startMs, bytes, value);
    this.afterResidentWrite();
  }

  put(key: Uint8Array, value: Uint8Array | null): void {
    const copy = new Uint8Array(key);
    this.putHashed(hashKeyOf(copy), copy, value);
  }

  /** The key is handed over: the caller never changes the bytes afterwards. */
  putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    this.unwritten.add(key, value);
    if (this.resident !== null) {
      this.resident.put(hashKey, value);
      this.afterResidentWrite();
      return;
    }
    // Only groups already cached are updated: caching what is merely written (a cache layer's
    // flush writes thousands of keys at once) would evict the groups the batch being processed
    // was prefetched for.
    const group = this.groups.get(this.groupHashOf(hashKey));
    if (group !== undefined) {
      const sizeBefore = group.size;
      if (value === null) group.delete(hashKey);
      // A slice of Buffer's pool (the typed window store makes keys so) is copied: a cached
      // group may live long, and one slice kept would keep its whole pool chunk alive.
      else group.set(hashKey, { key: key instanceof Buffer ? new Uint8Array(key) : key, value });
      this.entryCount += group.size - sizeBefore;
      if (this.cachedEntries > this.options.entriesMax) this.evict(group);
    }
    if (this.unwritten.count >= this.options.writeBatchRecords) this.postUnwritten();
  }

  private afterResidentWrite(): void {
    if (this.unwritten.count >= this.options.writeBatchRecords) this.postUnwritten();
    // Outgrown: from now on read through the prefetch; RocksDB has (or will have) every write.
    if (this.residentWhileSmall && (this.resident as ResidentCopy).size > this.options.entriesMax) {
      this.resident = null;
      this.residentWindows = null;
      this.residentWhileSmall = false;
    }
  }

  delete(key: Uint8Array): Uint8Array | null {
    const previous = this.get(key);
    if (previous !== null) this.put(key, null);
    return previous;
  }

  /**
   * A range within one group (one key's windows or sessions) is answered from the cache, after
   * loading the group if needed; any other range is read from the worker.
   */
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    if (this.resident !== null) {
      // Scanned over many keys: stays in memory even when it grows.
      if (this.residentWhileSmall && (this.suffixBytes === 0 || this.sameGroup(from, to) === null) && ++this.scans >= RESIDENT_AFTER_SCANS) this.residentWhileSmall = false;
      return this.resident.range(from, to);
    }
    const recordKey = this.suffixBytes === 0 ? null : this.sameGroup(from, to);
    if (recordKey === null) {
      if (++this.scans >= RESIDENT_AFTER_SCANS) return this.becomeResident().range(from, to);
      this.postUnwritten();
      this.reads.waited++;
      diskBackedReads.waited++;
      return this.remote.rangeSync(from, to);
    }
    const groupHash = hashKeyOf(recordKey);
    const group = this.groups.get(groupHash) ?? this.loadGroupNow(groupHash, recordKey);
    const fromKey = hashKeyOf(from as Uint8Array);
    const toKey = hashKeyOf(to as Uint8Array);
    const found: [string, CachedEntry][] = [];
    for (const pair of group) if (pair[0] >= fromKey && pair[0] <= toKey) found.push(pair);
    // Latin1 strings compare as their bytes do.
    found.sort((left, right) => (left[0] < right[0] ? -1 : left[0] > right[0] ? 1 : 0));
    return found.map(([, entry]) => ({ key: entry.key, value: entry.value }));
  }

  approximateNumEntries(): number {
    if (this.resident !== null) return this.resident.size;
    this.postUnwritten();
    return this.remote.countSync();
  }

  /** Replays records (already in the changelog) into RocksDB, as writes. */
  restore(records: readonly ChangelogRecord[]): void {
    for (const record of records) this.put(record.key, record.value);
  }

  /** Posts the unwritten changes; the runtime's commit waits until RocksDB has them. */
  flush(): void {
    this.postUnwritten();
    this.resident?.purge();
  }

  close(): void {
    this.postUnwritten();
    this.groups.clear();
    this.entryCount = 0;
    openStores.delete(this);
  }

  /** Holds a window or session store in memory when RocksDB holds no more than entriesMax entries of it. */
  private residentIfSmall(): void {
    const entries = this.remote.rangeSync(null, null, this.options.entriesMax + 1);
    if (entries.length > this.options.entriesMax) return;
    this.becomeResident(entries);
    this.residentWhileSmall = true;
  }

  /** Loads the whole store into memory; the cache of groups is dropped, the resident copy replaces it. */
  private becomeResident(loaded?: readonly KeyValue<Uint8Array, Uint8Array>[]): ResidentCopy {
    this.postUnwritten();
    const retentionMs = this.remote.spec.retentionMs;
    // A window lives while its start is within retention of stream time; a session ending
    // exactly one retention period ago can still merge, so it stays (as in the typed stores).
    // A window store's copy takes windows by record key and start (ResidentWindows).
    const windows = this.remote.spec.kind === 'window' && retentionMs !== null ? new ResidentWindows(retentionMs) : null;
    const resident: ResidentCopy = windows ?? (this.suffixBytes === 0 || retentionMs === null ? new ResidentMap(this.name) : new ResidentTimeSlots(this.suffixBytes, retentionMs, 0));
    for (const entry of loaded ?? this.remote.rangeSync(null, null)) resident.put(hashKeyOf(entry.key), entry.value);
    diskBackedReads.waited++;
    this.groups.clear();
    this.entryCount = 0;
    this.resident = resident;
    this.residentWindows = windows;
    return resident;
  }

  private groupHashOf(hashKey: string): string {
    return this.suffixBytes === 0 ? hashKey : hashKey.slice(0, hashKey.length - this.suffixBytes);
  }

  /** The group when cached (a read answered from the cache), else undefined. */
  private cachedGroup(groupHash: string): Map<string, CachedEntry> | undefined {
    const group = this.groups.get(groupHash);
    if (group !== undefined) {
      this.reads.cached++;
      diskBackedReads.cached++;
    }
    return group;
  }

  private loadGroupNow(groupHash: string, recordKey: Uint8Array): Map<string, CachedEntry> {
    this.reads.waited++;
    diskBackedReads.waited++;
    this.postUnwritten();
    const entries = this.remote.loadGroupsSync([recordKey]);
    const group = new Map<string, CachedEntry>();
    this.groups.set(groupHash, group);
    for (const entry of entries) this.cacheLoaded(entry);
    this.evict(group);
    return group;
  }

  private cacheLoaded(entry: ChangelogRecord): void {
    if (entry.value === null) return;
    const hashKey = hashKeyOf(entry.key);
    const group = this.groups.get(this.groupHashOf(hashKey));
    if (group === undefined || group.has(hashKey)) return;
    group.set(hashKey, { key: entry.key, value: entry.value });
    this.entryCount++;
  }

  /** The record key both bounds share, when they are bounds within one group. */
  private sameGroup(from: Uint8Array | null, to: Uint8Array | null): Uint8Array | null {
    if (from === null || to === null || from.byteLength !== to.byteLength || from.byteLength < this.suffixBytes) return null;
    const length = from.byteLength - this.suffixBytes;
    for (let index = 0; index < length; index++) if (from[index] !== to[index]) return null;
    return from.subarray(0, length);
  }

  private postUnwritten(): void {
    if (this.unwritten.count === 0) return;
    this.remote.applyPacked(this.unwritten.take());
  }

  /** Drops whole groups, oldest first, until the cache fits; keep is the group being read. */
  private evict(keep?: Map<string, CachedEntry>): void {
    if (this.cachedEntries <= this.options.entriesMax) return;
    for (const [groupHash, group] of this.groups) {
      if (this.cachedEntries <= this.options.entriesMax) return;
      if (group === keep) continue;
      this.groups.delete(groupHash);
      this.entryCount -= group.size;
    }
  }
}
