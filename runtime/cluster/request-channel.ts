// One outgoing connection from a node to another node's listener, for the requests brokers and
// controllers send each other (BrokerRegistration, BrokerHeartbeat, AlterPartition, forwarded
// CreateTopics, follower Fetch, OffsetForLeaderEpoch). Each call names its API version: both
// sides are this project, so no ApiVersions round trip is needed. A broken connection fails
// its outstanding requests; the next call reconnects.
import net from 'node:net';
import { LIMITS } from '../../core/limits.ts';
import { decodeResponseFrame, encodeRequestFrame, type ApiKey, type BodyInput, type RequestBodyByKey, type ResponseBodyByKey } from '../../core/protocol/index.ts';
import { FrameReader } from '../net/frame-reader.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export class ChannelError extends Error {}

/** A request waiting for its answer; decoded with its API and version when the frame comes. */
interface Pending {
  apiKey: ChannelKey;
  version: number;
  resolve: (body: never) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

type ChannelKey = ApiKey & keyof RequestBodyByKey & keyof ResponseBodyByKey;

export class RequestChannel {
  private socket: net.Socket | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private closed = false;

  constructor(private endpoint: Endpoint, private readonly clientId: string) {}

  get address(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  /** Points the channel elsewhere; outstanding requests fail. */
  setEndpoint(endpoint: Endpoint): void {
    if (endpoint.host === this.endpoint.host && endpoint.port === this.endpoint.port) return;
    this.endpoint = endpoint;
    this.drop(new ChannelError('endpoint changed'));
  }

  send<K extends ChannelKey>(apiKey: K, version: number, body: BodyInput<RequestBodyByKey[K]>, timeoutMs: number): Promise<ResponseBodyByKey[K]> {
    if (this.closed) return Promise.reject(new ChannelError('channel closed'));
    if (this.pending.size >= LIMITS.inFlightRequestsPerConnectionMax) return Promise.reject(new ChannelError('too many requests in flight'));
    const socket = this.connect();
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = this.nextCorrelationId >= 0x7fffffff ? 1 : this.nextCorrelationId + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new ChannelError(`no answer from ${this.address} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { apiKey, version, resolve: resolve as (body: never) => void, reject, timer });
      socket.write(encodeRequestFrame(apiKey, version, correlationId, this.clientId, body));
    });
  }

  private connect(): net.Socket {
    if (this.socket !== null) return this.socket;
    const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
    socket.setNoDelay(true);
    const reader = new FrameReader(LIMITS.responseFrameBytesMax);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) this.receive(frame);
      } catch (error) {
        this.drop(new ChannelError(`bad answer from ${this.address}: ${(error as Error).message}`));
      }
    });
    socket.on('error', (error) => this.drop(new ChannelError(`connection to ${this.address} failed: ${error.message}`)));
    socket.on('close', () => {
      if (this.socket === socket) this.drop(new ChannelError(`connection to ${this.address} closed`));
    });
    this.socket = socket;
    return socket;
  }

  private receive(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.pending.get(correlationId);
    if (pending === undefined) return;
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    let body: unknown;
    try {
      body = decodeResponseFrame(pending.apiKey, pending.version, frame).body;
    } catch (error) {
      pending.reject(error as Error);
      return;
    }
    pending.resolve(body as never);
  }

  private drop(error: Error): void {
    const socket = this.socket;
    this.socket = null;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    socket?.destroy();
  }

  close(): void {
    this.closed = true;
    this.drop(new ChannelError('channel closed'));
  }
}

/**
 * One RequestChannel per node, opened on first use and following the node's endpoint as
 * `endpointOf` gives it; null for a node it gives none for. Closed channels stay, so a send
 * after closeAll fails instead of opening a connection nobody closes.
 */
export class RequestChannels {
  private readonly channels = new Map<number, RequestChannel>();

  constructor(private readonly endpointOf: (nodeId: number) => Endpoint | undefined, private readonly clientId: string) {}

  get(nodeId: number): RequestChannel | null {
    const endpoint = this.endpointOf(nodeId);
    if (endpoint === undefined) return null;
    let channel = this.channels.get(nodeId);
    if (channel === undefined) {
      channel = new RequestChannel(endpoint, this.clientId);
      this.channels.set(nodeId, channel);
    }
    channel.setEndpoint(endpoint);
    return channel;
  }

  closeAll(): void {
    for (const channel of this.channels.values()) channel.close();
  }
}

/** One RequestChannel per quorum voter, opened on first use; what a broker or an observer keeps. */
export class VoterChannels extends RequestChannels {
  constructor(voters: ReadonlyMap<number, Endpoint>, clientId: string) {
    super((voterId) => voters.get(voterId), clientId);
  }

  override get(voterId: number): RequestChannel {
    const channel = super.get(voterId);
    if (channel === null) throw new Error(`node ${voterId} is not a quorum voter`);
    return channel;
  }
}
