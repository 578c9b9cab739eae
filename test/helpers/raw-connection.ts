// A bare TCP connection for tests that must send exactly the bytes they choose (malformed,
// truncated or oversized frames) and read the broker's raw answer.
import net from 'node:net';
import { decodeResponseFrame, encodeRequestFrame } from '../../core/protocol/index.ts';

export class RawConnection {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => { this.chunks.push(chunk); this.bufferedBytes += chunk.length; this.wake(); });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => { /* the close event follows */ });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a well-formed request and decodes its response. */
  async request<K extends number>(apiKey: K, apiVersion: number, body: unknown, correlationId = 1): Promise<{ correlationId: number; body: any }> {
    this.write(encodeRequestFrame(apiKey as never, apiVersion, correlationId, 'raw-test', body as never));
    const frame = await this.readFrame(10_000);
    if (frame === null) throw new Error('connection closed before a response');
    return decodeResponseFrame(apiKey as never, apiVersion, frame) as { correlationId: number; body: any };
  }

  /** The next response frame without its size prefix, or null if the broker closed the connection. */
  async readFrame(timeoutMs: number): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Chunks are joined only once a whole frame is there, so big responses are copied once.
      if (this.bufferedBytes >= 4) {
        if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)];
        const size = this.chunks[0]!.readInt32BE(0);
        if (this.bufferedBytes >= 4 + size) {
          const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
          const frame = all.subarray(4, 4 + size);
          const rest = all.subarray(4 + size);
          this.chunks = rest.length > 0 ? [rest] : [];
          this.bufferedBytes = rest.length;
          return frame;
        }
      }
      if (this.closed) return null;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Resolves true once the broker has closed the connection. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }
}
