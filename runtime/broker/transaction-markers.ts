// Transaction markers on their way to the data partitions. The coordinator writes a marker to
// every partition of a transaction; in a cluster each goes to that partition's current leader,
// here or (WriteTxnMarkers, API 27) on another broker, and counts once it is committed there
// (acks=all). A leader that is gone or not elected yet is retried until the marker lands, the
// partition is deleted, or this broker stops coordinating the transaction, in which case the
// next coordinator finds the Prepare record and writes the markers again. Markers carry the
// coordinator epoch (the leader epoch of the __transaction_state partition when this broker
// loaded it); a partition refuses one older than the producer's last marker there
// (TRANSACTION_COORDINATOR_FENCED), so a deposed coordinator cannot end a transaction twice.
import { ApiKey } from '../../core/protocol/index.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Broker } from './broker.ts';
import { BrokerChannels } from './broker-channels.ts';
import { COORDINATOR_WRITE_TIMEOUT_MS } from './coordinator-partitions.ts';
import type { TransactionMarker } from './transaction-coordinator.ts';
import { TRANSACTION_STATE_TOPIC } from './transaction-log.ts';

/** Pause before a marker is sent again after its leader could not take it. */
const MARKER_RETRY_MS = 100;
/** The WriteTxnMarkers version brokers of this project send each other. */
const WRITE_TXN_MARKERS_VERSION = 1;

export class TransactionMarkerWriter {
  private readonly channels: BrokerChannels;
  private closed = false;

  constructor(private readonly broker: Broker) {
    this.channels = new BrokerChannels(broker, 'txn-markers');
  }

  /** Resolves true once the marker is committed on the partition (or the partition is gone), false if this broker stopped coordinating. */
  async write(transactionalId: string, topic: string, partition: number, marker: TransactionMarker): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed || this.broker.coordinators.transactionError(transactionalId) !== ErrorCode.NONE) return false;
      const errorCode = await this.attempt(topic, partition, marker);
      if (errorCode === ErrorCode.NONE) return true;
      // A newer coordinator finished the transaction there (or the marker is older than the
      // producer's epoch on the partition): this one stops, and its client hears NOT_COORDINATOR.
      if (errorCode === ErrorCode.TRANSACTION_COORDINATOR_FENCED || errorCode === ErrorCode.INVALID_PRODUCER_EPOCH) {
        this.broker.logger.warn('transaction marker refused; no longer completing the transaction', { transactionalId, topic, partition, errorCode });
        return false;
      }
      if (errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && this.partitionGone(topic, partition)) return true;
      if (attempt % 20 === 0) this.broker.logger.info('transaction marker not written yet; retrying', { transactionalId, topic, partition, errorCode });
      await new Promise((resolve) => setTimeout(resolve, MARKER_RETRY_MS));
    }
  }

  private partitionGone(topic: string, partition: number): boolean {
    const cluster = this.broker.cluster;
    if (cluster === null) return this.broker.replicas.get(topic, partition) === undefined;
    return cluster.partition(topic, partition) === undefined;
  }

  private async attempt(topic: string, partition: number, marker: TransactionMarker): Promise<number> {
    const cluster = this.broker.cluster;
    if (cluster === null) return this.broker.writeMarkerLocally(topic, partition, marker);
    const leader = cluster.partition(topic, partition)?.leader;
    if (leader === undefined) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (leader < 0) return ErrorCode.LEADER_NOT_AVAILABLE;
    if (leader === this.broker.nodeId) return this.broker.writeMarkerLocally(topic, partition, marker);
    const channel = this.channels.get(leader);
    if (channel === null) return ErrorCode.LEADER_NOT_AVAILABLE;
    try {
      const response = await channel.send(ApiKey.WriteTxnMarkers, WRITE_TXN_MARKERS_VERSION, {
        markers: [{
          producerId: marker.producerId, producerEpoch: marker.producerEpoch, transactionResult: marker.commit,
          topics: [{ name: topic, partitionIndexes: [partition] }], coordinatorEpoch: marker.coordinatorEpoch,
        }],
      }, COORDINATOR_WRITE_TIMEOUT_MS * 2);
      return response.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    } catch {
      return ErrorCode.NETWORK_EXCEPTION;
    }
  }

  close(): void {
    this.closed = true;
    this.channels.closeAll();
  }
}

/** The coordinator epoch of a transactional id's markers, from its __transaction_state partition. */
export function markerCoordinatorEpoch(broker: Broker, transactionalId: string): number {
  return broker.coordinators.coordinatorEpoch(TRANSACTION_STATE_TOPIC, transactionalId);
}
