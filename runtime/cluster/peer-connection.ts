// One outgoing TCP connection from a quorum voter to a peer. Requests carry the core's request
// id as their correlation id, so an answer finds its way back without a second table. A broken
// connection drops its outstanding requests silently: the quorum treats them as lost messages
// and its own timeouts resend. Reconnection happens on the next send, at most once per backoff.
import net from 'node:net';
import { LIMITS } from '../../core/limits.ts';
import { FrameReader } from '../net/frame-reader.ts';
import { decodeQuorumResponse, encodeQuorumRequest, type InboundResponse, type OutboundRequest, type QuorumApiKey } from './messages.ts';

export interface PeerEndpoint {
  host: string;
  port: number;
}

/** Outstanding requests per connection; beyond this a send is dropped as a lost message would be. */
const IN_FLIGHT_MAX = 64;
const RECONNECT_BACKOFF_MS = 50;

export class PeerConnection {
  private socket: net.Socket | null = null;
  private readonly pending = new Map<number, QuorumApiKey>();
  private lastConnectMs = -Infinity;
  private closed = false;

  constructor(
    readonly peerId: number,
    private endpoint: PeerEndpoint,
    private readonly clientId: string,
    private readonly onResponse: (from: number, requestId: number, response: InboundResponse) => void,
  ) {}

  /** Points the connection at a new address; the old socket is dropped. */
  setEndpoint(endpoint: PeerEndpoint): void {
    if (endpoint.host === this.endpoint.host && endpoint.port === this.endpoint.port) return;
    this.endpoint = endpoint;
    this.drop();
  }

  send(requestId: number, request: OutboundRequest): void {
    if (this.closed || this.pending.size >= IN_FLIGHT_MAX) return;
    const socket = this.connect();
    if (socket === null) return;
    this.pending.set(requestId, request.apiKey);
    socket.write(encodeQuorumRequest(request, requestId, this.clientId));
  }

  private connect(): net.Socket | null {
    if (this.socket !== null) return this.socket;
    const now = Date.now();
    if (now - this.lastConnectMs < RECONNECT_BACKOFF_MS) return null;
    this.lastConnectMs = now;
    const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
    socket.setNoDelay(true);
    const reader = new FrameReader(LIMITS.responseFrameBytesMax);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) this.receive(frame);
      } catch {
        // A peer that sends a frame we cannot read is treated as a broken connection.
        this.drop();
      }
    });
    socket.on('error', () => this.drop());
    socket.on('close', () => {
      if (this.socket === socket) this.drop();
    });
    this.socket = socket;
    return socket;
  }

  private receive(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const apiKey = this.pending.get(correlationId);
    if (apiKey === undefined) throw new Error(`peer ${this.peerId}: answer to unknown request ${correlationId}`);
    this.pending.delete(correlationId);
    const { response } = decodeQuorumResponse(apiKey, frame);
    this.onResponse(this.peerId, correlationId, response);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = null;
    this.pending.clear();
    socket?.destroy();
  }

  close(): void {
    this.closed = true;
    this.drop();
  }
}
