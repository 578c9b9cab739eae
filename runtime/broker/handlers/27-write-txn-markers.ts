// WriteTxnMarkers, versions 0-1: a transaction coordinator on another broker of the cluster
// hands this partition leader the commit or abort markers of a transaction. Each partition
// answers once its marker is committed (acks=all): NOT_LEADER_OR_FOLLOWER when this broker does
// not lead it, NOT_ENOUGH_REPLICAS below min.insync.replicas; the coordinator retries those.
// A marker whose coordinator epoch is older than the producer's last marker on the partition
// gets TRANSACTION_COORDINATOR_FENCED: it comes from a coordinator a newer one replaced.
import { ApiKey } from '../../../core/protocol/index.ts';
import { defineHandler } from '../handler.ts';

export const writeTxnMarkers = defineHandler({
  apiKey: ApiKey.WriteTxnMarkers,
  minVersion: 0,
  maxVersion: 1,
  async handle(request, { broker }) {
    const markers = await Promise.all(request.markers.map(async (marker) => {
      const written = { producerId: marker.producerId, producerEpoch: marker.producerEpoch, commit: marker.transactionResult, coordinatorEpoch: marker.coordinatorEpoch };
      const topics = await Promise.all(marker.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(topic.partitionIndexes.map(async (partitionIndex) => ({
          partitionIndex, errorCode: await broker.writeMarkerLocally(topic.name, partitionIndex, written),
        }))),
      })));
      return { producerId: marker.producerId, topics };
    }));
    return { markers };
  },
});
