// Crash safety of the segment swap: a hook throws after each step of a swap (what a crash at
// that moment leaves on disk, since the throw stops everything after it), the directory is
// reopened, and the log must show every latest value once, nothing twice, and no leftovers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import type { LogConfig } from '../../../state/log/config.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import type { SwapStep } from '../../../state/log/swap.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';
import { type KeyedRecord, keyedBatch, readAll } from './keyed.ts';

let root: string;
let directories = 0;
beforeAll(() => {
  root = temporaryDirectory('runnel-cleaner-crash-');
});
afterAll(() => cleanup(root));

const START_MS = 1_700_000_000_000;
const STEPS: readonly SwapStep[] = ['cleaned-written', 'swap-committed', 'replaced-deleted', 'cleaned-renamed', 'swap-finished'];

interface Scenario {
  config: LogConfig;
  /** Batches; an empty array rolls the segment. */
  batches: readonly (readonly KeyedRecord[])[];
}

const value = (text: string) => text.padEnd(150, '.');

/** Several merged groups of duplicates and tombstones. */
const merging: Scenario = {
  config: smallConfig({ cleanupPolicy: ['compact'], segmentBytes: 1024, minCleanableDirtyRatio: 0 }),
  batches: Array.from({ length: 30 }, (_, i) => [
    { key: `key${i % 4}`, value: `a${i}` },
    { key: `key${(i * 3) % 5}`, value: i % 7 === 3 ? null : `b${i}` },
  ]).flatMap((batch, i) => (i % 3 === 2 ? [batch, []] : [batch])),
};

/** A middle segment whose every record is superseded, so its swap replaces it with nothing. */
const emptied: Scenario = {
  config: smallConfig({ cleanupPolicy: ['compact'], segmentBytes: 1024, minCleanableDirtyRatio: 0 }),
  batches: [
    [{ key: 'k0', value: value('0') }, { key: 'k1', value: value('1') }, { key: 'k2', value: value('2') }], [],
    [{ key: 'a', value: value('a1') }, { key: 'b', value: value('b1') }, { key: 'c', value: value('c1') }], [],
    [{ key: 'a', value: value('a2') }, { key: 'b', value: value('b2') }, { key: 'c', value: value('c2') }], [],
  ],
};

interface Built {
  log: PartitionLog;
  directory: string;
  clock: ManualClock;
  /** Each appended record by offset. */
  appended: Map<bigint, KeyedRecord>;
}

function build(scenario: Scenario): Built {
  directories += 1;
  const directory = path.join(root, `crash${directories}-0`);
  const clock = new ManualClock(START_MS);
  const { log } = openLog(directory, scenario.config, clock);
  const appended = new Map<bigint, KeyedRecord>();
  for (const batch of scenario.batches) {
    if (batch.length === 0) {
      log.roll();
      continue;
    }
    const result = log.append(keyedBatch(batch, clock.nowMs));
    batch.forEach((record, i) => appended.set(result.baseOffset + BigInt(i), record));
  }
  log.roll();
  return { log, directory, clock, appended };
}

/** What every state of the log must satisfy: original records only, once, latest of each key kept. */
function expectConsistent(log: PartitionLog, appended: Map<bigint, KeyedRecord>, label: string): string[] {
  const records = readAll(log);
  const offsets = records.map((record) => record.offset);
  expect(offsets, `${label}: offsets increase, nothing twice`).toEqual([...offsets].sort((a, b) => (a < b ? -1 : 1)).filter((o, i, all) => i === 0 || all[i - 1] !== o));
  const latest = new Map<string, bigint>();
  for (const [offset, record] of appended) latest.set(record.key, offset);
  for (const record of records) {
    expect({ key: record.key, value: record.value }, `${label}: ${record.offset} is original`).toEqual(appended.get(record.offset));
  }
  for (const [key, offset] of latest) expect(offsets, `${label}: latest ${key} at ${offset} is kept`).toContain(offset);
  return records.map((record) => `${record.offset}:${record.key}=${record.value}`);
}

async function crashAt(scenario: Scenario, step: SwapStep, occurrence: number): Promise<void> {
  const label = `${step} #${occurrence}`;
  const { log, directory, clock, appended } = build(scenario);
  const before = expectConsistent(log, appended, `${label} before`);
  let seen = 0;
  const crash = new Error(`crash at ${label}`);
  const cleaner = new LogCleaner({
    nowMs: clock.now,
    readChunkBytes: 700,
    onSwapStep: (at) => {
      if (at === step && ++seen === occurrence) throw crash;
    },
  });
  await expect(cleaner.clean(log), label).rejects.toBe(crash);
  // The crashed instance is abandoned as a dead process would leave it: no close, no cleanup.
  const leftovers = fs.readdirSync(directory).filter((name) => name.endsWith('.log.cleaned')).length;
  if (step === 'cleaned-written' && scenario === merging && occurrence === 1) expect(leftovers, label).toBe(1);
  if (step === 'cleaned-renamed' || step === 'swap-finished') expect(leftovers, label).toBe(0);
  const manifest = fs.readdirSync(directory).find((name) => name.endsWith('.swap'));
  const replacedBases = manifest === undefined ? [] : fs.readFileSync(path.join(directory, manifest), 'utf8').split('\n').slice(2, -1).map(BigInt);
  const reopened = openLog(directory, scenario.config, clock).log;
  const committed = step !== 'cleaned-written' && step !== 'swap-finished';
  expect(replacedBases.length > 0, `${label}: a manifest exists exactly while a swap is committed but unfinished`).toBe(committed);
  if (committed) expectSwapDone(reopened, replacedBases, label);
  expect(reopened.openReport, label).toMatchObject({
    completedSwaps: committed ? 1 : 0,
    rolledBackCleans: step === 'cleaned-written' ? leftovers : 0,
  });
  const after = expectConsistent(reopened, appended, `${label} after reopen`);
  if (step === 'cleaned-written' && occurrence === 1) expect(after, `${label}: rolled back`).toEqual(before);
  expect(fs.readdirSync(directory).filter((name) => /\.(cleaned|swap|tmp)$/.test(name)), label).toEqual([]);
  // The log goes on working: a full pass compacts it like a log that never crashed.
  await new LogCleaner({ nowMs: clock.now }).clean(reopened, { force: true });
  const final = expectConsistent(reopened, appended, `${label} cleaned again`);
  expect(final, `${label}: same result as without a crash`).toEqual(await referenceResult(scenario));
  reopened.close();
}

/**
 * After a finished swap only the first replaced segment is left, and the records it holds (all
 * below the next segment's base) have one record per key.
 */
function expectSwapDone(log: PartitionLog, replacedBases: readonly bigint[], label: string): void {
  const first = replacedBases[0] as bigint;
  const bases = log.segmentBaseOffsets;
  for (const base of replacedBases.slice(1)) expect(bases, `${label}: replaced segment ${base} is gone`).not.toContain(base);
  const end = bases.find((base) => base > first) as bigint;
  const keys = readAll(log).filter((record) => record.offset >= first && record.offset < end).map((record) => record.key);
  expect(keys, `${label}: the swapped-in segment is compacted`).toEqual([...new Set(keys)]);
}

const references = new Map<Scenario, string[]>();
async function referenceResult(scenario: Scenario): Promise<string[]> {
  const cached = references.get(scenario);
  if (cached !== undefined) return cached;
  const { log, clock } = build(scenario);
  await new LogCleaner({ nowMs: clock.now }).clean(log, { force: true });
  const records = readAll(log).map((record) => `${record.offset}:${record.key}=${record.value}`);
  log.close();
  references.set(scenario, records);
  return records;
}

describe('crash during a segment swap', () => {
  it('the scenarios do what they claim', async () => {
    const { log, clock } = build(merging);
    const result = await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(result.swaps).toBeGreaterThanOrEqual(2);
    expect(result.segmentsRead).toBeGreaterThan(result.swaps);
    log.close();
    const empty = build(emptied);
    const segments = empty.log.segmentCount;
    expect(await new LogCleaner({ nowMs: empty.clock.now }).clean(empty.log)).toMatchObject({ swaps: 1, bytesWritten: 0 });
    expect(empty.log.segmentCount).toBe(segments - 1);
    empty.log.close();
  });

  for (const step of STEPS) {
    it(`recovers from a crash after ${step} in the first and second swap of merged groups`, async () => {
      await crashAt(merging, step, 1);
      await crashAt(merging, step, 2);
    });
    it(`recovers from a crash after ${step} in a swap that leaves no segment`, async () => {
      await crashAt(emptied, step, 1);
    });
  }

  it('ignores a swap manifest that cannot be read', async () => {
    const { log, directory, clock, appended } = build(merging);
    const before = expectConsistent(log, appended, 'before');
    log.close();
    fs.writeFileSync(path.join(directory, `${'0'.padStart(20, '0')}.swap`), 'garbage');
    const lines: string[] = [];
    const reopened = openLog(directory, merging.config, clock);
    lines.push(...reopened.lines);
    expect(expectConsistent(reopened.log, appended, 'after')).toEqual(before);
    expect(lines.some((line) => line.includes('unreadable swap manifest'))).toBe(true);
    reopened.log.close();
  });
});
