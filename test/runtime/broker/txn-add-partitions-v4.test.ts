// AddPartitionsToTxn v4, the version brokers send each other (KIP-890), on one broker over the
// raw protocol: verifyOnly answers whether each partition is part of the ongoing transaction
// and changes nothing; without verifyOnly the partitions join, as clients that use v4 for
// their own adds (@platformatic/kafka) expect, with one result per transactional id.
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';
import { advertisedVersions, createTopic, endTransaction, initProducerId, produce } from './transaction-requests.ts';

afterAll(cleanup);

const TOPIC = 'added-v4';

async function addPartitionsV4(connection: RawConnection, transactionalId: string, producer: { producerId: bigint; producerEpoch: number }, partitions: number[], verifyOnly: boolean): Promise<number[]> {
  const response = await connection.request(ApiKey.AddPartitionsToTxn, 4, {
    transactions: [{ transactionalId, ...producer, verifyOnly, topics: [{ name: TOPIC, partitions }] }],
  });
  expect(response.body.errorCode).toBe(ErrorCode.NONE);
  expect(response.body.resultsByTransaction.map((result: { transactionalId: string }) => result.transactionalId)).toEqual([transactionalId]);
  return response.body.resultsByTransaction[0].topicResults[0].resultsByPartition.map((partition: { partitionErrorCode: number }) => partition.partitionErrorCode);
}

describe('AddPartitionsToTxn v4', () => {
  it('verifies without adding, and adds without verifyOnly', async () => {
    const broker = await startBroker();
    const connection = await RawConnection.connect(broker.port);
    try {
      expect((await advertisedVersions(connection, ApiKey.AddPartitionsToTxn))?.maxVersion).toBe(4);
      await createTopic(connection, TOPIC, 2);
      const producer = await initProducerId(connection, 'tx-v4');
      expect(producer.errorCode).toBe(ErrorCode.NONE);
      // No transaction yet: nothing is part of one, and asking adds nothing.
      expect(await addPartitionsV4(connection, 'tx-v4', producer, [0, 1], true)).toEqual([ErrorCode.INVALID_TXN_STATE, ErrorCode.INVALID_TXN_STATE]);
      expect(await addPartitionsV4(connection, 'tx-v4', producer, [0, 1], true)).toEqual([ErrorCode.INVALID_TXN_STATE, ErrorCode.INVALID_TXN_STATE]);
      expect(await addPartitionsV4(connection, 'tx-v4', producer, [0], false)).toEqual([ErrorCode.NONE]);
      expect(await addPartitionsV4(connection, 'tx-v4', producer, [0, 1], true)).toEqual([ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE]);
      // An older epoch is fenced, an unknown producer id is not this transactional id's.
      expect(await addPartitionsV4(connection, 'tx-v4', { ...producer, producerEpoch: producer.producerEpoch - 1 }, [0], true)).toEqual([ErrorCode.INVALID_PRODUCER_EPOCH]);
      expect(await addPartitionsV4(connection, 'tx-v4', { ...producer, producerId: producer.producerId + 1000n }, [0], true)).toEqual([ErrorCode.INVALID_PRODUCER_ID_MAPPING]);
      // The added partition takes the transaction's records and the transaction commits.
      const written = await produce(connection, TOPIC, 0, { ...producer, baseSequence: 0, values: ['a'], transactionalId: 'tx-v4' });
      expect(written.errorCode).toBe(ErrorCode.NONE);
      expect(await endTransaction(connection, 'tx-v4', producer, true)).toBe(ErrorCode.NONE);
      // After the commit no partition is part of a transaction any more.
      expect(await addPartitionsV4(connection, 'tx-v4', producer, [0], true)).toEqual([ErrorCode.INVALID_TXN_STATE]);
    } finally {
      connection.destroy();
    }
  });
});
