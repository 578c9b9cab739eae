// The producer state's replay and the log's aborted-transaction index: a follower that copies
// batches from its leader and replays them indexes each abort (so it can lead later and still
// answer read_committed fetches), while a start-up replay of the broker's own log, whose
// markers were indexed when they were written, adds nothing twice.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { encodeBatch, encodeControlBatch } from '../../../core/records/batch.ts';
import { resolveLogConfig } from '../../../state/log/config.ts';
import { PartitionLog } from '../../../state/log/partition-log.ts';
import { ProducerStateTable } from '../../../runtime/broker/producer-state.ts';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-txn-replay-'));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

/** A batch as a leader would send it: offsets already assigned. */
function data(producerId: bigint, baseOffset: bigint, value: string, sequence: number): Buffer {
  return encodeBatch({ baseOffset, producerId, producerEpoch: 0, baseSequence: sequence, transactional: true, records: [{ value }] });
}

function marker(producerId: bigint, baseOffset: bigint, commit: boolean, coordinatorEpoch = 0): Buffer {
  return encodeControlBatch({ type: commit ? 'commit' : 'abort', producerId, producerEpoch: 0, coordinatorEpoch, timestamp: Date.now(), baseOffset });
}

describe('replay and the aborted-transaction index', () => {
  it('indexes the aborts a follower copies and does not index them again on a start-up replay', () => {
    const logDirectory = path.join(directory, 'copied-0');
    const log = PartitionLog.open(logDirectory, resolveLogConfig({ retentionMs: -1 }), { log: () => {} });
    const table = new ProducerStateTable();
    // Producer 1 opens at 0, producer 2 at 1; 1 aborts at 2 (2 still open: stable offset 1), 2 commits at 3.
    log.appendWithOffsets(Buffer.concat([data(1n, 0n, 'a', 0), data(2n, 1n, 'b', 0), marker(1n, 2n, false)]));
    table.replay(log, 0n);
    log.appendWithOffsets(marker(2n, 3n, true));
    table.replay(log, 3n);
    expect(log.collectAbortedTransactions(0n, 4n)).toEqual([{ producerId: 1n, firstOffset: 0n }]);
    expect(table.lastStableOffset(4n)).toBe(4n);
    const snapshotPath = path.join(directory, 'copied.json');
    // Without a snapshot the whole log is replayed; the entry is there once, as before.
    const reloaded = ProducerStateTable.load(log, snapshotPath);
    expect(reloaded.openTransactionCount).toBe(0);
    expect(log.collectAbortedTransactions(0n, 4n)).toEqual([{ producerId: 1n, firstOffset: 0n }]);
    log.close();
    const entries = fs.readFileSync(path.join(logDirectory, '00000000000000000000.txnindex'));
    expect(entries.length).toBe(34);
    expect(entries.readBigInt64BE(26)).toBe(1n);
  });

  it('takes the coordinator epoch of each producer from the markers it replays', () => {
    const log = PartitionLog.open(path.join(directory, 'epochs-0'), resolveLogConfig({ retentionMs: -1 }), { log: () => {} });
    // Producer 5's transaction ended by the coordinator of epoch 7; producer 6's by epoch 2.
    log.appendWithOffsets(Buffer.concat([data(5n, 0n, 'a', 0), marker(5n, 1n, true, 7), data(6n, 2n, 'b', 0), marker(6n, 3n, false, 2)]));
    const table = ProducerStateTable.load(log, path.join(directory, 'epochs.json'));
    expect(table.checkMarker({ producerId: 5n, producerEpoch: 0, coordinatorEpoch: 6 })).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    expect(table.checkMarker({ producerId: 5n, producerEpoch: 0, coordinatorEpoch: 7 })).toBe(ErrorCode.NONE);
    expect(table.checkMarker({ producerId: 6n, producerEpoch: 0, coordinatorEpoch: 1 })).toBe(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    log.close();
  });
});
