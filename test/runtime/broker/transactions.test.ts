// Transactions over the raw protocol against real broker processes: commit and abort markers,
// the last stable offset, the aborted-transaction list, fencing, transactional offset commits,
// the timeout, and recovery after the broker dies with transactions open or half-committed.
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';
import {
  addOffsets, addPartitions, committedOffset, committedValues, createTopic, endTransaction, fetchAll, initProducerId,
  latestOffset, produce, stableOffset, txnOffsetCommit,
} from './transaction-requests.ts';

afterAll(cleanup);

const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('transactions', () => {
  it('commits, aborts, holds the last stable offset and fences an older epoch', async () => {
    const broker = await startBroker({ overrides: { 'transaction.max.timeout.ms': '120000' } });
    const connection = await RawConnection.connect(broker.port);
    await createTopic(connection, 'payments');
    expect((await initProducerId(connection, 'tx-payments', { timeoutMs: 120_001 })).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const init = await initProducerId(connection, 'tx-payments');
    expect(init).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    const producer = { producerId: init.producerId, producerEpoch: init.producerEpoch };

    // A transactional write to a partition the transaction does not hold is refused, so no
    // transaction the coordinator does not know can hold back the last stable offset.
    const early = await produce(connection, 'payments', 0, { ...producer, baseSequence: 0, values: ['early'], transactionalId: 'tx-payments' });
    expect(early.errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await addPartitions(connection, 'tx-payments', producer, 'payments', [0])).toEqual([ErrorCode.NONE]);
    expect(await addPartitions(connection, 'tx-payments', producer, 'missing-topic', [0])).toEqual([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    const wrongId = await produce(connection, 'payments', 0, { ...producer, baseSequence: 0, values: ['early'], transactionalId: 'someone-else' });
    expect(wrongId.errorCode).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect((await produce(connection, 'payments', 0, { ...producer, baseSequence: 0, values: ['p1', 'p2'], transactionalId: 'tx-payments' })).errorCode).toBe(ErrorCode.NONE);
    // The open transaction holds the last stable offset at its first record.
    expect(await latestOffset(connection, 'payments', 0, READ_COMMITTED)).toBe(0n);
    expect(await latestOffset(connection, 'payments', 0, READ_UNCOMMITTED)).toBe(2n);
    const open = await fetchAll(connection, 'payments', 0, READ_COMMITTED);
    expect(open.records).toEqual([]);
    expect(open.lastStableOffset).toBe(0n);
    expect((await fetchAll(connection, 'payments', 0, READ_UNCOMMITTED)).records.map((r) => r.value)).toEqual(['p1', 'p2']);

    expect(await endTransaction(connection, 'tx-payments', producer, true)).toBe(ErrorCode.NONE);
    expect(await endTransaction(connection, 'tx-payments', producer, true)).toBe(ErrorCode.NONE);
    expect(await endTransaction(connection, 'tx-payments', producer, false)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await latestOffset(connection, 'payments', 0, READ_COMMITTED)).toBe(3n);

    expect(await addPartitions(connection, 'tx-payments', producer, 'payments', [0])).toEqual([ErrorCode.NONE]);
    expect((await produce(connection, 'payments', 0, { ...producer, baseSequence: 2, values: ['p3'], transactionalId: 'tx-payments' })).baseOffset).toBe(3n);
    expect(await endTransaction(connection, 'tx-payments', producer, false)).toBe(ErrorCode.NONE);
    const committed = await fetchAll(connection, 'payments', 0, READ_COMMITTED);
    expect(committed.lastStableOffset).toBe(5n);
    expect(committed.controls.map((c) => c.offset)).toEqual([2n, 4n]);
    expect(committed.abortedTransactions).toEqual([{ producerId: producer.producerId, firstOffset: 3n }]);
    expect(committedValues(committed)).toEqual(['p1', 'p2']);
    expect((await fetchAll(connection, 'payments', 0, READ_UNCOMMITTED)).records.map((r) => r.value)).toEqual(['p1', 'p2', 'p3']);

    // A new producer with the same transactional id fences the old epoch everywhere.
    expect(await addPartitions(connection, 'tx-payments', producer, 'payments', [0])).toEqual([ErrorCode.NONE]);
    expect((await produce(connection, 'payments', 0, { ...producer, baseSequence: 3, values: ['zombie'], transactionalId: 'tx-payments' })).errorCode).toBe(ErrorCode.NONE);
    const successor = await initProducerId(connection, 'tx-payments');
    expect(successor).toMatchObject({ errorCode: ErrorCode.NONE, producerId: producer.producerId, producerEpoch: 1 });
    expect(await endTransaction(connection, 'tx-payments', producer, true)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await addPartitions(connection, 'tx-payments', producer, 'payments', [0])).toEqual([ErrorCode.INVALID_PRODUCER_EPOCH]);
    expect((await produce(connection, 'payments', 0, { ...producer, baseSequence: 4, values: ['zombie-2'], transactionalId: 'tx-payments' })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    const fenced = await fetchAll(connection, 'payments', 0, READ_COMMITTED);
    expect(committedValues(fenced)).toEqual(['p1', 'p2']);
    expect(fenced.lastStableOffset).toBe(fenced.highWatermark);
    connection.destroy();
    await broker.stop();
  });

  it('makes transactional offset commits visible only when the transaction commits', async () => {
    let broker = await startBroker();
    let connection = await RawConnection.connect(broker.port);
    await createTopic(connection, 'inputs');
    const init = await initProducerId(connection, 'tx-offsets');
    const producer = { producerId: init.producerId, producerEpoch: init.producerEpoch };
    expect(await addOffsets(connection, 'tx-offsets', producer, 'app-group')).toBe(ErrorCode.NONE);
    expect(await txnOffsetCommit(connection, 'tx-offsets', producer, 'app-group', 'inputs', 42n)).toBe(ErrorCode.NONE);
    expect(await committedOffset(connection, 'app-group', 'inputs')).toBe(-1n);
    expect(await endTransaction(connection, 'tx-offsets', producer, false)).toBe(ErrorCode.NONE);
    expect(await committedOffset(connection, 'app-group', 'inputs')).toBe(-1n);
    // Without AddOffsetsToTxn the offsets have no marker to wait for, so they are refused.
    expect(await txnOffsetCommit(connection, 'tx-offsets', producer, 'app-group', 'inputs', 1n)).toBe(ErrorCode.INVALID_TXN_STATE);

    expect(await addOffsets(connection, 'tx-offsets', producer, 'app-group')).toBe(ErrorCode.NONE);
    expect(await txnOffsetCommit(connection, 'tx-offsets', producer, 'app-group', 'inputs', 43n)).toBe(ErrorCode.NONE);
    expect((await stableOffset(connection, 'app-group', 'inputs')).errorCode).toBe(ErrorCode.UNSTABLE_OFFSET_COMMIT);
    expect(await endTransaction(connection, 'tx-offsets', producer, true)).toBe(ErrorCode.NONE);
    expect(await committedOffset(connection, 'app-group', 'inputs')).toBe(43n);
    expect(await stableOffset(connection, 'app-group', 'inputs')).toMatchObject({ errorCode: ErrorCode.NONE, committedOffset: 43n });

    // An open transaction's offsets are still staged when the broker dies; they stay hidden
    // after the restart and vanish when the coordinator aborts the transaction.
    expect(await addOffsets(connection, 'tx-offsets', producer, 'app-group')).toBe(ErrorCode.NONE);
    expect(await txnOffsetCommit(connection, 'tx-offsets', producer, 'app-group', 'inputs', 99n)).toBe(ErrorCode.NONE);
    connection.destroy();
    await broker.kill();
    broker = await broker.restart();
    connection = await RawConnection.connect(broker.port);
    expect(await committedOffset(connection, 'app-group', 'inputs')).toBe(43n);
    const successor = await initProducerId(connection, 'tx-offsets');
    expect(successor.producerEpoch).toBe(producer.producerEpoch + 1);
    expect(await committedOffset(connection, 'app-group', 'inputs')).toBe(43n);
    connection.destroy();
    await broker.stop();
  });

  it('after SIGKILL completes a half-committed transaction and aborts an open one at its timeout', async () => {
    process.env['RUNNEL_TEST_CRASH_AFTER'] = 'PrepareCommit';
    let broker = await startBroker({ overrides: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200' } });
    delete process.env['RUNNEL_TEST_CRASH_AFTER'];
    let connection = await RawConnection.connect(broker.port);
    await createTopic(connection, 'ledger', 2);
    const open = await initProducerId(connection, 'tx-open', { timeoutMs: 4000 });
    const committing = await initProducerId(connection, 'tx-committing');
    expect(await addPartitions(connection, 'tx-open', open, 'ledger', [0])).toEqual([ErrorCode.NONE]);
    expect((await produce(connection, 'ledger', 0, { ...open, baseSequence: 0, values: ['open-1', 'open-2'], transactionalId: 'tx-open' })).errorCode).toBe(ErrorCode.NONE);
    expect(await addPartitions(connection, 'tx-committing', committing, 'ledger', [0, 1])).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect((await produce(connection, 'ledger', 0, { ...committing, baseSequence: 0, values: ['c-0'], transactionalId: 'tx-committing' })).errorCode).toBe(ErrorCode.NONE);
    expect((await produce(connection, 'ledger', 1, { ...committing, baseSequence: 0, values: ['c-1'], transactionalId: 'tx-committing' })).errorCode).toBe(ErrorCode.NONE);
    // The broker stores PrepareCommit and kills itself before writing any marker.
    await expect(endTransaction(connection, 'tx-committing', committing, true)).rejects.toThrow(/closed/);
    connection.destroy();

    broker = await broker.restart();
    connection = await RawConnection.connect(broker.port);
    const partition1 = await fetchAll(connection, 'ledger', 1, READ_COMMITTED);
    expect(committedValues(partition1)).toEqual(['c-1']);
    // Partition 0 is held at the open transaction, which started before the committed one.
    const held = await fetchAll(connection, 'ledger', 0, READ_COMMITTED);
    expect(held.lastStableOffset).toBe(0n);
    expect(held.records).toEqual([]);
    await waitFor(async () => (await latestOffset(connection, 'ledger', 0, READ_COMMITTED)) > 0n, 15_000);
    const settled = await fetchAll(connection, 'ledger', 0, READ_COMMITTED);
    expect(committedValues(settled)).toEqual(['c-0']);
    expect(settled.abortedTransactions).toEqual([{ producerId: open.producerId, firstOffset: 0n }]);
    expect(settled.lastStableOffset).toBe(settled.highWatermark);
    // The aborted producer was fenced by the coordinator's epoch bump.
    expect(await endTransaction(connection, 'tx-open', open, true)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    connection.destroy();
    await broker.stop();
  });
});
