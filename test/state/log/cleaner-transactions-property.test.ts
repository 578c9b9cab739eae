// Property test of compaction with transactions against a model: several producers' committed
// and aborted transactions interleaved with plain writes and tombstones, over many segments,
// cleaned at random moments below the last stable offset (as the broker does). After every pass
// a read_committed reader must see, per key, the last committed write, and every transaction
// with data left must still have its marker; at the end only live records and the markers of
// their transactions remain, and the aborted-transaction index agrees with the log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';
import { type KeyedRecord, keyedBatch, seededRandom } from './keyed.ts';
import { type CommittedRecord, readBatches, readCommitted, transactionMarker, transactionalBatch } from './transactional.ts';

let root: string;
beforeAll(() => {
  root = temporaryDirectory('runnel-cleaner-txn-property-');
});
afterAll(() => cleanup(root));

const DELETE_RETENTION_MS = 10_000;
const PRODUCERS = [1n, 2n, 3n];
const CODECS = [CompressionCodec.None, CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Lz4];

interface Written {
  key: string;
  value: string | null;
  /** The transaction the record belongs to; null for a plain write. */
  transaction: Transaction | null;
}

interface Transaction {
  producerId: bigint;
  firstOffset: bigint;
  state: 'open' | 'commit' | 'abort';
  markerOffset: bigint | null;
  sequence: number;
}

/** Everything appended, and the transactions, so the model can say what is visible where. */
class Model {
  readonly byOffset = new Map<bigint, Written>();
  readonly open = new Map<bigint, Transaction>();

  lastStableOffset(logEndOffset: bigint): bigint {
    let lso = logEndOffset;
    for (const transaction of this.open.values()) if (transaction.firstOffset < lso) lso = transaction.firstOffset;
    return lso;
  }

  /** Per key, the last record below `limit` that a read_committed reader may see. */
  latestVisible(limit: bigint): Map<string, { offset: bigint; value: string | null }> {
    const latest = new Map<string, { offset: bigint; value: string | null }>();
    // Offsets were added in increasing order, which is the map's iteration order.
    for (const [offset, written] of this.byOffset) {
      if (offset >= limit || written.transaction?.state === 'abort') continue;
      latest.set(written.key, { offset, value: written.value });
    }
    return latest;
  }
}

/** Keys per run; a seed with a small offset map uses more, so that the map fills up. */
let keyCount = 12;

function randomRecords(random: () => number, step: number): KeyedRecord[] {
  return Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
    key: `key-${Math.floor(random() * keyCount)}`,
    value: random() < 0.12 ? null : `value-${step}-${Math.floor(random() * 1e6)}`,
  }));
}

/** One random write: a plain batch, a transactional batch, a commit or an abort. */
function step(log: PartitionLog, model: Model, random: () => number, nowMs: number, index: number): void {
  const producerId = PRODUCERS[Math.floor(random() * PRODUCERS.length)] as bigint;
  const open = model.open.get(producerId);
  if (random() < 0.3 || (open !== undefined && random() < 0.35)) {
    if (open === undefined) {
      const records = randomRecords(random, index);
      const result = log.append(keyedBatch(records, nowMs));
      records.forEach((record, i) => model.byOffset.set(result.baseOffset + BigInt(i), { ...record, transaction: null }));
      return;
    }
    endTransaction(log, model, open, random() < 0.55 ? 'commit' : 'abort', nowMs);
    return;
  }
  const records = randomRecords(random, index);
  const codec = CODECS[Math.floor(random() * CODECS.length)] ?? CompressionCodec.None;
  const transaction = open ?? { producerId, firstOffset: log.logEndOffset, state: 'open', markerOffset: null, sequence: 0 };
  const result = log.append(transactionalBatch(producerId, records, transaction.sequence, nowMs, codec));
  transaction.sequence += records.length;
  model.open.set(producerId, transaction);
  records.forEach((record, i) => model.byOffset.set(result.baseOffset + BigInt(i), { ...record, transaction }));
}

/** Writes the marker and, for an abort, the index entry the broker would write with it. */
function endTransaction(log: PartitionLog, model: Model, transaction: Transaction, type: 'commit' | 'abort', nowMs: number): void {
  const { baseOffset } = log.append(transactionMarker(transaction.producerId, type, nowMs));
  model.open.delete(transaction.producerId);
  transaction.state = type;
  transaction.markerOffset = baseOffset;
  if (type === 'abort') {
    const lastStableOffset = model.lastStableOffset(baseOffset + 1n);
    log.appendAbortedTransaction({ producerId: transaction.producerId, firstOffset: transaction.firstOffset, lastOffset: baseOffset, lastStableOffset });
  }
}

/** What must hold after every pass, below the last stable offset. */
function checkInvariants(log: PartitionLog, model: Model, label: string): void {
  const limit = model.lastStableOffset(log.logEndOffset);
  const visible = readCommitted(log).filter((record) => record.offset < limit);
  const lastSeen = new Map<string, CommittedRecord>();
  for (const record of visible) {
    const written = model.byOffset.get(record.offset);
    expect({ key: record.key, value: record.value }, `${label}: record at ${record.offset} was written so`).toEqual({ key: written?.key, value: written?.value });
    expect(written?.transaction?.state, `${label}: record at ${record.offset} is not aborted`).not.toBe('abort');
    lastSeen.set(record.key as string, record);
  }
  for (const [key, latest] of model.latestVisible(limit)) {
    if (latest.value === null && !lastSeen.has(key)) continue;
    expect(lastSeen.get(key)?.offset, `${label}: ${key} shows its last committed write`).toBe(latest.offset);
  }
  const batches = readBatches(log);
  const markers = new Set(batches.filter((batch) => batch.control !== null).map((batch) => batch.baseOffset));
  for (const record of batches.flatMap((batch) => batch.records)) {
    const transaction = model.byOffset.get(record.offset)?.transaction ?? null;
    if (transaction?.markerOffset != null) expect(markers.has(transaction.markerOffset), `${label}: the marker of ${record.offset}'s transaction remains`).toBe(true);
    if (record.offset < log.firstDirtyOffset) expect(transaction?.state, `${label}: aborted record ${record.offset} was cleaned away`).not.toBe('abort');
  }
}

async function runSeed(seed: number, cleaner: LogCleaner, clock: ManualClock): Promise<{ abortedRemoved: number; markersRemoved: number; mapFilled: boolean }> {
  const random = seededRandom(seed);
  const directory = path.join(root, `seed${seed}-0`);
  const config = smallConfig({ cleanupPolicy: ['compact'], segmentBytes: 2048, deleteRetentionMs: DELETE_RETENTION_MS, minCleanableDirtyRatio: 0.2 });
  const { log } = openLog(directory, config, clock);
  const model = new Model();
  const totals = { abortedRemoved: 0, markersRemoved: 0, mapFilled: false };
  const clean = async (label: string) => {
    const pass = await cleaner.clean(log, { force: true, cleanableOffsetLimit: model.lastStableOffset(log.logEndOffset) });
    totals.abortedRemoved += pass.abortedRecordsRemoved;
    totals.markersRemoved += pass.markersRemoved;
    totals.mapFilled ||= pass.offsetMapFull;
    checkInvariants(log, model, label);
  };
  for (let index = 0; index < 260; index += 1) {
    step(log, model, random, clock.nowMs, index);
    clock.nowMs += Math.floor(random() * 1500);
    if (random() < 0.05) log.roll();
    if (random() < 0.06) await clean(`seed ${seed} step ${index}`);
  }
  for (const transaction of [...model.open.values()]) endTransaction(log, model, transaction, random() < 0.5 ? 'commit' : 'abort', clock.nowMs);
  log.roll();
  for (let pass = 0; pass < 100 && log.firstDirtyOffset < log.logEndOffset; pass += 1) await clean(`seed ${seed} final pass ${pass}`);
  expect(log.firstDirtyOffset, `seed ${seed}: everything was cleaned`).toBe(log.logEndOffset);
  // Tombstones and spent markers get their horizon in one pass and go in a pass after it; a
  // tombstone that goes can leave its transaction's marker spent, hence two rounds.
  for (const round of [1, 2]) {
    clock.nowMs += DELETE_RETENTION_MS;
    await clean(`seed ${seed} expiry ${round}`);
  }
  const expected = [...model.latestVisible(log.logEndOffset).values()].filter((latest) => latest.value !== null).map((latest) => latest.offset).sort((a, b) => (a < b ? -1 : 1));
  expect(readCommitted(log).map((record) => record.offset), `seed ${seed}: exactly the live committed records remain`).toEqual(expected);
  const batches = readBatches(log);
  const markersNeeded = new Set(batches.flatMap((batch) => batch.records).map((record) => model.byOffset.get(record.offset)?.transaction?.markerOffset ?? null));
  expect(batches.filter((batch) => batch.control !== null).map((batch) => batch.baseOffset), `seed ${seed}: only markers with data remain`).toEqual(
    [...markersNeeded].filter((offset): offset is bigint => offset !== null).sort((a, b) => (a < b ? -1 : 1)));
  expect(log.collectAbortedTransactions(0n, log.logEndOffset), `seed ${seed}: no aborted transaction is left to report`).toEqual([]);
  log.close();
  // A rebuild of the index from the cleaned log tells consumers the same.
  for (const name of fs.readdirSync(directory)) if (name.endsWith('.txnindex')) fs.rmSync(path.join(directory, name));
  const { log: rebuilt } = openLog(directory, config, clock);
  expect(readCommitted(rebuilt).map((record) => record.offset), `seed ${seed}: the same after an index rebuild`).toEqual(expected);
  rebuilt.close();
  return totals;
}

describe('log cleaner with transactions against a model', () => {
  it('keeps the last committed value of every key and the markers its data needs', async () => {
    for (const seed of [11, 13]) {
      const clock = new ManualClock(1_700_000_000_000);
      keyCount = seed === 13 ? 40 : 12;
      const cleaner = new LogCleaner({ nowMs: clock.now, readChunkBytes: 512, offsetMapBytesMax: seed === 13 ? 1024 : 1 << 20 });
      const totals = await runSeed(seed, cleaner, clock);
      expect(totals.abortedRemoved, `seed ${seed}: aborted records were removed`).toBeGreaterThan(20);
      expect(totals.markersRemoved, `seed ${seed}: spent markers were removed`).toBeGreaterThan(5);
      // The small offset map makes passes end early, so aborted batches meet partial passes.
      if (seed === 13) expect(totals.mapFilled, 'the small offset map filled up').toBe(true);
    }
  });
});
