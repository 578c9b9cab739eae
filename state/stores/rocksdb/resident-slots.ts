// The in-memory copy a resident window or session store keeps (see disk-backed.ts), split by
// time slot: a slot is a sixteenth of the retention period, and each holds the entries whose
// time (window start, session end) falls in it, by hashed key. Retention then drops a wholly
// expired slot with one map deletion instead of deleting its keys one by one, and each map stays
// a sixteenth of the store's size, so the reads and writes of a record touch a small table.
// ResidentWindows is the window stores' variant: each slot keeps the windows of its first start
// by record key, so the window fast path (window-keys.ts) needs no composite key.
import { hashedSuffixNumber, lowerBound } from '../bytes.ts';
import { hashKeyOf } from '../layers.ts';
import type { KeyValue } from '../types.ts';
import { hashedSequenceIsZero, hashedWindowStart, WINDOW_SUFFIX_BYTES, windowHashKey, windowSuffixHash, type WindowedBytesAccess } from '../window-keys.ts';

/** Slots per retention period: a purge checks key by key only the slot that straddles the oldest live time. */
const SLOTS_PER_RETENTION = 16;

/**
 * The entries of time slots whose keys lie within [from, to] (hashed; null: unbounded), in byte
 * order: sortedOf gives a slot's keys in byte order (each slot keeps them between writes), and the
 * slots' matches are joined and sorted once more, which for runs already in order is a merge.
 */
function slotsRange<Slot>(slots: ReadonlyMap<number, Slot>, sortedOf: (slot: Slot) => readonly string[], get: (hashKey: string) => Uint8Array | null, from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
  const fromKey = from === null ? null : hashKeyOf(from);
  const toKey = to === null ? null : hashKeyOf(to);
  const found: string[] = [];
  for (const slot of slots.values()) {
    const keys = sortedOf(slot);
    for (let index = fromKey === null ? 0 : lowerBound(keys, fromKey); index < keys.length; index++) {
      const hashKey = keys[index] as string;
      if (toKey !== null && hashKey > toKey) break;
      found.push(hashKey);
    }
  }
  if (slots.size > 1) found.sort();
  return found.map((hashKey) => ({ key: Buffer.from(hashKey, 'latin1'), value: get(hashKey) as Uint8Array }));
}

interface PurgedSlot {
  /** No entry of the slot is older than this. */
  oldestMs: number;
  sorted: string[] | null;
}

/** What purgeSlots asks of a slot's owner. */
interface SlotPurger<Slot extends PurgedSlot> {
  entriesOf(slot: Slot): number;
  /** Drops the slot's entries older than minLiveMs; answers the oldest time kept (+Infinity: none). */
  purgeSlot(slot: Slot, minLiveMs: number): number;
}

/**
 * Drops what retention has passed: a slot wholly older than minLiveMs goes with one map deletion,
 * a slot straddling it entry by entry (the owner's purgeSlot), a slot left empty goes too.
 * Answers the entries dropped and the oldest time still held.
 */
function purgeSlots<Slot extends PurgedSlot>(slots: Map<number, Slot>, slotMs: number, minLiveMs: number, owner: SlotPurger<Slot>): { dropped: number; oldestLiveMs: number } {
  let dropped = 0;
  let oldestLiveMs = Number.POSITIVE_INFINITY;
  for (const [slotId, slot] of slots) {
    if (slot.oldestMs >= minLiveMs) {
      if (slot.oldestMs < oldestLiveMs) oldestLiveMs = slot.oldestMs;
      continue;
    }
    const entriesBefore = owner.entriesOf(slot);
    if ((slotId + 1) * slotMs <= minLiveMs) {
      dropped += entriesBefore;
      slots.delete(slotId);
      continue;
    }
    const keptOldestMs = owner.purgeSlot(slot, minLiveMs);
    const entriesAfter = owner.entriesOf(slot);
    dropped += entriesBefore - entriesAfter;
    slot.sorted = null;
    if (entriesAfter === 0) {
      slots.delete(slotId);
      continue;
    }
    slot.oldestMs = keptOldestMs;
    if (keptOldestMs < oldestLiveMs) oldestLiveMs = keptOldestMs;
  }
  return { dropped, oldestLiveMs };
}

interface TimeSlot {
  readonly entries: Map<string, Uint8Array>;
  /** The slot's keys in byte order, kept from its first range until its next write. */
  sorted: string[] | null;
  /** No entry of the slot is older than this. */
  oldestMs: number;
}

export class ResidentTimeSlots {
  private readonly slots = new Map<number, TimeSlot>();
  private readonly slotMs: number;
  private entryCount = 0;
  /** Largest time written; -1 before the first write. */
  private latestMs = -1;
  /** No entry is older than this; a purge looks at the slots only once retention has passed it. */
  private oldestMs = Number.POSITIVE_INFINITY;

  /**
   * suffixBytes: bytes after the record key (12 for windows, 16 for sessions), whose first eight
   * hold the entry's time. liveSlackMs: 1 for windows, whose start must be within retention of
   * the latest time; 0 for sessions, where one ending exactly a retention period ago can still
   * merge with a record at stream time.
   */
  constructor(private readonly suffixBytes: number, private readonly retentionMs: number, private readonly liveSlackMs: number) {
    this.slotMs = Math.max(1, Math.floor(retentionMs / SLOTS_PER_RETENTION));
  }

  get size(): number {
    return this.entryCount;
  }

  get(hashKey: string): Uint8Array | null {
    const slot = this.slots.get(Math.floor(hashedSuffixNumber(hashKey, this.suffixBytes) / this.slotMs));
    return slot?.entries.get(hashKey) ?? null;
  }

  /** Writes a value (null deletes); the hashed key's bytes are not kept. */
  put(hashKey: string, value: Uint8Array | null): void {
    const timeMs = hashedSuffixNumber(hashKey, this.suffixBytes);
    const slotId = Math.floor(timeMs / this.slotMs);
    let slot = this.slots.get(slotId);
    if (value === null) {
      if (slot !== undefined && slot.entries.delete(hashKey)) {
        this.entryCount--;
        slot.sorted = null;
      }
      return;
    }
    if (slot === undefined) this.slots.set(slotId, (slot = { entries: new Map(), sorted: null, oldestMs: timeMs }));
    const sizeBefore = slot.entries.size;
    slot.entries.set(hashKey, value);
    if (slot.entries.size === sizeBefore) return;
    this.entryCount++;
    slot.sorted = null;
    if (timeMs < slot.oldestMs) slot.oldestMs = timeMs;
    if (timeMs > this.latestMs) this.latestMs = timeMs;
    if (timeMs < this.oldestMs) this.oldestMs = timeMs;
  }

  /** Entries whose keys lie within [from, to] (hashed; null: unbounded), in byte order (see slotsRange). */
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    // Latin1 strings sort as their bytes do under the default (code unit) order.
    return slotsRange(this.slots, (slot) => (slot.sorted ??= [...slot.entries.keys()].sort()), (hashKey) => this.get(hashKey), from, to);
  }

  /**
   * Forgets entries older than the retention period as of the latest time written: wholly
   * expired slots go at once, the slot straddling the oldest live time is checked key by key.
   */
  purge(): void {
    const minLiveMs = this.latestMs - this.retentionMs + this.liveSlackMs;
    if (minLiveMs <= this.oldestMs) return;
    const purged = purgeSlots(this.slots, this.slotMs, minLiveMs, this);
    this.entryCount -= purged.dropped;
    this.oldestMs = purged.oldestLiveMs;
  }

  /** purgeSlots' part: a slot's entry count. */
  entriesOf(slot: TimeSlot): number {
    return slot.entries.size;
  }

  /** purgeSlots' part: drops the slot's entries older than minLiveMs; answers the oldest time kept. */
  purgeSlot(slot: TimeSlot, minLiveMs: number): number {
    let keptOldestMs = Number.POSITIVE_INFINITY;
    // forEach, not for-of: no entry array per key.
    slot.entries.forEach((_value, hashKey) => {
      const timeMs = hashedSuffixNumber(hashKey, this.suffixBytes);
      if (timeMs >= minLiveMs) {
        if (timeMs < keptOldestMs) keptOldestMs = timeMs;
        return;
      }
      slot.entries.delete(hashKey);
    });
    return keptOldestMs;
  }
}

interface WindowSlot {
  /**
   * The first window start written to the slot with sequence 0, or NaN before one is: its windows
   * are kept by record key alone (in byKey), so the window fast path reads and writes them
   * without a composite key. A slot is a sixteenth of the retention period, so tumbling and
   * hopping windows no shorter than that have one start per slot and all go there.
   */
  primaryStartMs: number;
  /** Values of the primary start's windows by hashed record key. */
  readonly byKey: Map<string, Uint8Array>;
  /** Every other entry of the slot (other starts, sequences other than 0) by hashed composite key. */
  readonly other: Map<string, Uint8Array>;
  /** The slot's hashed composite keys in byte order, kept from its first range until its next write. */
  sorted: string[] | null;
  /** No entry of the slot is older than this. */
  oldestMs: number;
}

/**
 * The resident copy of a window store: ResidentTimeSlots' time slots, holding each slot's
 * windows of one start by record key, so WindowedBytesAccess reads and writes find a window by
 * its record key and start without building its composite key. Entries, ranges and purges are
 * those of ResidentTimeSlots for windows (liveSlackMs 1); composite keys are built for ranges.
 */
export class ResidentWindows implements WindowedBytesAccess {
  private readonly slots = new Map<number, WindowSlot>();
  private readonly slotMs: number;
  private entryCount = 0;
  private latestMs = -1;
  private oldestMs = Number.POSITIVE_INFINITY;
  /** The slot found last and its id: the records of a stream mostly fall into one slot. */
  private lastSlot: WindowSlot | null = null;
  private lastSlotId = Number.NaN;

  constructor(private readonly retentionMs: number) {
    this.slotMs = Math.max(1, Math.floor(retentionMs / SLOTS_PER_RETENTION));
  }

  get size(): number {
    return this.entryCount;
  }

  getWindow(recordKeyHash: string, startMs: number): Uint8Array | null {
    const slot = this.slotOf(startMs, false);
    if (slot === undefined) return null;
    if (slot.primaryStartMs === startMs) return slot.byKey.get(recordKeyHash) ?? null;
    return slot.other.size === 0 ? null : (slot.other.get(windowHashKey(recordKeyHash, startMs)) ?? null);
  }

  /** The composite bytes are not kept. */
  putWindow(recordKeyHash: string, startMs: number, _bytes: Uint8Array, value: Uint8Array | null): void {
    this.write(startMs, recordKeyHash, null, value);
  }

  get(hashKey: string): Uint8Array | null {
    const startMs = hashedWindowStart(hashKey);
    const slot = this.slotOf(startMs, false);
    if (slot === undefined) return null;
    if (slot.primaryStartMs === startMs && hashedSequenceIsZero(hashKey)) return slot.byKey.get(hashKey.slice(0, hashKey.length - WINDOW_SUFFIX_BYTES)) ?? null;
    return slot.other.get(hashKey) ?? null;
  }

  /** Writes a value (null deletes); the hashed key's bytes are not kept. */
  put(hashKey: string, value: Uint8Array | null): void {
    const startMs = hashedWindowStart(hashKey);
    if (hashedSequenceIsZero(hashKey)) this.write(startMs, hashKey.slice(0, hashKey.length - WINDOW_SUFFIX_BYTES), null, value);
    else this.write(startMs, null, hashKey, value);
  }

  /** One entry: by record key when recordKeyHash is given (sequence 0), else by composite key. */
  private write(startMs: number, recordKeyHash: string | null, hashKey: string | null, value: Uint8Array | null): void {
    let slot = this.slotOf(startMs, value !== null);
    if (slot === undefined) return;
    if (recordKeyHash !== null && Number.isNaN(slot.primaryStartMs) && value !== null) slot.primaryStartMs = startMs;
    let entries: Map<string, Uint8Array>;
    let entryKey: string;
    if (recordKeyHash !== null && slot.primaryStartMs === startMs) {
      entries = slot.byKey;
      entryKey = recordKeyHash;
    } else {
      entries = slot.other;
      entryKey = hashKey ?? windowHashKey(recordKeyHash as string, startMs);
    }
    if (value === null) {
      if (entries.delete(entryKey)) {
        this.entryCount--;
        slot.sorted = null;
      }
      return;
    }
    const sizeBefore = entries.size;
    entries.set(entryKey, value);
    if (entries.size === sizeBefore) return;
    this.entryCount++;
    slot.sorted = null;
    if (startMs < slot.oldestMs) slot.oldestMs = startMs;
    if (startMs > this.latestMs) this.latestMs = startMs;
    if (startMs < this.oldestMs) this.oldestMs = startMs;
  }

  private slotOf(startMs: number, create: true): WindowSlot;
  private slotOf(startMs: number, create: boolean): WindowSlot | undefined;
  private slotOf(startMs: number, create: boolean): WindowSlot | undefined {
    const slotId = Math.floor(startMs / this.slotMs);
    if (slotId === this.lastSlotId && this.lastSlot !== null) return this.lastSlot;
    let slot = this.slots.get(slotId);
    if (slot === undefined) {
      if (!create) return undefined;
      this.slots.set(slotId, (slot = { primaryStartMs: Number.NaN, byKey: new Map(), other: new Map(), sorted: null, oldestMs: startMs }));
    }
    this.lastSlot = slot;
    this.lastSlotId = slotId;
    return slot;
  }

  /** Entries whose keys lie within [from, to] (hashed; null: unbounded), in byte order (see slotsRange). */
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    return slotsRange(this.slots, (slot) => (slot.sorted ??= sortedKeysOf(slot)), (hashKey) => this.get(hashKey), from, to);
  }

  /** Forgets windows older than the retention period as of the latest start written (see ResidentTimeSlots.purge). */
  purge(): void {
    const minLiveMs = this.latestMs - this.retentionMs + 1;
    if (minLiveMs <= this.oldestMs) return;
    const purged = purgeSlots(this.slots, this.slotMs, minLiveMs, this);
    this.entryCount -= purged.dropped;
    this.oldestMs = purged.oldestLiveMs;
    this.lastSlot = null;
    this.lastSlotId = Number.NaN;
  }

  /** purgeSlots' part: a slot's entry count. */
  entriesOf(slot: WindowSlot): number {
    return slot.byKey.size + slot.other.size;
  }

  /** purgeSlots' part: drops the slot's windows older than minLiveMs; answers the oldest start kept. */
  purgeSlot(slot: WindowSlot, minLiveMs: number): number {
    let keptOldestMs = Number.POSITIVE_INFINITY;
    if (slot.byKey.size > 0) {
      if (slot.primaryStartMs < minLiveMs) slot.byKey.clear();
      else keptOldestMs = slot.primaryStartMs;
    }
    // forEach, not for-of: no entry array per key.
    slot.other.forEach((_value, hashKey) => {
      const timeMs = hashedWindowStart(hashKey);
      if (timeMs >= minLiveMs) {
        if (timeMs < keptOldestMs) keptOldestMs = timeMs;
        return;
      }
      slot.other.delete(hashKey);
    });
    return keptOldestMs;
  }
}

function sortedKeysOf(slot: WindowSlot): string[] {
  const keys: string[] = [];
  if (slot.byKey.size > 0) {
    const suffix = windowSuffixHash(slot.primaryStartMs);
    for (const recordKeyHash of slot.byKey.keys()) keys.push(recordKeyHash + suffix);
  }
  for (const hashKey of slot.other.keys()) keys.push(hashKey);
  // Latin1 strings sort as their bytes do under the default (code unit) order.
  return keys.sort();
}
