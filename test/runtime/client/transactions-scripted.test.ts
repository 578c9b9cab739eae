// The transactional producer against a scripted broker that plays out coordinator trouble:
// retriable errors (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS) are
// retried with a fresh coordinator lookup, new partitions are added in one request per flush,
// a failed batch makes the transaction abortable and the abort restarts sequences under a
// bumped epoch, and an authorization failure ends the producer.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey, decodeRequestBody } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { decodeBatch } from '../../../core/records/batch.ts';
import { isTransactional } from '../../../core/records/header.ts';
import { KafkaFatalProducerError, KafkaTransactionAbortableError } from '../../../runtime/client/errors.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { answerApiVersions, oneBrokerMetadata, respond, scriptedBroker, type ScriptedBroker } from './scripted-broker.ts';

const brokers: ScriptedBroker[] = [];
const producers: Producer[] = [];
afterEach(async () => {
  await Promise.allSettled(producers.splice(0).map((producer) => producer.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

/** Error codes to answer, per API, in order; past the end of a list, NONE. */
interface Script {
  answers: Partial<Record<'init' | 'add' | 'end' | 'produce', number[]>>;
  /** Every request the broker saw, as a short description. */
  log: string[];
  produced: { transactionalId: string | null; transactional: boolean; producerEpoch: number; baseSequence: number; partition: number }[];
}

function next(script: Script, kind: keyof Script['answers']): number {
  return script.answers[kind]?.shift() ?? ErrorCode.NONE;
}

async function start(script: Script): Promise<number> {
  let port = 0;
  let epoch = -1;
  let offset = 0n;
  const broker = await scriptedBroker((header, frame, socket) => {
    const body = <K extends ApiKey>(apiKey: K) => decodeRequestBody(apiKey, header.apiVersion, frame, header.bodyOffset);
    switch (header.apiKey) {
      case ApiKey.ApiVersions:
        answerApiVersions(socket, header, [{ apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 9 }, { apiKey: ApiKey.InitProducerId, minVersion: 0, maxVersion: 4 }, { apiKey: ApiKey.FindCoordinator, minVersion: 0, maxVersion: 4 }, { apiKey: ApiKey.AddPartitionsToTxn, minVersion: 0, maxVersion: 3 }, { apiKey: ApiKey.EndTxn, minVersion: 0, maxVersion: 3 }]);
        return;
      case ApiKey.Metadata:
        respond(socket, header, ApiKey.Metadata, oneBrokerMetadata(port, 'orders', 2));
        return;
      case ApiKey.FindCoordinator: {
        script.log.push('FindCoordinator');
        const key = body(ApiKey.FindCoordinator).coordinatorKeys[0] ?? '';
        const coordinator = { nodeId: 1, host: '127.0.0.1', port, errorCode: 0, errorMessage: null };
        respond(socket, header, ApiKey.FindCoordinator, { throttleTimeMs: 0, ...coordinator, coordinators: [{ key, ...coordinator }] });
        return;
      }
      case ApiKey.InitProducerId: {
        const request = body(ApiKey.InitProducerId);
        const errorCode = next(script, 'init');
        script.log.push(`InitProducerId ${request.producerId}/${request.producerEpoch} -> ${errorCode}`);
        if (errorCode === ErrorCode.NONE) epoch += 1;
        respond(socket, header, ApiKey.InitProducerId, { throttleTimeMs: 0, errorCode, producerId: errorCode === 0 ? 77n : -1n, producerEpoch: errorCode === 0 ? epoch : -1 });
        return;
      }
      case ApiKey.AddPartitionsToTxn: {
        const topics = body(ApiKey.AddPartitionsToTxn).v3AndBelowTopics;
        const errorCode = next(script, 'add');
        script.log.push(`AddPartitionsToTxn ${topics.map((topic) => `${topic.name}[${topic.partitions.join(',')}]`).join(' ')} -> ${errorCode}`);
        respond(socket, header, ApiKey.AddPartitionsToTxn, {
          throttleTimeMs: 0,
          resultsByTopicV3AndBelow: topics.map((topic) => ({ name: topic.name, resultsByPartition: topic.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errorCode })) })),
        });
        return;
      }
      case ApiKey.EndTxn: {
        const request = body(ApiKey.EndTxn);
        const errorCode = next(script, 'end');
        script.log.push(`EndTxn ${request.committed ? 'commit' : 'abort'} epoch ${request.producerEpoch} -> ${errorCode}`);
        respond(socket, header, ApiKey.EndTxn, { throttleTimeMs: 0, errorCode });
        return;
      }
      case ApiKey.Produce: {
        const request = body(ApiKey.Produce);
        const partitions = request.topicData.flatMap((topic) => topic.partitionData);
        const answers = partitions.map((partition) => {
          const { header: batch } = decodeBatch(partition.records as Buffer);
          script.produced.push({ transactionalId: request.transactionalId, transactional: isTransactional(batch.attributes), producerEpoch: batch.producerEpoch, baseSequence: batch.baseSequence, partition: partition.index });
          const errorCode = next(script, 'produce');
          const baseOffset = errorCode === 0 ? offset : -1n;
          if (errorCode === 0) offset += BigInt(batch.lastOffsetDelta + 1);
          return { index: partition.index, errorCode, baseOffset, logAppendTimeMs: -1n, logStartOffset: 0n };
        });
        respond(socket, header, ApiKey.Produce, { responses: [{ name: 'orders', partitionResponses: answers }] });
        return;
      }
    }
  });
  port = broker.port;
  brokers.push(broker);
  return port;
}

function transactional(port: number): Producer {
  const producer = new Producer({ bootstrapServers: `127.0.0.1:${port}`, transactionalId: 'scripted-tx', lingerMs: 0, retryBackoffMs: 5, maxBlockMs: 5_000 });
  producers.push(producer);
  return producer;
}

describe('transactional producer against a scripted coordinator', () => {
  it('retries coordinator errors, adds both partitions in one request and commits', async () => {
    const script: Script = {
      answers: {
        init: [ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.CONCURRENT_TRANSACTIONS],
        add: [ErrorCode.NOT_COORDINATOR, ErrorCode.CONCURRENT_TRANSACTIONS],
        end: [ErrorCode.CONCURRENT_TRANSACTIONS],
      },
      log: [], produced: [],
    };
    const producer = transactional(await start(script));
    await producer.transaction(async (tx) => {
      await tx.send({ topic: 'orders', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] });
    });
    expect(script.log).toEqual([
      'FindCoordinator',
      'InitProducerId -1/-1 -> 15',
      'FindCoordinator',
      'InitProducerId -1/-1 -> 51',
      'InitProducerId -1/-1 -> 0',
      'AddPartitionsToTxn orders[0,1] -> 16',
      'FindCoordinator',
      'AddPartitionsToTxn orders[0,1] -> 51',
      'AddPartitionsToTxn orders[0,1] -> 0',
      'EndTxn commit epoch 0 -> 51',
      'EndTxn commit epoch 0 -> 0',
    ]);
    expect(script.produced).toEqual([
      { transactionalId: 'scripted-tx', transactional: true, producerEpoch: 0, baseSequence: 0, partition: 0 },
      { transactionalId: 'scripted-tx', transactional: true, producerEpoch: 0, baseSequence: 0, partition: 1 },
    ]);
    expect(producer.transactionState).toBe('ready');
  });

  it('makes a failed batch abort the transaction and restarts sequences under a bumped epoch', async () => {
    const script: Script = { answers: { produce: [ErrorCode.NONE, ErrorCode.INVALID_RECORD] }, log: [], produced: [] };
    const producer = transactional(await start(script));
    await producer.beginTransaction();
    await producer.send({ topic: 'orders', messages: [{ value: 'a', partition: 0 }] });
    const failed = await producer.send({ topic: 'orders', messages: [{ value: 'b', partition: 0 }] }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(KafkaTransactionAbortableError);
    expect(producer.transactionState).toBe('abortableError');
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'c', partition: 0 }] })).rejects.toBeInstanceOf(KafkaTransactionAbortableError);
    await expect(producer.commitTransaction()).rejects.toBeInstanceOf(KafkaTransactionAbortableError);
    await producer.abortTransaction();
    expect(producer.producerIdentity).toEqual({ producerId: 77n, producerEpoch: 1 });
    await producer.transaction(async (tx) => { await tx.send({ topic: 'orders', messages: [{ value: 'd', partition: 0 }] }); });
    expect(script.log.filter((line) => !line.startsWith('FindCoordinator'))).toEqual([
      'InitProducerId -1/-1 -> 0',
      'AddPartitionsToTxn orders[0] -> 0',
      'EndTxn abort epoch 0 -> 0',
      'InitProducerId 77/0 -> 0',
      'AddPartitionsToTxn orders[0] -> 0',
      'EndTxn commit epoch 1 -> 0',
    ]);
    expect(script.produced.map(({ producerEpoch, baseSequence }) => `${producerEpoch}:${baseSequence}`)).toEqual(['0:0', '0:1', '1:0']);
  });

  it('ends the producer for good when the transactional id is not authorized', async () => {
    const script: Script = { answers: { add: [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED] }, log: [], produced: [] };
    const producer = transactional(await start(script));
    await producer.beginTransaction();
    const failed = await producer.send({ topic: 'orders', messages: [{ value: 'a' }] }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(KafkaFatalProducerError);
    expect((failed as KafkaFatalProducerError).code).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    expect(producer.transactionState).toBe('fatalError');
    await expect(producer.abortTransaction()).rejects.toBeInstanceOf(KafkaFatalProducerError);
    await expect(producer.beginTransaction()).rejects.toBeInstanceOf(KafkaFatalProducerError);
    expect(script.produced).toEqual([]);
  });
});
