// The log cleaner and transactions: aborted data never decides what compaction keeps and is
// dropped; markers stay while their transaction's data does, get a delete horizon once it is
// gone and go after delete.retention.ms, taking their index entries with them; a crash in the
// middle of such a swap loses nothing a read_committed consumer sees.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import { deleteHorizonOf } from '../../../state/log/compaction.ts';
import type { LogConfig } from '../../../state/log/config.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import type { SwapStep } from '../../../state/log/swap.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';
import { keyedBatch, readAll } from './keyed.ts';
import { readBatches, readCommitted, transactionMarker, transactionalBatch } from './transactional.ts';

let root: string;
let directories = 0;
beforeAll(() => {
  root = temporaryDirectory('runnel-cleaner-txn-');
});
afterAll(() => cleanup(root));

const START_MS = 1_700_000_000_000;
const DELETE_RETENTION_MS = 60_000;

function compactConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return smallConfig({ cleanupPolicy: ['compact'], minCleanableDirtyRatio: 0, deleteRetentionMs: DELETE_RETENTION_MS, segmentBytes: 64 * 1024, ...overrides });
}

function freshLog(config: LogConfig = compactConfig()): { log: PartitionLog; clock: ManualClock; directory: string } {
  directories += 1;
  const directory = path.join(root, `log${directories}-0`);
  const clock = new ManualClock(START_MS);
  return { log: openLog(directory, config, clock).log, clock, directory };
}

/** Writes an abort marker for `producerId` and indexes it the way the broker does. */
function abort(log: PartitionLog, producerId: bigint, firstOffset: bigint, nowMs: number, lastStableOffset?: bigint): bigint {
  const { baseOffset } = log.append(transactionMarker(producerId, 'abort', nowMs));
  log.appendAbortedTransaction({ producerId, firstOffset, lastOffset: baseOffset, lastStableOffset: lastStableOffset ?? baseOffset + 1n });
  return baseOffset;
}

const committedView = (log: PartitionLog) => readCommitted(log).map((record) => `${record.key}=${record.value ?? '∅'}@${record.offset}`);
const markerOffsets = (log: PartitionLog) => readBatches(log).filter((batch) => batch.control !== null).map((batch) => batch.baseOffset);

describe('log cleaner with transactions', () => {
  it('keeps the committed value of a key whose later write was aborted (the exactly-once changelog case)', async () => {
    const { log, clock } = freshLog();
    log.append(transactionalBatch(1n, [{ key: 'K', value: 'committed' }, { key: 'other', value: 'o1' }], 0, clock.nowMs));
    log.append(transactionMarker(1n, 'commit', clock.nowMs));
    const aborted = log.append(transactionalBatch(2n, [{ key: 'K', value: 'aborted' }], 0, clock.nowMs)).baseOffset;
    const abortMarker = abort(log, 2n, aborted, clock.nowMs);
    log.roll();
    expect(committedView(log)).toEqual(['K=committed@0', 'other=o1@1']);
    const result = await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(result).toMatchObject({ status: 'cleaned', abortedRecordsRemoved: 1, recordsRemoved: 1, markersRemoved: 0 });
    expect(committedView(log)).toEqual(['K=committed@0', 'other=o1@1']);
    // The aborted batch is gone; both markers stay for now, and so does the abort's index entry.
    expect(readAll(log).map((record) => record.offset)).toEqual([0n, 1n, 2n, 4n]);
    expect(markerOffsets(log)).toEqual([2n, abortMarker]);
    expect(log.collectAbortedTransactions(0n, log.logEndOffset)).toEqual([{ producerId: 2n, firstOffset: aborted }]);
    log.close();
  });

  it('keeps markers while data of their transaction remains, stamps them once it is gone and removes them after delete.retention.ms', async () => {
    const { log, clock, directory } = freshLog();
    const cleaner = new LogCleaner({ nowMs: clock.now });
    // Producer 1 commits a=1 that stays; producer 2 commits b=1 that b=2 supersedes; producer 3
    // aborts c; then producer 3 commits c=3 later, which must stay visible once the abort is gone.
    log.append(transactionalBatch(1n, [{ key: 'a', value: 'a1' }], 0, clock.nowMs));
    log.append(transactionMarker(1n, 'commit', clock.nowMs));
    log.append(transactionalBatch(2n, [{ key: 'b', value: 'b1' }], 0, clock.nowMs));
    log.append(transactionMarker(2n, 'commit', clock.nowMs));
    log.append(transactionalBatch(3n, [{ key: 'c', value: 'c-aborted' }], 0, clock.nowMs));
    abort(log, 3n, 4n, clock.nowMs);
    log.append(keyedBatch([{ key: 'b', value: 'b2' }], clock.nowMs));
    log.append(transactionalBatch(3n, [{ key: 'c', value: 'c3' }], 1, clock.nowMs));
    log.append(transactionMarker(3n, 'commit', clock.nowMs));
    log.roll();
    const expected = ['a=a1@0', 'b=b2@6', 'c=c3@7'];
    expect(markerOffsets(log)).toEqual([1n, 3n, 5n, 8n]);

    const first = await cleaner.clean(log);
    expect(first).toMatchObject({ status: 'cleaned', abortedRecordsRemoved: 1, markersRemoved: 0 });
    expect(committedView(log)).toEqual(expected);
    const horizonOf = (offset: bigint) => deleteHorizonOf(readBatchHeader(log, offset));
    // Markers of transactions with data left keep no horizon; spent ones carry the first cleaning's.
    expect([1n, 3n, 5n, 8n].map(horizonOf)).toEqual([null, START_MS + DELETE_RETENTION_MS, START_MS + DELETE_RETENTION_MS, null]);
    expect(cleaner.plan(log, START_MS + DELETE_RETENTION_MS).tombstonesExpired).toBe(true);

    clock.nowMs = START_MS + DELETE_RETENTION_MS - 1;
    await cleaner.clean(log, { force: true });
    expect(markerOffsets(log)).toEqual([1n, 3n, 5n, 8n]);
    clock.nowMs = START_MS + DELETE_RETENTION_MS;
    const expiry = await cleaner.clean(log);
    expect(expiry).toMatchObject({ status: 'cleaned', markersRemoved: 2 });
    expect(markerOffsets(log)).toEqual([1n, 8n]);
    // The abort's index entry went with its marker, so producer 3's later commit is not hidden.
    expect(log.collectAbortedTransactions(0n, log.logEndOffset)).toEqual([]);
    expect(committedView(log)).toEqual(expected);

    clock.nowMs += 10 * DELETE_RETENTION_MS;
    await cleaner.clean(log, { force: true });
    expect(markerOffsets(log)).toEqual([1n, 8n]);
    log.close();
    // The index agrees with the log: a reopen keeps it, and a rebuild from the log finds the same.
    const { log: reopened } = openLog(directory, compactConfig(), clock);
    expect(reopened.openReport.rebuiltTransactionIndexes).toBe(0);
    expect(committedView(reopened)).toEqual(expected);
    reopened.close();
    for (const name of fs.readdirSync(directory)) if (name.endsWith('.txnindex')) fs.rmSync(path.join(directory, name));
    const { log: rebuilt } = openLog(directory, compactConfig(), clock);
    expect(rebuilt.openReport.rebuiltTransactionIndexes).toBeGreaterThan(0);
    expect(committedView(rebuilt)).toEqual(expected);
    rebuilt.close();
  });

  it('drops aborted data whose marker lies in a later, uncleaned segment and leaves open transactions alone', async () => {
    const { log, clock } = freshLog();
    log.append(keyedBatch([{ key: 'k', value: 'plain' }], clock.nowMs));
    log.append(transactionalBatch(5n, [{ key: 'k', value: 'aborted' }], 0, clock.nowMs));
    log.append(transactionalBatch(6n, [{ key: 'k', value: 'open' }], 0, clock.nowMs));
    log.roll();
    // The abort lands in the active segment while producer 6's transaction is still open.
    abort(log, 5n, 1n, clock.nowMs, 2n);
    const cleaner = new LogCleaner({ nowMs: clock.now });
    // The last stable offset is 2 and the first segment reaches past it, so nothing is cleanable.
    const result = await cleaner.clean(log, { force: true, cleanableOffsetLimit: 2n });
    expect(result).toMatchObject({ status: 'skipped', reason: 'nothing is cleanable' });
    log.append(transactionMarker(6n, 'commit', clock.nowMs));
    log.roll();
    const cleaned = await cleaner.clean(log, { force: true });
    expect(cleaned).toMatchObject({ status: 'cleaned', abortedRecordsRemoved: 1 });
    const data = readBatches(log).flatMap((batch) => batch.records);
    expect(data.map((record) => `${record.key}=${record.value}@${record.offset}`)).toEqual(['k=open@2']);
    expect(committedView(log)).toEqual(['k=open@2']);
    log.close();
  });
});

function readBatchHeader(log: PartitionLog, offset: bigint) {
  const record = readAll(log).find((candidate) => candidate.offset === offset);
  if (record === undefined) throw new Error(`no batch at ${offset}`);
  return record.batch;
}

// ---------------------------------------------------------------------------------------------
// Crash safety: a pass that drops aborted data and removes spent markers (with their index
// entries), interrupted after each step of its swap.

const STEPS: readonly SwapStep[] = ['cleaned-written', 'swap-committed', 'replaced-deleted', 'cleaned-renamed', 'swap-finished'];

describe('log cleaner with transactions, crashing mid-swap', () => {
  it('shows read_committed consumers the same records after a crash at any step', async () => {
    for (const step of STEPS) {
      const { log, clock, directory } = freshLog(compactConfig({ segmentBytes: 1024 }));
      for (let round = 0; round < 6; round += 1) {
        const producerId = BigInt(1 + (round % 2));
        const first = log.append(transactionalBatch(producerId, [{ key: `k${round % 3}`, value: `v${round}`.padEnd(60, '.') }], round, clock.nowMs)).baseOffset;
        if (round % 2 === 0) log.append(transactionMarker(producerId, 'commit', clock.nowMs));
        else abort(log, producerId, first, clock.nowMs);
        log.roll();
      }
      const expected = committedView(log);
      await new LogCleaner({ nowMs: clock.now }).clean(log);
      clock.nowMs += DELETE_RETENTION_MS;
      const crashing = new LogCleaner({ nowMs: clock.now, onSwapStep: (at) => { if (at === step) throw new Error(`crash after ${at}`); } });
      await expect(crashing.clean(log, { force: true }), step).rejects.toThrow(`crash after ${step}`);
      const { log: reopened } = openLog(directory, compactConfig({ segmentBytes: 1024 }), clock);
      expect(committedView(reopened), step).toEqual(expected);
      expect(fs.readdirSync(directory).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap')), step).toEqual([]);
      await new LogCleaner({ nowMs: clock.now }).clean(reopened, { force: true });
      expect(committedView(reopened), step).toEqual(expected);
      expect(reopened.collectAbortedTransactions(0n, reopened.logEndOffset), step).toEqual([]);
      reopened.close();
    }
  });
});
