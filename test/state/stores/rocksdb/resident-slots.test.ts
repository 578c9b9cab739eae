// The resident copy of a window or session store, split by time slot: reads, ranges in byte order
// across slots, and purges, against a plain sorted model of the same writes.
import { describe, expect, it } from 'vitest';
import { withSuffix } from '../../../../state/stores/bytes.ts';
import { hashKeyOf } from '../../../../state/stores/layers.ts';
import { ResidentTimeSlots, ResidentWindows } from '../../../../state/stores/rocksdb/resident-slots.ts';
import { windowKeyBytes } from '../../../../state/stores/window-keys.ts';
import { seededRandom } from '../../../helpers/random.ts';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

/** What the store must hold: every written entry whose time is live, in byte order. */
class Model {
  readonly entries = new Map<string, string>();
  latestMs = -1;
  constructor(private readonly retentionMs: number, private readonly liveSlackMs: number, private readonly timeOf: (hashKey: string) => number) {}
  put(hashKey: string, value: string | null): void {
    if (value === null) {
      this.entries.delete(hashKey);
      return;
    }
    this.entries.set(hashKey, value);
    this.latestMs = Math.max(this.latestMs, this.timeOf(hashKey));
  }
  purge(): void {
    const minLiveMs = this.latestMs - this.retentionMs + this.liveSlackMs;
    for (const hashKey of [...this.entries.keys()]) if (this.timeOf(hashKey) < minLiveMs) this.entries.delete(hashKey);
  }
  range(fromKey: string | null, toKey: string | null): [string, string][] {
    return [...this.entries].filter(([key]) => (fromKey === null || key >= fromKey) && (toKey === null || key <= toKey)).sort(([left], [right]) => (left < right ? -1 : 1));
  }
}

function check(kind: 'window' | 'session', seed: number): void {
  const random = seededRandom(seed);
  const retentionMs = 16_000;
  const suffixBytes = kind === 'window' ? 12 : 16;
  const liveSlackMs = kind === 'window' ? 1 : 0;
  const store = new ResidentTimeSlots(suffixBytes, retentionMs, liveSlackMs);
  const keyOf = (name: string, timeMs: number): Uint8Array => (kind === 'window' ? withSuffix(text(name), [timeMs], 0) : withSuffix(text(name), [timeMs, Math.max(0, timeMs - 500)], null));
  const model = new Model(retentionMs, liveSlackMs, (hashKey) => {
    const bytes = Buffer.from(hashKey, 'latin1');
    return bytes.readUInt32BE(bytes.byteLength - suffixBytes) * 0x1_0000_0000 + bytes.readUInt32BE(bytes.byteLength - suffixBytes + 4);
  });
  const read = (entries: { key: Uint8Array; value: Uint8Array }[]): [string, string][] => entries.map((entry) => [hashKeyOf(entry.key), Buffer.from(entry.value).toString()]);
  let timeMs = 0;
  for (let step = 0; step < 3_000; step++) {
    timeMs += Math.floor(random() * 60);
    const name = `k${Math.floor(random() * 12)}`;
    const at = Math.max(0, timeMs - Math.floor(random() * 20_000));
    const hashKey = hashKeyOf(keyOf(name, at));
    const roll = random();
    if (roll < 0.75) {
      const value = `v${step}`;
      store.put(hashKey, text(value));
      model.put(hashKey, value);
    } else if (roll < 0.85) {
      store.put(hashKey, null);
      model.put(hashKey, null);
    } else if (roll < 0.9) {
      store.purge();
      model.purge();
    } else if (roll < 0.95) {
      const from = keyOf(name, Math.max(0, at - 3_000));
      const to = keyOf(name, at + 3_000);
      expect(read(store.range(from, to))).toEqual(model.range(hashKeyOf(from), hashKeyOf(to)));
    }
    const expected = model.entries.get(hashKey);
    const got = store.get(hashKey);
    expect(got === null ? undefined : Buffer.from(got).toString()).toEqual(expected);
  }
  store.purge();
  model.purge();
  expect(read(store.range(null, null))).toEqual(model.range(null, null));
  expect(store.size).toBe(model.entries.size);
}

describe('ResidentTimeSlots', () => {
  it('matches a sorted map of the live entries for window keys', () => {
    for (const seed of [1, 2, 3]) check('window', seed);
  });

  it('matches a sorted map of the live entries for session keys', () => {
    for (const seed of [4, 5]) check('session', seed);
  });

  it('drops a wholly expired slot and keeps the live part of the straddling one', () => {
    // Retention 16,000: slots of 1,000 ms; windows live while start >= latest - 15,999.
    const store = new ResidentTimeSlots(12, 16_000, 1);
    const key = (name: string, startMs: number) => hashKeyOf(withSuffix(text(name), [startMs], 0));
    for (const [name, startMs] of [['a', 100], ['b', 900], ['c', 1_200], ['d', 1_800], ['e', 5_000]] as const) store.put(key(name, startMs), text(name));
    store.put(key('z', 17_500), text('z'));
    store.purge();
    // Oldest live start 1,501: slot 0 goes whole, slot 1 keeps d only.
    expect(store.range(null, null).map((entry) => Buffer.from(entry.value).toString())).toEqual(['d', 'e', 'z']);
    expect(store.size).toBe(3);
    expect(store.get(key('c', 1_200))).toBeNull();
  });
});

/**
 * ResidentWindows against the model: window keys with sequence 0 or not, starts on a coarse grid
 * (one per slot: kept by record key) and anywhere (several per slot), written and read half the
 * time by record key and start.
 */
function checkWindows(seed: number): void {
  const random = seededRandom(seed);
  const retentionMs = 16_000;
  const store = new ResidentWindows(retentionMs);
  const model = new Model(retentionMs, 1, (hashKey) => {
    const bytes = Buffer.from(hashKey, 'latin1');
    return bytes.readUInt32BE(bytes.byteLength - 12) * 0x1_0000_0000 + bytes.readUInt32BE(bytes.byteLength - 8);
  });
  const read = (entries: { key: Uint8Array; value: Uint8Array }[]): [string, string][] => entries.map((entry) => [hashKeyOf(entry.key), Buffer.from(entry.value).toString()]);
  let timeMs = 0;
  for (let step = 0; step < 4_000; step++) {
    timeMs += Math.floor(random() * 60);
    const name = ['k1', 'k2', 'k10', '', '\u00ff', `k${Math.floor(random() * 12)}`][Math.floor(random() * 6)] as string;
    const back = Math.floor(random() * 20_000);
    const at = Math.max(0, random() < 0.7 ? Math.floor((timeMs - back) / 4_000) * 4_000 : timeMs - back);
    const sequence = random() < 0.8 ? 0 : 1 + Math.floor(random() * 3);
    const keyBytes = withSuffix(Buffer.from(name, 'latin1'), [at], sequence);
    const hashKey = hashKeyOf(keyBytes);
    const byWindow = sequence === 0 && random() < 0.5;
    const roll = random();
    if (roll < 0.75) {
      const value = `v${step}`;
      if (byWindow) store.putWindow(name, at, windowKeyBytes(name, at), text(value));
      else store.put(hashKey, text(value));
      model.put(hashKey, value);
    } else if (roll < 0.85) {
      if (byWindow) store.putWindow(name, at, windowKeyBytes(name, at), null);
      else store.put(hashKey, null);
      model.put(hashKey, null);
    } else if (roll < 0.9) {
      store.purge();
      model.purge();
    } else if (roll < 0.95) {
      const from = withSuffix(Buffer.from(name, 'latin1'), [Math.max(0, at - 3_000)], 0);
      const to = withSuffix(Buffer.from(name, 'latin1'), [at + 3_000], 0xffffffff);
      expect(read(store.range(from, to))).toEqual(model.range(hashKeyOf(from), hashKeyOf(to)));
    }
    const expected = model.entries.get(hashKey);
    const got = byWindow ? store.getWindow(name, at) : store.get(hashKey);
    expect(got === null ? undefined : Buffer.from(got).toString()).toEqual(expected);
    expect(store.size).toBe(model.entries.size);
  }
  store.purge();
  model.purge();
  expect(read(store.range(null, null))).toEqual(model.range(null, null));
  expect(store.size).toBe(model.entries.size);
}

describe('ResidentWindows', () => {
  it('matches a sorted map of the live entries, through composite keys and through record keys and starts', () => {
    for (const seed of [1, 2, 3, 4]) checkWindows(seed);
  });

  it('drops a wholly expired slot and keeps the live part of the straddling one', () => {
    const store = new ResidentWindows(16_000);
    const key = (name: string, startMs: number) => hashKeyOf(withSuffix(text(name), [startMs], 0));
    for (const [name, startMs] of [['a', 100], ['b', 900], ['c', 1_200], ['d', 1_800], ['e', 5_000]] as const) store.putWindow(name, startMs, windowKeyBytes(name, startMs), text(name));
    store.put(key('z', 17_500), text('z'));
    store.purge();
    expect(store.range(null, null).map((entry) => Buffer.from(entry.value).toString())).toEqual(['d', 'e', 'z']);
    expect(store.size).toBe(3);
    expect(store.get(key('c', 1_200))).toBeNull();
    expect(Buffer.from(store.getWindow('d', 1_800) ?? []).toString()).toBe('d');
  });
});
