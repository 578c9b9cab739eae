// The oldest versions of the transaction APIs, which librdkafka sends: AddPartitionsToTxn v0,
// AddOffsetsToTxn v0, EndTxn v0 and v1 (and TxnOffsetCommit v0), over the raw protocol. Fencing
// is answered with INVALID_PRODUCER_EPOCH at these versions, since PRODUCER_FENCED came later.
import { afterAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { cleanup, startBroker } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';
import { addPartitions, advertisedVersions, committedOffset, committedValues, createTopic, fetchAll, initProducerId, produce } from './transaction-requests.ts';

afterAll(cleanup);

type Producer = { producerId: bigint; producerEpoch: number };

async function addPartitionsV0(connection: RawConnection, transactionalId: string, producer: Producer, topic: string): Promise<number> {
  return (await addPartitions(connection, transactionalId, producer, topic, [0], 0))[0]!;
}

async function endTxn(connection: RawConnection, version: number, transactionalId: string, producer: Producer, committed: boolean): Promise<number> {
  const response = await connection.request(ApiKey.EndTxn, version, { transactionalId, ...producer, committed });
  return response.body.errorCode;
}

describe('transaction APIs at the versions librdkafka uses', () => {
  it('serves AddPartitionsToTxn v0, AddOffsetsToTxn v0, TxnOffsetCommit v0 and EndTxn v0-1', async () => {
    const broker = await startBroker();
    const connection = await RawConnection.connect(broker.port);
    try {
      for (const apiKey of [ApiKey.AddPartitionsToTxn, ApiKey.AddOffsetsToTxn, ApiKey.EndTxn, ApiKey.TxnOffsetCommit]) {
        expect((await advertisedVersions(connection, apiKey))?.minVersion).toBe(0);
      }
      await createTopic(connection, 'old-versions');
      const init = await initProducerId(connection, 'tx-old', { version: 0 });
      expect(init.errorCode).toBe(ErrorCode.NONE);
      const producer = { producerId: init.producerId, producerEpoch: init.producerEpoch };

      expect(await addPartitionsV0(connection, 'tx-old', producer, 'old-versions')).toBe(ErrorCode.NONE);
      expect((await produce(connection, 'old-versions', 0, { ...producer, baseSequence: 0, values: ['v1', 'v2'], transactionalId: 'tx-old' })).errorCode).toBe(ErrorCode.NONE);
      const addOffsets = await connection.request(ApiKey.AddOffsetsToTxn, 0, { transactionalId: 'tx-old', ...producer, groupId: 'old-group' });
      expect(addOffsets.body.errorCode).toBe(ErrorCode.NONE);
      const commitOffsets = await connection.request(ApiKey.TxnOffsetCommit, 0, {
        transactionalId: 'tx-old', groupId: 'old-group', ...producer, generationId: -1, memberId: '', groupInstanceId: null,
        topics: [{ name: 'old-versions', partitions: [{ partitionIndex: 0, committedOffset: 2n, committedLeaderEpoch: -1, committedMetadata: '' }] }],
      });
      expect(commitOffsets.body.topics[0].partitions[0].errorCode).toBe(ErrorCode.NONE);
      expect(await endTxn(connection, 0, 'tx-old', producer, true)).toBe(ErrorCode.NONE);
      expect(await committedOffset(connection, 'old-group', 'old-versions')).toBe(2n);

      expect(await addPartitionsV0(connection, 'tx-old', producer, 'old-versions')).toBe(ErrorCode.NONE);
      expect((await produce(connection, 'old-versions', 0, { ...producer, baseSequence: 2, values: ['gone'], transactionalId: 'tx-old' })).errorCode).toBe(ErrorCode.NONE);
      expect(await endTxn(connection, 1, 'tx-old', producer, false)).toBe(ErrorCode.NONE);
      const fetched = await fetchAll(connection, 'old-versions', 0, 1);
      expect(committedValues(fetched)).toEqual(['v1', 'v2']);
      expect(fetched.abortedTransactions).toEqual([{ producerId: producer.producerId, firstOffset: 3n }]);

      // A successor fences the old epoch; v0 clients hear INVALID_PRODUCER_EPOCH.
      expect((await initProducerId(connection, 'tx-old', { version: 0 })).producerEpoch).toBe(producer.producerEpoch + 1);
      expect(await addPartitionsV0(connection, 'tx-old', producer, 'old-versions')).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
      const fencedOffsets = await connection.request(ApiKey.AddOffsetsToTxn, 0, { transactionalId: 'tx-old', ...producer, groupId: 'old-group' });
      expect(fencedOffsets.body.errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
      expect(await endTxn(connection, 1, 'tx-old', producer, true)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    } finally {
      connection.destroy();
      await broker.stop();
    }
  });
});
