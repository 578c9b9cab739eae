// The transaction coordinator on its own, with a fake clock and recorded side effects: what it
// stores in __transaction_state, which markers it writes, timeouts, expiry and recovery.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { createLogger } from '../../../runtime/logger.ts';
import { fencedErrorFor, TransactionCoordinator, type TransactionMarker } from '../../../runtime/broker/transaction-coordinator.ts';
import {
  decodeTransactionKey, decodeTransactionValue, encodeTransactionKey, encodeTransactionValue, type StoredTransaction,
} from '../../../runtime/broker/transaction-log.ts';

function harness(options: { crashAt?: string } = {}) {
  let now = 1_000_000;
  let nextId = 100n;
  const stored: { transactionalId: string; value: StoredTransaction | null }[] = [];
  const markers: { topic: string; partition: number; marker: TransactionMarker }[] = [];
  const coordinator = new TransactionCoordinator({
    logger: createLogger('test-transactions'),
    maxTimeoutMs: 60_000,
    idExpirationMs: 3_600_000,
    cleanupIntervalMs: 1000,
    nextProducerId: () => nextId++,
    // Round-trip every record through the codec, as the real log would.
    persist: async (transactionalId, value) => {
      stored.push({ transactionalId, value: value === null ? null : decodeTransactionValue(encodeTransactionValue(value)) });
      return ErrorCode.NONE;
    },
    writeMarker: async (_transactionalId, topic, partition, marker) => { markers.push({ topic, partition, marker }); return true; },
    afterPrepare: (_id, status) => { if (status === options.crashAt) throw new Error('crash'); },
    nowMs: () => now,
  });
  return { coordinator, stored, markers, advance: (ms: number) => { now += ms; } };
}

/** Lets the writes a sweep started finish. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('transaction coordinator', () => {
  it('writes Prepare before the markers and Complete after them', async () => {
    const { coordinator, stored, markers } = harness();
    const producer = await coordinator.initProducerId('app', 10_000, null);
    expect(producer).toEqual({ errorCode: ErrorCode.NONE, producerId: 100n, producerEpoch: 0 });
    expect(await coordinator.addPartitions('app', 100n, 0, [{ topic: 'a', partition: 0 }, { topic: 'b', partition: 2 }])).toBe(ErrorCode.NONE);
    expect(await coordinator.endTransaction('app', 100n, 0, true)).toBe(ErrorCode.NONE);
    expect(stored.map((s) => s.value?.status)).toEqual(['Empty', 'Ongoing', 'PrepareCommit', 'CompleteCommit']);
    expect(stored[2]!.value!.partitions).toEqual(new Map([['a', [0]], ['b', [2]]]));
    expect(markers.map((m) => `${m.topic}-${m.partition}:${m.marker.commit}:${m.marker.producerEpoch}`)).toEqual(['a-0:true:0', 'b-2:true:0']);
  });

  it('refuses unknown ids, other producer ids, older epochs and bad timeouts', async () => {
    const { coordinator } = harness();
    expect((await coordinator.initProducerId('app', 60_001, null)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    expect((await coordinator.initProducerId('app', 0, null)).errorCode).toBe(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    await coordinator.initProducerId('app', 1000, null);
    expect(await coordinator.addPartitions('nobody', 100n, 0, [])).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(await coordinator.addPartitions('app', 101n, 0, [])).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    await coordinator.initProducerId('app', 1000, null);
    expect(await coordinator.addPartitions('app', 100n, 0, [{ topic: 'a', partition: 0 }])).toBe(ErrorCode.PRODUCER_FENCED);
    expect(fencedErrorFor(ErrorCode.PRODUCER_FENCED, 1, 2)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(fencedErrorFor(ErrorCode.PRODUCER_FENCED, 2, 2)).toBe(ErrorCode.PRODUCER_FENCED);
    expect(await coordinator.endTransaction('app', 100n, 1, true)).toBe(ErrorCode.INVALID_TXN_STATE);
    // A v3+ client naming a producer epoch that is no longer current has been replaced.
    expect((await coordinator.initProducerId('app', 1000, { producerId: 100n, producerEpoch: 0 })).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    expect(await coordinator.initProducerId('app', 1000, { producerId: 100n, producerEpoch: 1 })).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 2 });
  });

  it('aborts a transaction past its timeout with a bumped epoch and forgets idle ids', async () => {
    const { coordinator, markers, stored, advance } = harness();
    await coordinator.initProducerId('slow', 5000, null);
    await coordinator.addPartitions('slow', 100n, 0, [{ topic: 'a', partition: 1 }]);
    advance(4000);
    coordinator.sweep();
    expect(markers).toEqual([]);
    advance(1001);
    coordinator.sweep();
    await settle();
    expect(markers).toEqual([{ topic: 'a', partition: 1, marker: { producerId: 100n, producerEpoch: 1, commit: false, coordinatorEpoch: 0 } }]);
    expect(await coordinator.endTransaction('slow', 100n, 0, true)).toBe(ErrorCode.PRODUCER_FENCED);
    advance(3_600_001);
    coordinator.sweep();
    await settle();
    expect(stored.at(-1)).toEqual({ transactionalId: 'slow', value: null });
    expect(await coordinator.initProducerId('slow', 5000, null)).toMatchObject({ producerId: 101n, producerEpoch: 0 });
  });

  it('hands out a new producer id when the epoch runs out', async () => {
    const { coordinator } = harness();
    const stored = new Map<string, StoredTransaction>([['old', {
      producerId: 7n, producerEpoch: 32_766, timeoutMs: 1000, status: 'CompleteCommit', partitions: new Map(), lastUpdateMs: 1_000_000, startMs: 0,
    }]]);
    await coordinator.load(stored);
    expect(await coordinator.initProducerId('old', 1000, null)).toEqual({ errorCode: ErrorCode.NONE, producerId: 100n, producerEpoch: 0 });
  });

  it('completes Prepare states on recovery and leaves Ongoing ones to their timeout', async () => {
    const crashed = harness({ crashAt: 'PrepareAbort' });
    await crashed.coordinator.initProducerId('crashy', 5000, null);
    await crashed.coordinator.addPartitions('crashy', 100n, 0, [{ topic: 'a', partition: 0 }]);
    await expect(crashed.coordinator.endTransaction('crashy', 100n, 0, false)).rejects.toThrow('crash');
    expect(crashed.markers).toEqual([]);
    const latest = new Map<string, StoredTransaction>();
    for (const { transactionalId, value } of crashed.stored) if (value !== null) latest.set(transactionalId, value);
    latest.set('open', { producerId: 5n, producerEpoch: 3, timeoutMs: 5000, status: 'Ongoing', partitions: new Map([['b', [0]]]), lastUpdateMs: 1_000_000, startMs: 1_000_000 });

    const restarted = harness();
    await restarted.coordinator.load(latest);
    expect(restarted.markers).toEqual([{ topic: 'a', partition: 0, marker: { producerId: 100n, producerEpoch: 0, commit: false, coordinatorEpoch: 0 } }]);
    expect(restarted.stored.at(-1)!.value!.status).toBe('CompleteAbort');
    // The open transaction may still be committed by its producer before the timeout.
    expect(await restarted.coordinator.endTransaction('open', 5n, 3, true)).toBe(ErrorCode.NONE);
    expect(restarted.markers.at(-1)).toEqual({ topic: 'b', partition: 0, marker: { producerId: 5n, producerEpoch: 3, commit: true, coordinatorEpoch: 0 } });
  });

  it('checks transactional writes against the ongoing transaction', async () => {
    const { coordinator } = harness();
    await coordinator.initProducerId('w', 5000, null);
    const write = { transactionalId: 'w', producerId: 100n, producerEpoch: 0, topic: 'a', partition: 0 };
    expect(coordinator.checkTransactionalWrite(write)).toBe(ErrorCode.INVALID_TXN_STATE);
    await coordinator.addPartitions('w', 100n, 0, [{ topic: 'a', partition: 0 }]);
    expect(coordinator.checkTransactionalWrite(write)).toBe(ErrorCode.NONE);
    expect(coordinator.checkTransactionalWrite({ ...write, partition: 1 })).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(coordinator.checkTransactionalWrite({ ...write, producerEpoch: 1 })).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(coordinator.checkTransactionalWrite({ ...write, transactionalId: null })).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('answers CONCURRENT_TRANSACTIONS while a write is in flight, and keeps the old state when the write fails', async () => {
    let answer: (errorCode: number) => void = () => {};
    let nextId = 100n;
    const coordinator = new TransactionCoordinator({
      logger: createLogger('test-transactions'), maxTimeoutMs: 60_000, idExpirationMs: 3_600_000, cleanupIntervalMs: 1000,
      nextProducerId: () => nextId++,
      persist: () => new Promise((resolve) => { answer = resolve; }),
      writeMarker: async () => true,
    });
    const init = coordinator.initProducerId('c', 5000, null);
    expect((await coordinator.initProducerId('c', 5000, null)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    answer(ErrorCode.NONE);
    expect(await init).toEqual({ errorCode: ErrorCode.NONE, producerId: 100n, producerEpoch: 0 });
    const add = coordinator.addPartitions('c', 100n, 0, [{ topic: 'a', partition: 0 }]);
    answer(ErrorCode.NOT_COORDINATOR);
    expect(await add).toBe(ErrorCode.NOT_COORDINATOR);
    // The failed write changed nothing: the partition is not in a transaction.
    expect(coordinator.checkTransactionalWrite({ transactionalId: 'c', producerId: 100n, producerEpoch: 0, topic: 'a', partition: 0 })).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(coordinator.unload((id) => id === 'c')).toBe(1);
    expect(coordinator.checkTransactionalWrite({ transactionalId: 'c', producerId: 100n, producerEpoch: 0, topic: 'a', partition: 0 })).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('completes a transaction whose Complete record could not be stored at first, inline and else from the sweep', async () => {
    // After its markers, the Complete write can find the __transaction_state partition with
    // too few in-sync replicas (COORDINATOR_NOT_AVAILABLE), e.g. on a coordinator that just took
    // over from a crashed one while the other replica catches up. The transaction is decided
    // and its markers are written; it must not stay prepared, or every later EndTxn and
    // InitProducerId of the id is answered CONCURRENT_TRANSACTIONS for good.
    let refusals = 0;
    const statuses: (string | undefined)[] = [];
    let nextId = 100n;
    const coordinator = new TransactionCoordinator({
      logger: createLogger('test-transactions'), maxTimeoutMs: 60_000, idExpirationMs: 3_600_000, cleanupIntervalMs: 1000,
      nextProducerId: () => nextId++,
      persist: async (_id, value) => {
        if (refusals > 0 && value?.status.startsWith('Complete') === true) { refusals -= 1; return ErrorCode.COORDINATOR_NOT_AVAILABLE; }
        statuses.push(value?.status);
        return ErrorCode.NONE;
      },
      writeMarker: async () => true,
      completeRetryMs: 1,
    });
    await coordinator.initProducerId('c', 5000, null);
    await coordinator.addPartitions('c', 100n, 0, [{ topic: 'a', partition: 0 }]);
    refusals = 3;
    expect(await coordinator.endTransaction('c', 100n, 0, true)).toBe(ErrorCode.NONE);
    expect(statuses.at(-1)).toBe('CompleteCommit');
    expect(await coordinator.addPartitions('c', 100n, 0, [{ topic: 'a', partition: 1 }])).toBe(ErrorCode.NONE);

    // Refused longer than the inline retries: EndTxn hears a retriable error, the sweep finishes it.
    refusals = 1000;
    const ended = await coordinator.endTransaction('c', 100n, 0, false);
    expect(ended).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(await coordinator.endTransaction('c', 100n, 0, false)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    refusals = 0;
    coordinator.sweep();
    await settle();
    expect(statuses.at(-1)).toBe('CompleteAbort');
    expect(await coordinator.endTransaction('c', 100n, 0, false)).toBe(ErrorCode.NONE);
    expect((await coordinator.initProducerId('c', 5000, null)).errorCode).toBe(ErrorCode.NONE);
  });

  it('encodes keys and values in Kafka\'s layout', () => {
    expect(encodeTransactionKey('tx').toString('hex')).toBe('000000027478');
    expect(decodeTransactionKey(encodeTransactionKey('payments-1'))).toBe('payments-1');
    const value: StoredTransaction = {
      producerId: 42n, producerEpoch: 3, timeoutMs: 60_000, status: 'PrepareCommit',
      partitions: new Map([['t', [0, 5]]]), lastUpdateMs: 1_700_000_000_001, startMs: 1_700_000_000_000,
    };
    const bytes = encodeTransactionValue(value);
    // version 0, producer id 42, epoch 3, timeout 60000, status 2 (PrepareCommit)
    expect(bytes.subarray(0, 17).toString('hex')).toBe('0000' + '000000000000002a' + '0003' + '0000ea60' + '02');
    expect(decodeTransactionValue(bytes)).toEqual(value);
  });
});
