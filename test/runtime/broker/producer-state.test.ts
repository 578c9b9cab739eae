// The producer state of one partition, driven with batch headers as the replica manager sees
// them: duplicates, gaps, fenced epochs, open transactions and the aborted-transaction index.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { ATTRIBUTE_TRANSACTIONAL, type BatchHeader } from '../../../core/records/header.ts';
import { lastSequenceOf, ProducerStateTable } from '../../../runtime/broker/producer-state.ts';

const directory = mkdtempSync(path.join(os.tmpdir(), 'runnel-producer-state-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function header(fields: { producerId: bigint; epoch: number; sequence: number; count?: number; offset?: bigint; transactional?: boolean }): BatchHeader {
  const count = fields.count ?? 1;
  return {
    baseOffset: fields.offset ?? 0n, batchLength: 100, partitionLeaderEpoch: 0, magic: 2, crc: 0,
    attributes: fields.transactional === true ? ATTRIBUTE_TRANSACTIONAL : 0, lastOffsetDelta: count - 1,
    baseTimestamp: 0n, maxTimestamp: 0n, producerId: fields.producerId, producerEpoch: fields.epoch,
    baseSequence: fields.sequence, recordCount: count,
  };
}

/** Appends like the replica manager: check, then record with the offset the log assigned. */
function append(table: ProducerStateTable, batch: BatchHeader, offset: bigint) {
  const verdict = table.checkAppend([batch]);
  if (verdict.kind === 'append') table.recordAppend({ ...batch, baseOffset: offset });
  return verdict;
}

describe('producer state', () => {
  it('answers a retried batch with its original offsets and keeps five batches', () => {
    const table = new ProducerStateTable();
    for (let index = 0; index < 7; index++) {
      expect(append(table, header({ producerId: 7n, epoch: 0, sequence: index * 2, count: 2 }), BigInt(index * 2 + 100)).kind).toBe('append');
    }
    expect(table.checkAppend([header({ producerId: 7n, epoch: 0, sequence: 12, count: 2 })])).toEqual({ kind: 'duplicate', firstOffset: 112n, lastOffset: 113n });
    expect(table.checkAppend([header({ producerId: 7n, epoch: 0, sequence: 4, count: 2 })])).toEqual({ kind: 'duplicate', firstOffset: 104n, lastOffset: 105n });
    // The oldest two batches fell out of the cache: their retry is out of order, not a duplicate.
    expect(table.checkAppend([header({ producerId: 7n, epoch: 0, sequence: 2, count: 2 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  });

  it('refuses gaps, stale epochs and unknown producers that do not start at 0', () => {
    const table = new ProducerStateTable();
    expect(append(table, header({ producerId: 1n, epoch: 3, sequence: 0, count: 5 }), 0n).kind).toBe('append');
    expect(table.checkAppend([header({ producerId: 1n, epoch: 3, sequence: 6 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect(table.checkAppend([header({ producerId: 1n, epoch: 2, sequence: 5 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
    expect(table.checkAppend([header({ producerId: 1n, epoch: 4, sequence: 5 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect(table.checkAppend([header({ producerId: 9n, epoch: 0, sequence: 3 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.UNKNOWN_PRODUCER_ID });
    // Sequence 0 of a new epoch resets the producer; the old epoch is fenced from then on.
    expect(append(table, header({ producerId: 1n, epoch: 4, sequence: 0 }), 5n).kind).toBe('append');
    expect(table.checkAppend([header({ producerId: 1n, epoch: 3, sequence: 5 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
    expect(append(table, header({ producerId: 1n, epoch: 4, sequence: 1 }), 6n).kind).toBe('append');
  });

  it('checks the batches of one request against each other', () => {
    const table = new ProducerStateTable();
    const inOrder = [header({ producerId: 2n, epoch: 0, sequence: 0, count: 3 }), header({ producerId: 2n, epoch: 0, sequence: 3 })];
    expect(table.checkAppend(inOrder).kind).toBe('append');
    const gap = [header({ producerId: 2n, epoch: 0, sequence: 0, count: 3 }), header({ producerId: 2n, epoch: 0, sequence: 4 })];
    expect(table.checkAppend(gap)).toMatchObject({ kind: 'reject', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
  });

  it('wraps sequences at 2^31-1', () => {
    expect(lastSequenceOf(2 ** 31 - 2, 3)).toBe(1);
    const table = new ProducerStateTable();
    table.recordAppend(header({ producerId: 3n, epoch: 0, sequence: 2 ** 31 - 2, count: 2 }));
    expect(table.checkAppend([header({ producerId: 3n, epoch: 0, sequence: 0 })]).kind).toBe('append');
  });

  it('holds the last stable offset at the earliest open transaction and reports where each one began', () => {
    const table = new ProducerStateTable();
    append(table, header({ producerId: 10n, epoch: 0, sequence: 0, count: 2, transactional: true }), 5n);
    append(table, header({ producerId: 11n, epoch: 0, sequence: 0, transactional: true }), 7n);
    expect(table.lastStableOffset(8n)).toBe(5n);
    // A non-transactional write inside the open transaction is refused.
    expect(table.checkAppend([header({ producerId: 10n, epoch: 0, sequence: 2 })])).toMatchObject({ kind: 'reject', errorCode: ErrorCode.INVALID_TXN_STATE });
    // The broker indexes an aborted transaction in the log from the first offset returned here.
    expect(table.recordMarker(10n, 0, 8n, false, 0)).toBe(5n);
    expect(table.lastStableOffset(9n)).toBe(7n);
    expect(table.recordMarker(11n, 0, 9n, true, 0)).toBe(7n);
    expect(table.lastStableOffset(10n)).toBe(10n);
    expect(table.recordMarker(10n, 0, 10n, false, 0)).toBeNull();
    // A marker with a newer epoch fences the transaction's producer on this partition.
    table.recordMarker(11n, 1, 10n, false, 0);
    expect(table.checkAppend([header({ producerId: 11n, epoch: 0, sequence: 1, transactional: true })])).toMatchObject({ errorCode: ErrorCode.INVALID_PRODUCER_EPOCH });
    expect(table.checkAppend([header({ producerId: 11n, epoch: 1, sequence: 0, transactional: true })]).kind).toBe('append');
  });

  it('refuses a marker of a deposed coordinator, and one older than the producer epoch', () => {
    const table = new ProducerStateTable();
    const marker = (producerEpoch: number, coordinatorEpoch: number) => ({ producerId: 20n, producerEpoch, coordinatorEpoch });
    // A producer without a marker here takes any coordinator's.
    expect(table.checkMarker(marker(0, 0))).toBe(ErrorCode.NONE);
    append(table, header({ producerId: 20n, epoch: 0, sequence: 0, transactional: true }), 0n);
    table.recordMarker(20n, 0, 1n, true, 4);
    // The coordinator of epoch 4 ended the transaction; one of epoch 3 is fenced, 4 and 5 are not.
    expect(table.checkMarker(marker(0, 3))).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    expect(table.checkMarker(marker(0, 4))).toBe(ErrorCode.NONE);
    expect(table.checkMarker(marker(1, 5))).toBe(ErrorCode.NONE);
    // A newer producer epoch was seen here: a marker of the older one cannot close its transaction.
    append(table, header({ producerId: 20n, epoch: 1, sequence: 0, transactional: true }), 2n);
    expect(table.checkMarker(marker(0, 5))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    // The coordinator epoch never goes back, even when a replica records an older marker.
    table.recordMarker(20n, 1, 3n, false, 2);
    expect(table.checkMarker(marker(1, 3))).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
  });

  it('keeps a coordinator\'s verification until the transaction opens or a marker ends it (KIP-890)', () => {
    const table = new ProducerStateTable();
    const asked = table.beginVerification(30n, 0);
    // A second produce request while the question is out joins it.
    expect(table.beginVerification(30n, 0)).toBe(asked);
    expect(table.isVerified(30n, 0)).toBe(false);
    table.completeVerification(30n, asked, true);
    expect(table.isVerified(30n, 0)).toBe(true);
    expect(table.isVerified(30n, 1)).toBe(false);
    // The verified batch opens the transaction and uses the verification up.
    append(table, header({ producerId: 30n, epoch: 0, sequence: 0, transactional: true }), 0n);
    expect(table.isVerified(30n, 0)).toBe(false);
    table.recordMarker(30n, 0, 1n, true, 0);
    // An answer that arrives after a marker ended the transaction it was about is ignored.
    const late = table.beginVerification(30n, 0);
    table.recordMarker(30n, 0, 2n, false, 0);
    table.completeVerification(30n, late, true);
    expect(table.isVerified(30n, 0)).toBe(false);
    // A refusal keeps nothing.
    const refused = table.beginVerification(31n, 0);
    table.completeVerification(31n, refused, false);
    expect(table.isVerified(31n, 0)).toBe(false);
    expect(table.beginVerification(31n, 0)).not.toBe(refused);
  });

  it('snapshots when the log rolls and drops a snapshot past the log end', () => {
    const snapshotPath = path.join(directory, 'roll.json');
    const log = { logStartOffset: 0n, logEndOffset: 0n, segmentCount: 1, read: () => ({ records: Buffer.alloc(0) }) };
    const table = ProducerStateTable.load(log as never, snapshotPath);
    append(table, header({ producerId: 8n, epoch: 0, sequence: 0, count: 5 }), 0n);
    log.logEndOffset = 5n;
    table.afterAppend(log as never);
    expect(existsSync(snapshotPath)).toBe(false);
    log.segmentCount = 2;
    table.afterAppend(log as never);
    expect(JSON.parse(readFileSync(snapshotPath, 'utf8'))).toMatchObject({ offset: '5' });
    expect(ProducerStateTable.load(log as never, snapshotPath).checkAppend([header({ producerId: 8n, epoch: 0, sequence: 0, count: 5 })]).kind).toBe('duplicate');
    // The log lost its tail below the snapshot: the snapshot goes, the (empty) log is the truth.
    const shorter = { ...log, logEndOffset: 3n };
    expect(ProducerStateTable.load(shorter as never, snapshotPath).producerCount).toBe(0);
    expect(existsSync(snapshotPath)).toBe(false);
  });

  it('ignores a snapshot that does not fit the log', () => {
    const snapshotPath = path.join(directory, 'bad.json');
    writeFileSync(snapshotPath, '{"version":1,"offset":"not a number"');
    const log = { logStartOffset: 0n, logEndOffset: 0n, read: () => { throw new Error('empty log is not read'); } };
    const table = ProducerStateTable.load(log as never, snapshotPath);
    expect(table.openTransactionCount).toBe(0);
  });

  it('writes and restores a snapshot', () => {
    const table = new ProducerStateTable();
    append(table, header({ producerId: 4n, epoch: 2, sequence: 0, count: 3 }), 0n);
    append(table, header({ producerId: 5n, epoch: 0, sequence: 0, transactional: true }), 3n);
    append(table, header({ producerId: 6n, epoch: 0, sequence: 0, transactional: true }), 4n);
    table.recordMarker(6n, 0, 5n, false, 3);
    const snapshotPath = path.join(directory, 'good.json');
    table.writeSnapshot(snapshotPath, 6n);
    const log = { logStartOffset: 0n, logEndOffset: 6n, read: () => { throw new Error('nothing past the snapshot to read'); } };
    const restored = ProducerStateTable.load(log as never, snapshotPath);
    expect(restored.checkAppend([header({ producerId: 4n, epoch: 2, sequence: 0, count: 3 })])).toEqual({ kind: 'duplicate', firstOffset: 0n, lastOffset: 2n });
    expect(restored.lastStableOffset(6n)).toBe(3n);
    expect(restored.openTransactionCount).toBe(1);
    // The coordinator epoch of producer 6's marker survives the snapshot.
    expect(restored.checkMarker({ producerId: 6n, producerEpoch: 0, coordinatorEpoch: 2 })).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    expect(restored.checkMarker({ producerId: 6n, producerEpoch: 0, coordinatorEpoch: 3 })).toBe(ErrorCode.NONE);
  });
});

describe('producer expiry', () => {
  it('forgets idle producers but never one with an open transaction', () => {
    const table = new ProducerStateTable();
    table.recordAppend(header({ producerId: 1n, epoch: 0, sequence: 0 }), 1_000);
    table.recordAppend(header({ producerId: 2n, epoch: 0, sequence: 0, transactional: true, offset: 1n }), 1_000);
    table.recordAppend(header({ producerId: 3n, epoch: 0, sequence: 0, offset: 2n }), 9_000);
    expect(table.expireProducers(10_000, 5_000)).toBe(1);
    expect(table.producerCount).toBe(2);
    expect(table.checkAppend([header({ producerId: 1n, epoch: 0, sequence: 1 })])).toMatchObject({ errorCode: ErrorCode.UNKNOWN_PRODUCER_ID });
    expect(table.checkAppend([header({ producerId: 3n, epoch: 0, sequence: 1 })]).kind).toBe('append');
    expect(table.lastStableOffset(3n)).toBe(1n);
  });
});
