// One outgoing connection per other broker of the cluster, opened on first use, for the requests
// a broker sends another on behalf of its coordinators: transaction markers (WriteTxnMarkers)
// and transactional-write verification (AddPartitionsToTxn v4). Each user keeps its own set,
// so a slow acks=all marker never queues in front of a verification.
import { RequestChannel } from '../cluster/request-channel.ts';
import type { Broker } from './broker.ts';

export class BrokerChannels {
  private readonly channels = new Map<number, RequestChannel>();

  constructor(private readonly broker: Broker, private readonly purpose: string) {}

  /** The channel to a live broker, or null when the metadata lists no such live broker. */
  get(brokerId: number): RequestChannel | null {
    const endpoint = this.broker.cluster?.liveBrokers().find((candidate) => candidate.nodeId === brokerId);
    if (endpoint === undefined) return null;
    let channel = this.channels.get(brokerId);
    if (channel === undefined) {
      channel = new RequestChannel(endpoint, `broker-${this.broker.nodeId}-${this.purpose}`);
      this.channels.set(brokerId, channel);
    }
    channel.setEndpoint(endpoint);
    return channel;
  }

  closeAll(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
