// The TCP front of a Kafka-protocol server. It frames requests, hands each to a handler, and
// writes responses strictly in request order per connection, as Kafka clients require even
// when later requests finish first (a fetch waiting in purgatory must not let a later
// heartbeat's answer overtake it). A connection whose peer sends garbage is closed; nothing
// a client sends can take the process down.
import net from 'node:net';
import { LIMITS } from '../../core/limits.ts';
import type { Logger } from '../logger.ts';
import { FrameReader, FrameTooLargeError } from './frame-reader.ts';

export interface Connection {
  readonly id: number;
  readonly remoteAddress: string;
  /** Closes the connection after writing any responses already due. */
  close(reason: string): void;
  readonly closed: boolean;
}

/**
 * Answers one request frame. Returns the response frame (with its size prefix), or null when
 * the request takes no response (Produce with acks=0). Throwing closes the connection: the
 * handler throws only for frames it cannot parse.
 */
export type FrameHandler = (frame: Buffer, connection: Connection) => Response | Promise<Response>;

/** A response frame, whole or in chunks written back to back (large fetch payloads are not copied). */
export type Response = Buffer | Buffer[] | null;

interface Slot {
  response: Response;
  done: boolean;
}

export interface ServerOptions {
  host: string;
  port: number;
  handler: FrameHandler;
  logger: Logger;
  frameBytesMax?: number;
  inFlightMax?: number;
}

let nextConnectionId = 1;

export class KafkaServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly options: ServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.maxConnections = LIMITS.connectionsMax;
  }

  static async listen(options: ServerOptions): Promise<KafkaServer> {
    const server = new KafkaServer(options);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(options.port, options.host, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('server is not listening');
    return address.port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const connection = new ServerConnection(socket, this.options);
    socket.on('close', () => {
      this.sockets.delete(socket);
      connection.onClose();
    });
  }
}

/**
 * One client connection: frames in, responses out in request order. Per-request work is in
 * methods rather than closures made per frame (a named closure costs an allocation and, under
 * tsx's keepNames, a defineProperty call each time it is made).
 */
class ServerConnection implements Connection {
  readonly id: number;
  readonly remoteAddress: string;
  closed = false;
  private readonly reader: FrameReader;
  private readonly slots: Slot[] = [];
  private readonly inFlightMax: number;
  private paused = false;

  constructor(private readonly socket: net.Socket, private readonly options: ServerOptions) {
    this.id = nextConnectionId++;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.reader = new FrameReader(options.frameBytesMax ?? LIMITS.requestFrameBytesMax);
    this.inFlightMax = options.inFlightMax ?? LIMITS.inFlightRequestsPerConnectionMax;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => options.logger.debug('socket error', { remote: this.remoteAddress, error: error.message }));
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.options.logger.info('closing connection', { remote: this.remoteAddress, reason });
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
  }

  onClose(): void {
    this.closed = true;
    if (this.reader.pendingBytes > 0) {
      this.options.logger.info('client disconnected mid-request', { remote: this.remoteAddress, pendingBytes: this.reader.pendingBytes });
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      const reason = error instanceof FrameTooLargeError ? error.message : 'unreadable frame';
      this.options.logger.warn('rejecting frame', { remote: this.remoteAddress, reason });
      this.close(reason);
      return;
    }
    for (const frame of frames) {
      if (this.closed) break;
      this.dispatch(frame);
    }
    if (this.slots.length >= this.inFlightMax && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private dispatch(frame: Buffer): void {
    const slot: Slot = { response: null, done: false };
    this.slots.push(slot);
    try {
      const result = this.options.handler(frame, this);
      if (result instanceof Promise) {
        result.then(
          (response) => {
            slot.response = response;
            slot.done = true;
            this.flush();
          },
          (error: unknown) => this.fail(slot, error),
        );
      } else {
        slot.response = result;
        slot.done = true;
        this.flush();
      }
    } catch (error) {
      this.fail(slot, error);
    }
  }

  private fail(slot: Slot, error: unknown): void {
    slot.done = true;
    this.options.logger.warn('bad request, closing connection', { remote: this.remoteAddress, error: String(error instanceof Error ? error.message : error) });
    this.flush();
    this.close('bad request');
  }

  private flush(): void {
    const { slots, socket } = this;
    let head = slots[0];
    if (head === undefined || !head.done) return;
    socket.cork();
    while (head !== undefined && head.done) {
      slots.shift();
      const response = head.response;
      if (response !== null && !socket.destroyed) {
        if (Array.isArray(response)) for (const chunk of response) socket.write(chunk);
        else socket.write(response);
      }
      head = slots[0];
    }
    socket.uncork();
    if (this.paused && slots.length < this.inFlightMax) {
      this.paused = false;
      socket.resume();
    }
  }
}
