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

export class KafkaServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private nextConnectionId = 1;

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
    const { logger, handler } = this.options;
    const frameBytesMax = this.options.frameBytesMax ?? LIMITS.requestFrameBytesMax;
    const inFlightMax = this.options.inFlightMax ?? LIMITS.inFlightRequestsPerConnectionMax;
    const reader = new FrameReader(frameBytesMax);
    const slots: Slot[] = [];
    let paused = false;
    socket.setNoDelay(true);
    this.sockets.add(socket);

    const connection: Connection = {
      id: this.nextConnectionId++,
      remoteAddress: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
      closed: false,
      close: (reason: string) => {
        if (connection.closed) return;
        (connection as { closed: boolean }).closed = true;
        logger.info('closing connection', { remote: connection.remoteAddress, reason });
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      },
    };

    const flush = (): void => {
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
      if (paused && slots.length < inFlightMax) {
        paused = false;
        socket.resume();
      }
    };

    const dispatch = (frame: Buffer): void => {
      const slot: Slot = { response: null, done: false };
      slots.push(slot);
      const fail = (error: unknown): void => {
        slot.done = true;
        logger.warn('bad request, closing connection', { remote: connection.remoteAddress, error: String(error instanceof Error ? error.message : error) });
        flush();
        connection.close('bad request');
      };
      try {
        const result = handler(frame, connection);
        if (result instanceof Promise) {
          result.then((response) => { slot.response = response; slot.done = true; flush(); }, fail);
        } else {
          slot.response = result;
          slot.done = true;
          flush();
        }
      } catch (error) {
        fail(error);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (connection.closed) return;
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        const reason = error instanceof FrameTooLargeError ? error.message : 'unreadable frame';
        logger.warn('rejecting frame', { remote: connection.remoteAddress, reason });
        connection.close(reason);
        return;
      }
      for (const frame of frames) {
        if (connection.closed) break;
        dispatch(frame);
      }
      if (slots.length >= inFlightMax && !paused) {
        paused = true;
        socket.pause();
      }
    });
    socket.on('error', (error) => logger.debug('socket error', { remote: connection.remoteAddress, error: error.message }));
    socket.on('close', () => {
      this.sockets.delete(socket);
      (connection as { closed: boolean }).closed = true;
      if (reader.pendingBytes > 0) {
        logger.info('client disconnected mid-request', { remote: connection.remoteAddress, pendingBytes: reader.pendingBytes });
      }
    });
  }
}
