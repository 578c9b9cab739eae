// The in-memory copy a resident window or session store keeps (see disk-backed.ts), split by
// time slot: a slot is a sixteenth of the retention period, and each holds the entries whose
// time (window start, session end) falls in it, by hashed key. Retention then drops a wholly
// expired slot with one map deletion instead of deleting its keys one by one, and each map stays
// a sixteenth of the store's size, so the reads and writes of a record touch a small table.
import { lowerBound } from '../bytes.ts';
import { hashKeyOf } from '../layers.ts';
import type { KeyValue } from '../types.ts';

/** Slots per retention period: a purge checks key by key only the slot that straddles the oldest live time. */
const SLOTS_PER_RETENTION = 16;

/** suffixNumber(key, suffixBytes, 0) read from the key's hashKeyOf form, one char per byte. */
export function hashedSuffixNumber(hashKey: string, suffixBytes: number): number {
  const position = hashKey.length - suffixBytes;
  let high = 0;
  let low = 0;
  for (let index = 0; index < 4; index++) {
    high = high * 256 + hashKey.charCodeAt(position + index);
    low = low * 256 + hashKey.charCodeAt(position + 4 + index);
  }
  return high * 0x1_0000_0000 + low;
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

  /**
   * Entries whose keys lie within [from, to] (hashed; null: unbounded), in byte order. Each slot
   * keeps its sorted keys between writes; the slots' matches are joined and sorted once more,
   * which for runs already in order is a merge.
   */
  range(from: Uint8Array | null, to: Uint8Array | null): KeyValue<Uint8Array, Uint8Array>[] {
    const fromKey = from === null ? null : hashKeyOf(from);
    const toKey = to === null ? null : hashKeyOf(to);
    const found: string[] = [];
    for (const slot of this.slots.values()) {
      // Latin1 strings sort as their bytes do under the default (code unit) order.
      const keys = (slot.sorted ??= [...slot.entries.keys()].sort());
      for (let index = fromKey === null ? 0 : lowerBound(keys, fromKey); index < keys.length; index++) {
        const hashKey = keys[index] as string;
        if (toKey !== null && hashKey > toKey) break;
        found.push(hashKey);
      }
    }
    if (this.slots.size > 1) found.sort();
    return found.map((hashKey) => ({ key: Buffer.from(hashKey, 'latin1'), value: this.get(hashKey) as Uint8Array }));
  }

  /**
   * Forgets entries older than the retention period as of the latest time written: wholly
   * expired slots go at once, the slot straddling the oldest live time is checked key by key.
   */
  purge(): void {
    const minLiveMs = this.latestMs - this.retentionMs + this.liveSlackMs;
    if (minLiveMs <= this.oldestMs) return;
    let oldestLiveMs = Number.POSITIVE_INFINITY;
    for (const [slotId, slot] of this.slots) {
      if (slot.oldestMs >= minLiveMs) {
        if (slot.oldestMs < oldestLiveMs) oldestLiveMs = slot.oldestMs;
        continue;
      }
      if ((slotId + 1) * this.slotMs <= minLiveMs) {
        this.entryCount -= slot.entries.size;
        this.slots.delete(slotId);
        continue;
      }
      let keptOldestMs = Number.POSITIVE_INFINITY;
      // forEach, not for-of: no entry array per key.
      slot.entries.forEach((_value, hashKey) => {
        const timeMs = hashedSuffixNumber(hashKey, this.suffixBytes);
        if (timeMs >= minLiveMs) {
          if (timeMs < keptOldestMs) keptOldestMs = timeMs;
          return;
        }
        slot.entries.delete(hashKey);
        this.entryCount--;
      });
      slot.sorted = null;
      if (slot.entries.size === 0) {
        this.slots.delete(slotId);
        continue;
      }
      slot.oldestMs = keptOldestMs;
      if (keptOldestMs < oldestLiveMs) oldestLiveMs = keptOldestMs;
    }
    this.oldestMs = oldestLiveMs;
  }
}
