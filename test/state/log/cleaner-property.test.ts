// Property test of compaction against a model: random keys, values and tombstones appended over
// many segments (some batches compressed), cleaned at random moments with a clock that moves,
// and checked after every pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import { deleteHorizonOf } from '../../../state/log/compaction.ts';
import type { LogConfig } from '../../../state/log/config.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';
import { type KeyedRecord, keyedBatch, readAll, seededRandom } from './keyed.ts';

let root: string;
beforeAll(() => {
  root = temporaryDirectory('runnel-cleaner-property-');
});
afterAll(() => cleanup(root));

const DELETE_RETENTION_MS = 10_000;
const CODECS = [CompressionCodec.None, CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd];

interface Appended {
  key: string;
  value: string | null;
}

/** What the model knows: every record ever appended by offset, and each key's latest offset. */
class Model {
  readonly byOffset = new Map<bigint, Appended>();
  readonly latest = new Map<string, bigint>();

  append(baseOffset: bigint, records: readonly KeyedRecord[]): void {
    records.forEach((record, i) => {
      const offset = baseOffset + BigInt(i);
      this.byOffset.set(offset, { key: record.key, value: record.value });
      this.latest.set(record.key, offset);
    });
  }
}

/**
 * Checks everything compaction promises right after a pass at `nowMs`; returns the records read.
 * `horizons` remembers the delete horizon each latest tombstone got when it was first cleaned.
 */
function checkInvariants(log: PartitionLog, model: Model, nowMs: number, horizons: Map<bigint, number>, label: string) {
  const records = readAll(log);
  let previous = -1n;
  const lastSeen = new Map<string, bigint>();
  const belowDirty = new Map<string, number>();
  for (const record of records) {
    expect(record.offset, `${label}: offsets increase`).toBeGreaterThan(previous);
    previous = record.offset;
    const appended = model.byOffset.get(record.offset);
    expect(appended, `${label}: offset ${record.offset} was appended`).toBeDefined();
    expect({ key: record.key, value: record.value }, `${label}: record at ${record.offset} is unchanged`).toEqual(appended);
    lastSeen.set(record.key as string, record.offset);
    if (record.offset < log.firstDirtyOffset) belowDirty.set(record.key as string, (belowDirty.get(record.key as string) ?? 0) + 1);
  }
  for (const [key, latestOffset] of model.latest) {
    const latest = model.byOffset.get(latestOffset) as Appended;
    if (latest.value === null && !lastSeen.has(key)) continue;
    expect(lastSeen.get(key), `${label}: the latest record of ${key} is the last one visible`).toBe(latestOffset);
  }
  for (const [key, count] of belowDirty) expect(count, `${label}: ${key} appears once below the dirty offset`).toBe(1);
  for (const offset of model.latest.values()) {
    if (model.byOffset.get(offset)?.value !== null) continue;
    const present = records.find((record) => record.offset === offset);
    if (present === undefined) {
      expect(nowMs, `${label}: tombstone ${offset} was removed only after its horizon`).toBeGreaterThanOrEqual(horizons.get(offset) ?? Infinity);
    } else if (offset < log.firstDirtyOffset) {
      const horizon = deleteHorizonOf(present.batch);
      expect(horizon, `${label}: tombstone ${offset} carries the horizon of its first cleaning`).toBe(horizons.get(offset) ?? nowMs + DELETE_RETENTION_MS);
      horizons.set(offset, horizon as number);
    }
  }
  return records;
}

async function runSeed(seed: number, config: LogConfig, cleaner: LogCleaner, clock: ManualClock): Promise<{ removed: number; mapFilled: boolean }> {
  const random = seededRandom(seed);
  const { log } = openLog(`${root}/seed${seed}-0`, config, clock);
  const model = new Model();
  const horizons = new Map<bigint, number>();
  let mapFilled = false;
  let removed = 0;
  for (let step = 0; step < 140; step += 1) {
    const count = 1 + Math.floor(random() * 5);
    const records: KeyedRecord[] = Array.from({ length: count }, () => ({
      key: `key-${Math.floor(random() * 25)}`,
      value: random() < 0.15 ? null : `value-${step}-${Math.floor(random() * 1e6)}`,
    }));
    const compression = CODECS[Math.floor(random() * CODECS.length)] ?? CompressionCodec.None;
    const result = log.append(keyedBatch(records, clock.nowMs, { compression }));
    model.append(result.baseOffset, records);
    clock.nowMs += Math.floor(random() * 400);
    if (random() < 0.08) {
      const pass = await cleaner.clean(log, { force: random() < 0.5 });
      mapFilled ||= pass.offsetMapFull;
      removed += pass.recordsRemoved;
      checkInvariants(log, model, clock.nowMs, horizons, `seed ${seed} step ${step}`);
    }
  }
  log.roll();
  // A small offset map takes several passes; each ends where its map filled up.
  for (let pass = 0; pass < 100 && log.firstDirtyOffset < log.logEndOffset; pass += 1) {
    const pass = await cleaner.clean(log, { force: true });
    mapFilled ||= pass.offsetMapFull;
    checkInvariants(log, model, clock.nowMs, horizons, `seed ${seed} final pass ${pass}`);
  }
  expect(log.firstDirtyOffset, `seed ${seed}: everything was cleaned`).toBe(log.logEndOffset);
  clock.nowMs += DELETE_RETENTION_MS;
  expect(cleaner.plan(log).tombstonesExpired, `seed ${seed}: expired tombstones make the log due`).toBe(horizons.size > 0);
  const expiry = await cleaner.clean(log);
  removed += expiry.recordsRemoved;
  const after = checkInvariants(log, model, clock.nowMs, horizons, `seed ${seed} after delete.retention.ms`);
  expect(after.filter((record) => record.value === null), `seed ${seed}: no tombstone survives its horizon`).toEqual([]);
  const live = [...model.latest.values()].filter((offset) => model.byOffset.get(offset)?.value !== null).sort((a, b) => (a < b ? -1 : 1));
  expect(after.map((record) => record.offset), `seed ${seed}: exactly the live latest records remain`).toEqual(live);
  log.close();
  return { removed, mapFilled };
}

describe('log cleaner against a model', () => {
  it('keeps the latest record of each key, preserves offsets and removes tombstones only after delete.retention.ms', async () => {
    for (const seed of [1, 2, 3]) {
      const clock = new ManualClock(1_700_000_000_000);
      const config = smallConfig({
        cleanupPolicy: ['compact'], segmentBytes: 2048, deleteRetentionMs: DELETE_RETENTION_MS, minCleanableDirtyRatio: 0.3,
      });
      const cleaner = new LogCleaner({ nowMs: clock.now, readChunkBytes: 512, offsetMapBytesMax: seed === 3 ? 1700 : 1 << 20 });
      const outcome = await runSeed(seed, config, cleaner, clock);
      if (seed === 3) expect(outcome.mapFilled, 'the small offset map filled up').toBe(true);
      expect(outcome.removed, `seed ${seed} removed records`).toBeGreaterThan(80);
    }
  });
});
