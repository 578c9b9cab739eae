// The per-segment aborted-transaction index (.txnindex): entries written next to the abort
// markers, read back after a reopen, collected for read_committed fetches across segments,
// rebuilt from the log when the file is missing or torn, dropped with the segment by retention,
// cut by truncation and carried into the segment the log cleaner writes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch, encodeControlBatch } from '../../../core/records/batch.ts';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import { segmentFileName, TXN_INDEX_SUFFIX } from '../../../state/log/files.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { TXN_INDEX_ENTRY_BYTES, type AbortedTransactionEntry } from '../../../state/log/txn-index.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';

let root: string;
let directories = 0;
beforeAll(() => { root = temporaryDirectory('runnel-txn-index-'); });
afterAll(() => cleanup(root));

const START_MS = 1_700_000_000_000;

function freshDirectory(): string {
  directories += 1;
  return path.join(root, `log${directories}-0`);
}

/** A transactional data batch of `producerId` with keyed records (so compaction may run). */
function data(producerId: bigint, values: string[], sequence: number): Buffer {
  return encodeBatch({ producerId, producerEpoch: 0, baseSequence: sequence, transactional: true, records: values.map((value) => ({ key: value, value, timestamp: START_MS })) });
}

function marker(producerId: bigint, commit: boolean): Buffer {
  return encodeControlBatch({ type: commit ? 'commit' : 'abort', producerId, producerEpoch: 0, coordinatorEpoch: 0, timestamp: START_MS });
}

/**
 * Writes, across several segments: producer 1 aborts [0,1] at 2; producer 2 opens at 3,
 * producer 3 aborts [4] at 5 while 2 is open (so its last stable offset is 3); a roll;
 * producer 2 aborts at 6; producer 4 commits [7] at 8; a roll; producer 5 aborts [9] at 10.
 * Entries are added the way the broker adds them: right after each abort marker.
 */
function writeTransactions(log: PartitionLog): AbortedTransactionEntry[] {
  const entries: AbortedTransactionEntry[] = [
    { producerId: 1n, firstOffset: 0n, lastOffset: 2n, lastStableOffset: 3n },
    { producerId: 3n, firstOffset: 4n, lastOffset: 5n, lastStableOffset: 3n },
    { producerId: 2n, firstOffset: 3n, lastOffset: 6n, lastStableOffset: 7n },
    { producerId: 5n, firstOffset: 9n, lastOffset: 10n, lastStableOffset: 11n },
  ];
  log.append(data(1n, ['a', 'b'], 0));
  log.append(marker(1n, false));
  log.appendAbortedTransaction(entries[0]!);
  log.append(data(2n, ['c'], 0));
  log.append(data(3n, ['d'], 0));
  log.append(marker(3n, false));
  log.appendAbortedTransaction(entries[1]!);
  log.roll();
  log.append(marker(2n, false));
  log.appendAbortedTransaction(entries[2]!);
  log.append(data(4n, ['e'], 0));
  log.append(marker(4n, true));
  log.roll();
  log.append(data(5n, ['f'], 0));
  log.append(marker(5n, false));
  log.appendAbortedTransaction(entries[3]!);
  expect(log.segmentBaseOffsets).toEqual([0n, 6n, 9n]);
  return entries;
}

function indexFile(directory: string, baseOffset: bigint): string {
  return path.join(directory, segmentFileName(baseOffset, TXN_INDEX_SUFFIX));
}

const pairs = (found: { producerId: bigint; firstOffset: bigint }[]) => found.map((entry) => `${entry.producerId}@${entry.firstOffset}`);

describe('aborted-transaction index', () => {
  it('writes one 34-byte entry per abort into the segment holding the marker and reads it back after a reopen', () => {
    const directory = freshDirectory();
    const { log } = openLog(directory, smallConfig());
    writeTransactions(log);
    expect(fs.statSync(indexFile(directory, 0n)).size).toBe(2 * TXN_INDEX_ENTRY_BYTES);
    expect(fs.statSync(indexFile(directory, 6n)).size).toBe(TXN_INDEX_ENTRY_BYTES);
    expect(fs.statSync(indexFile(directory, 9n)).size).toBe(TXN_INDEX_ENTRY_BYTES);
    const before = pairs(log.collectAbortedTransactions(0n, 11n));
    log.close();
    const { log: reopened } = openLog(directory, smallConfig());
    expect(reopened.openReport.rebuiltTransactionIndexes).toBe(0);
    expect(pairs(reopened.collectAbortedTransactions(0n, 11n))).toEqual(before);
    expect(before).toEqual(['1@0', '3@4', '2@3', '5@9']);
    reopened.close();
  });

  it('collects what overlaps the fetched range, also from later segments, and stops early', () => {
    const { log } = openLog(freshDirectory(), smallConfig());
    writeTransactions(log);
    // Records 3-4 of the first segment: producer 2's abort is in the next segment, producer 3's here.
    expect(pairs(log.collectAbortedTransactions(3n, 5n))).toEqual(['3@4', '2@3']);
    // Only record 0: producer 1's entry has last stable offset 3, past the range, so the search stops.
    expect(pairs(log.collectAbortedTransactions(0n, 1n))).toEqual(['1@0']);
    // The third segment alone.
    expect(pairs(log.collectAbortedTransactions(9n, 11n))).toEqual(['5@9']);
    // Records 7-8 overlap no aborted transaction; producer 5's began later.
    expect(pairs(log.collectAbortedTransactions(7n, 9n))).toEqual([]);
    log.close();
  });

  it('rebuilds a missing or torn index from the log, including a transaction that spans segments', () => {
    const directory = freshDirectory();
    const { log } = openLog(directory, smallConfig());
    const entries = writeTransactions(log);
    log.close();
    fs.rmSync(indexFile(directory, 6n));
    fs.appendFileSync(indexFile(directory, 9n), Buffer.from([0, 0, 1]));
    const { log: reopened, lines } = openLog(directory, smallConfig());
    expect(reopened.openReport.rebuiltTransactionIndexes).toBe(2);
    expect(lines.join('\n')).toContain('rebuilt the aborted-transaction index of 2 segment(s)');
    expect(pairs(reopened.collectAbortedTransactions(0n, 11n))).toEqual(pairs(entries));
    // The rebuilt entries carry the same offsets and last stable offsets as the ones written.
    const rebuilt = fs.readFileSync(indexFile(directory, 6n));
    expect(rebuilt.length).toBe(TXN_INDEX_ENTRY_BYTES);
    expect([rebuilt.readBigInt64BE(2), rebuilt.readBigInt64BE(10), rebuilt.readBigInt64BE(18), rebuilt.readBigInt64BE(26)]).toEqual([2n, 3n, 6n, 7n]);
    expect(fs.statSync(indexFile(directory, 9n)).size).toBe(TXN_INDEX_ENTRY_BYTES);
    reopened.close();
    // Entries that point past the segment's end are not trusted either.
    fs.rmSync(path.join(directory, segmentFileName(9n, '.log')), { force: false });
    fs.writeFileSync(path.join(directory, segmentFileName(9n, '.log')), Buffer.alloc(0));
    const { log: shortened } = openLog(directory, smallConfig());
    expect(pairs(shortened.collectAbortedTransactions(0n, 11n))).toEqual(['1@0', '3@4', '2@3']);
    shortened.close();
  });

  it('checks recovered segments after an unclean stop and rebuilds an index that lost an entry', () => {
    const directory = freshDirectory();
    const { log } = openLog(directory, smallConfig());
    const entries = writeTransactions(log);
    // No close: the next open recovers the active segment (base 9), whose index is intact.
    const { log: intact } = openLog(directory, smallConfig());
    expect(intact.openReport).toMatchObject({ cleanShutdown: false, rebuiltTransactionIndexes: 0 });
    expect(intact.openReport.recoveredSegments).toBeGreaterThan(0);
    expect(pairs(intact.collectAbortedTransactions(0n, 11n))).toEqual(pairs(entries));
    // A crash that kept producer 5's abort marker but not its index entry.
    fs.truncateSync(indexFile(directory, 9n), 0);
    const { log: repaired, lines } = openLog(directory, smallConfig());
    expect(repaired.openReport.rebuiltTransactionIndexes).toBe(1);
    expect(lines.join('\n')).toContain('rebuilt the aborted-transaction index of 1 segment(s)');
    expect(pairs(repaired.collectAbortedTransactions(9n, 11n))).toEqual(['5@9']);
    repaired.close();
  });

  it('deletes the index with its segment on retention and cuts it on truncation', () => {
    const directory = freshDirectory();
    const clock = new ManualClock(START_MS + 1_000_000);
    const { log } = openLog(directory, smallConfig({ retentionMs: 1_000 }), clock);
    writeTransactions(log);
    log.applyRetention(clock.nowMs);
    expect(log.segmentBaseOffsets).toEqual([9n]);
    expect(fs.existsSync(indexFile(directory, 0n))).toBe(false);
    expect(fs.existsSync(indexFile(directory, 6n))).toBe(false);
    expect(pairs(log.collectAbortedTransactions(9n, 11n))).toEqual(['5@9']);
    log.truncateTo(10n);
    expect(pairs(log.collectAbortedTransactions(9n, 10n))).toEqual([]);
    expect(fs.statSync(indexFile(directory, 9n)).size).toBe(0);
    log.close();
  });

  it('carries the aborted transactions of cleaned segments into the segment that replaces them', async () => {
    const directory = freshDirectory();
    const clock = new ManualClock(START_MS);
    const config = smallConfig({ cleanupPolicy: ['compact'], minCleanableDirtyRatio: 0, segmentBytes: 64 * 1024 });
    const { log } = openLog(directory, config, clock);
    writeTransactions(log);
    log.roll();
    const result = await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(result.status).toBe('cleaned');
    expect(log.segmentBaseOffsets[0]).toBe(0n);
    expect(log.segmentBaseOffsets).not.toContain(6n);
    expect(fs.existsSync(indexFile(directory, 6n))).toBe(false);
    expect(pairs(log.collectAbortedTransactions(0n, 11n))).toEqual(['1@0', '3@4', '2@3', '5@9']);
    log.close();
    const { log: reopened } = openLog(directory, config, clock);
    expect(reopened.openReport.rebuiltTransactionIndexes).toBe(0);
    expect(pairs(reopened.collectAbortedTransactions(0n, 11n))).toEqual(['1@0', '3@4', '2@3', '5@9']);
    reopened.close();
  });
});
