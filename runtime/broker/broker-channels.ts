// One outgoing connection per other broker of the cluster, opened on first use, for the requests
// a broker sends another on behalf of its coordinators: transaction markers (WriteTxnMarkers)
// and transactional-write verification (AddPartitionsToTxn v4). Each user keeps its own set,
// so a slow acks=all marker never queues in front of a verification.
import { RequestChannels } from '../cluster/request-channel.ts';
import type { Broker } from './broker.ts';

/** get answers null when the metadata lists no such live broker. */
export class BrokerChannels extends RequestChannels {
  constructor(broker: Broker, purpose: string) {
    super((brokerId) => broker.cluster?.liveBrokers().find((candidate) => candidate.nodeId === brokerId), `broker-${broker.nodeId}-${purpose}`);
  }
}
