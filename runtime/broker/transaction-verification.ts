// Transactional writes verified with the transaction coordinator (KIP-890 part 1). A partition
// leader that is not the producer's transaction coordinator cannot tell by itself whether the
// producer added the partition to its ongoing transaction; without a check, a client that
// skipped AddPartitionsToTxn (or a batch delayed past its transaction's end) would open a
// transaction no coordinator will ever end, and the partition's last stable offset would stay
// behind it for good (the "hanging transaction"). So before a transactional batch may open a
// transaction on such a partition, the leader asks the coordinator with AddPartitionsToTxn v4,
// verifyOnly=true, one request per produce request for all its partitions that need it. The
// answer is kept in the partition's producer state (producer-state.ts, Verification) until the
// batch opens the transaction or a marker ends it, so each partition costs one round trip per
// transaction; concurrent produce requests for the same partition share the question in flight.
//
// When the coordinator is this broker, the replica manager asks it directly and synchronously
// (Broker's transactional-write check); this file covers only the coordinator elsewhere.
import { ApiKey } from '../../core/protocol/index.ts';
import type { ProduceRequest } from '../../core/protocol/messages/index.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { RequestChannel } from '../cluster/request-channel.ts';
import { BATCH_HEADER_BYTES, isTransactional, readBatchHeader } from '../../core/records/header.ts';
import type { Broker } from './broker.ts';
import { BrokerChannels } from './broker-channels.ts';
import type { Verification } from './producer-state.ts';
import { partitionKey, type ProduceResult } from './replica-manager.ts';
import { TRANSACTION_STATE_TOPIC } from './transaction-log.ts';

/** The AddPartitionsToTxn version brokers send each other for verification (the first with verifyOnly). */
const VERIFY_VERSION = 4;
/** How long a leader waits for the coordinator's answer before the write is refused as retriable. */
const VERIFY_TIMEOUT_MS = 5000;

/** Refused partitions of one produce request, by partitionKey(topic, partition). */
export type VerificationRefusals = ReadonlyMap<string, ProduceResult>;

interface Needed {
  topic: string;
  partition: number;
  producerId: bigint;
  producerEpoch: number;
  verification: Verification;
}

export class TransactionVerifier {
  private readonly channels: BrokerChannels;
  /** Questions in flight by partition, producer id and epoch, with the coordinator's error code to come. */
  private readonly inFlight = new Map<string, Promise<number>>();

  constructor(private readonly broker: Broker) {
    this.channels = new BrokerChannels(broker, 'txn-verify');
  }

  /**
   * Checks with the coordinator the partitions of a transactional produce request whose batch
   * would open a transaction here. Returns null, without waiting, when none needs it (no
   * transactional id, the coordinator is this broker, or every partition's transaction is
   * open or verified already); otherwise the partitions to refuse, once the answers are in.
   */
  verify(request: ProduceRequest): Promise<VerificationRefusals> | null {
    const transactionalId = request.transactionalId;
    if (transactionalId === null || this.broker.cluster === null) return null;
    // The coordinator is here and loaded: the replica manager asks it directly.
    if (this.broker.coordinators.transactionError(transactionalId) === ErrorCode.NONE) return null;
    const needed: Needed[] = [];
    for (const topic of request.topicData) {
      for (const { index: partition, records } of topic.partitionData) {
        const state = this.broker.replicas.get(topic.name, partition);
        if (state?.replication?.role !== 'leader' || records === null || records.length < BATCH_HEADER_BYTES) continue;
        // Every batch of a partition's records comes from one producer; the first tells which.
        const header = readBatchHeader(records, 0);
        const { producerId, producerEpoch } = header;
        if (producerId < 0n || !isTransactional(header.attributes)) continue;
        if (state.producers.hasOpenTransaction(producerId) || state.producers.isVerified(producerId, producerEpoch)) continue;
        needed.push({ topic: topic.name, partition, producerId, producerEpoch, verification: state.producers.beginVerification(producerId, producerEpoch) });
      }
    }
    return needed.length === 0 ? null : this.refusals(transactionalId, needed);
  }

  /**
   * TxnOffsetCommit (KAFKA-15449, part of KIP-890 part 1): may the transaction write the
   * group's offsets to this __consumer_offsets partition, which this broker leads? The
   * coordinator's error code, NONE at once when there is nothing to ask (the coordinator is
   * here, which the caller asks itself, or the transaction is open or verified here).
   */
  async verifyPartition(transactionalId: string, producerId: bigint, producerEpoch: number, topic: string, partition: number): Promise<number> {
    if (this.broker.cluster === null || this.broker.coordinators.transactionError(transactionalId) === ErrorCode.NONE) return ErrorCode.NONE;
    const producers = this.broker.replicas.get(topic, partition)?.producers;
    if (producers === undefined || producers.hasOpenTransaction(producerId) || producers.isVerified(producerId, producerEpoch)) return ErrorCode.NONE;
    const [errorCode] = await this.answers(transactionalId, [{ topic, partition, producerId, producerEpoch, verification: producers.beginVerification(producerId, producerEpoch) }]);
    return errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  }

  private async refusals(transactionalId: string, needed: readonly Needed[]): Promise<VerificationRefusals> {
    const answers = await this.answers(transactionalId, needed);
    const refusals = new Map<string, ProduceResult>();
    needed.forEach((item, index) => {
      const errorCode = answers[index]!;
      if (errorCode === ErrorCode.NONE) return;
      const refused = verificationErrorFor(errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, ErrorCode.NOT_ENOUGH_REPLICAS);
      const message = refused === ErrorCode.INVALID_TXN_STATE
        ? `partition ${item.topic}-${item.partition} is not part of the ongoing transaction of ${transactionalId}`
        : `the transaction coordinator could not verify the write (error ${errorCode})`;
      refusals.set(partitionKey(item.topic, item.partition), { errorCode: refused, errorMessage: message, baseOffset: -1n, logAppendTimeMs: -1n, logStartOffset: -1n });
    });
    return refusals;
  }

  /** The coordinator's error code for each item, asking only for those no question is in flight for already. */
  private answers(transactionalId: string, needed: readonly Needed[]): Promise<number[]> {
    const fresh = needed.filter((item) => !this.inFlight.has(questionKey(item)));
    if (fresh.length > 0) {
      const asked = this.ask(transactionalId, fresh);
      for (const item of fresh) {
        const key = questionKey(item);
        const answer = asked.then((answers) => {
          const errorCode = answers.get(partitionKey(item.topic, item.partition)) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
          this.broker.replicas.get(item.topic, item.partition)?.producers.completeVerification(item.producerId, item.verification, errorCode === ErrorCode.NONE);
          if (errorCode !== ErrorCode.NONE) {
            this.broker.logger.info('transactional write not verified by the coordinator', { transactionalId, topic: item.topic, partition: item.partition, producerId: item.producerId.toString(), producerEpoch: item.producerEpoch, errorCode });
          }
          return errorCode;
        }).finally(() => this.inFlight.delete(key));
        this.inFlight.set(key, answer);
      }
    }
    // Every question was registered in this same turn; the fallback only satisfies the types.
    return Promise.all(needed.map((item) => this.inFlight.get(questionKey(item)) ?? Promise.resolve(ErrorCode.UNKNOWN_SERVER_ERROR)));
  }

  /** One AddPartitionsToTxn v4 (verifyOnly) per producer id and epoch; the coordinator's code per partition. */
  private async ask(transactionalId: string, items: readonly Needed[]): Promise<Map<string, number>> {
    const answers = new Map<string, number>();
    const coordinator = this.broker.coordinators.coordinatorOf(TRANSACTION_STATE_TOPIC, transactionalId);
    // The coordinator is this broker, still loading its state: the client retries.
    const nobody = typeof coordinator === 'number' ? coordinator : coordinator.nodeId === this.broker.nodeId ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : null;
    const channel = nobody === null && typeof coordinator !== 'number' ? this.channels.get(coordinator.nodeId) : null;
    const groups = new Map<string, Needed[]>();
    for (const item of items) {
      const key = `${item.producerId}:${item.producerEpoch}`;
      groups.set(key, [...(groups.get(key) ?? []), item]);
    }
    await Promise.all([...groups.values()].map(async (group) => {
      const first = group[0]!;
      let codes: Map<string, number>;
      if (channel === null) codes = new Map(group.map((item) => [partitionKey(item.topic, item.partition), nobody ?? ErrorCode.COORDINATOR_NOT_AVAILABLE]));
      else codes = await askCoordinator(channel, transactionalId, first.producerId, first.producerEpoch, group);
      for (const [key, errorCode] of codes) answers.set(key, errorCode);
    }));
    return answers;
  }

  close(): void {
    this.channels.closeAll();
  }
}

async function askCoordinator(
  channel: RequestChannel, transactionalId: string, producerId: bigint, producerEpoch: number, items: readonly Needed[],
): Promise<Map<string, number>> {
  const topics = new Map<string, number[]>();
  for (const item of items) topics.set(item.topic, [...(topics.get(item.topic) ?? []), item.partition]);
  const codes = new Map<string, number>();
  try {
    const response = await channel.send(ApiKey.AddPartitionsToTxn, VERIFY_VERSION, {
      transactions: [{ transactionalId, producerId, producerEpoch, verifyOnly: true, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) }],
    }, VERIFY_TIMEOUT_MS);
    for (const result of response.resultsByTransaction) {
      for (const topic of result.topicResults) {
        for (const partition of topic.resultsByPartition) codes.set(partitionKey(topic.name, partition.partitionIndex), partition.partitionErrorCode);
      }
    }
    if (response.errorCode !== ErrorCode.NONE) for (const item of items) codes.set(partitionKey(item.topic, item.partition), response.errorCode);
  } catch {
    for (const item of items) codes.set(partitionKey(item.topic, item.partition), ErrorCode.NETWORK_EXCEPTION);
  }
  return codes;
}

function questionKey(item: Needed): string {
  return `${partitionKey(item.topic, item.partition)}\u0000${item.producerId}\u0000${item.producerEpoch}`;
}

/**
 * What a client hears of the coordinator's verification: a partition outside the transaction
 * (INVALID_TXN_STATE) or an unknown producer id as is; a fenced producer as `fenced`; a
 * coordinator that moved, is loading, is busy ending the previous transaction or cannot be
 * reached as `retriable`, a code the client retries. A producer hears INVALID_PRODUCER_EPOCH
 * and NOT_ENOUGH_REPLICAS, which every client knows on Produce (Kafka maps these the same way
 * for clients that predate the newer codes); a TxnOffsetCommit PRODUCER_FENCED and
 * COORDINATOR_LOAD_IN_PROGRESS, which clients retry against the same group coordinator.
 */
export function verificationErrorFor(coordinatorError: number, fenced: number, retriable: number): number {
  switch (coordinatorError) {
    case ErrorCode.NONE:
    case ErrorCode.INVALID_TXN_STATE:
    case ErrorCode.INVALID_PRODUCER_ID_MAPPING:
      return coordinatorError;
    case ErrorCode.PRODUCER_FENCED:
    case ErrorCode.INVALID_PRODUCER_EPOCH:
      return fenced;
    default:
      return retriable;
  }
}
