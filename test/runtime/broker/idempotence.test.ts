// Idempotent produce over the raw protocol against a real broker process: a retried batch is
// answered with its first offset and not stored again, gaps and stale epochs are refused, and
// all of it holds after SIGKILL (state rebuilt from the log) and after a clean stop (snapshot).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';
import { createTopic, fetchAll, initProducerId, latestOffset, produce } from './transaction-requests.ts';
import { kcat } from '../../helpers/kcat.ts';

afterAll(cleanup);

describe('idempotent produce', () => {
  it('stores a batch once, refuses gaps and stale epochs, across SIGKILL and a clean restart', async () => {
    let broker = await startBroker();
    let connection = await RawConnection.connect(broker.port);
    await createTopic(connection, 'idempotent');
    const first = await initProducerId(connection, null);
    expect(first.errorCode).toBe(ErrorCode.NONE);
    const producer = { producerId: first.producerId, producerEpoch: first.producerEpoch };

    expect(await produce(connection, 'idempotent', 0, { ...producer, baseSequence: 0, values: ['a', 'b', 'c'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    expect(await produce(connection, 'idempotent', 0, { ...producer, baseSequence: 0, values: ['a', 'b', 'c'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 0n });
    expect(await produce(connection, 'idempotent', 0, { ...producer, baseSequence: 3, values: ['d'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 3n });
    expect((await produce(connection, 'idempotent', 0, { ...producer, baseSequence: 5, values: ['gap'] })).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(await latestOffset(connection, 'idempotent', 0, 0)).toBe(4n);

    // Version 3 re-initialises the same producer id with the next epoch (KIP-360).
    const bumped = await initProducerId(connection, null, { version: 3, producerId: producer.producerId, producerEpoch: producer.producerEpoch });
    expect(bumped).toMatchObject({ errorCode: ErrorCode.NONE, producerId: producer.producerId, producerEpoch: producer.producerEpoch + 1 });
    const next = { producerId: bumped.producerId, producerEpoch: bumped.producerEpoch };
    expect(await produce(connection, 'idempotent', 0, { ...next, baseSequence: 0, values: ['e'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 4n });
    expect((await produce(connection, 'idempotent', 0, { ...producer, baseSequence: 4, values: ['stale'] })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    connection.destroy();

    // The state comes back from the log after a crash: the retry is still a duplicate.
    await broker.kill();
    broker = await broker.restart();
    connection = await RawConnection.connect(broker.port);
    expect(await produce(connection, 'idempotent', 0, { ...next, baseSequence: 0, values: ['e'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 4n });
    expect((await produce(connection, 'idempotent', 0, { ...next, baseSequence: 2, values: ['gap'] })).errorCode).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(await produce(connection, 'idempotent', 0, { ...next, baseSequence: 1, values: ['f'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 5n });
    connection.destroy();

    // A clean stop writes a snapshot, which the next start reads instead of the whole log.
    await broker.stop();
    const snapshot = path.join(broker.dataDirectory, 'runnel-producer-state', 'idempotent-0.json');
    expect(JSON.parse(readFileSync(snapshot, 'utf8'))).toMatchObject({ offset: '6' });
    broker = await broker.restart();
    connection = await RawConnection.connect(broker.port);
    expect(await produce(connection, 'idempotent', 0, { ...next, baseSequence: 1, values: ['f'] })).toMatchObject({ errorCode: ErrorCode.NONE, baseOffset: 5n });
    expect((await produce(connection, 'idempotent', 0, { ...producer, baseSequence: 4, values: ['stale'] })).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);

    const stored = await fetchAll(connection, 'idempotent', 0, 0);
    expect(stored.records.map((r) => r.value)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    connection.destroy();
    await broker.stop();
  });

  it('serves librdkafka (kcat) with enable.idempotence=true', async () => {
    const broker = await startBroker({ overrides: { 'num.partitions': '2' } });
    const lines = Array.from({ length: 500 }, (_, index) => `key${index % 11}:idempotent-${index}`);
    const produced = await kcat(['-b', broker.bootstrap, '-t', 'rdkafka-idempotent', '-P', '-K', ':', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5'], lines.join('\n') + '\n');
    expect(produced.stderr).not.toMatch(/error|fatal/i);
    expect(produced.code).toBe(0);
    const consumed = await kcat(['-b', broker.bootstrap, '-t', 'rdkafka-idempotent', '-C', '-e', '-f', '%s\n', '-X', 'isolation.level=read_committed'], '');
    expect(consumed.code).toBe(0);
    const values = consumed.stdout.split('\n').filter((line) => line !== '').sort();
    expect(values).toEqual(lines.map((line) => line.split(':')[1]!).sort());
    const connection = await RawConnection.connect(broker.port);
    // librdkafka stamps its batches with a producer id and sequences from 0.
    const fetched = await fetchAll(connection, 'rdkafka-idempotent', 0, 0);
    expect(fetched.records.length).toBeGreaterThan(0);
    expect(fetched.records.every((record) => record.producerId >= 0n)).toBe(true);
    connection.destroy();
    await broker.stop();
  });
});
