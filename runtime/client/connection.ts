// One TCP connection to one broker. Requests are pipelined: each gets a correlation id and
// waits in a map until its response frame arrives (Kafka answers in order on a connection, but
// routing by id keeps a late answer to a timed-out request from being taken for another).
//
// On connect the client asks ApiVersions and from then on uses, per API, the highest version
// both sides know: min(our max, broker max), refusing if that falls below either minimum.
import net from 'node:net';
import { LIMITS } from '../../core/limits.ts';
import {
  ApiKey,
  ProtocolDecodeError,
  apiName,
  decodeResponseFrame,
  encodeRequestFrame,
  type BodyInput,
  type RequestBodyByKey,
  type ResponseBodyByKey,
} from '../../core/protocol/index.ts';
import { KafkaConnectionError, KafkaProtocolError, KafkaTimeoutError, KafkaVersionError } from './errors.ts';

/**
 * The versions this client implements, per API. The maximum is where the client stops: a newer
 * version changes a shape the client relies on (Fetch 13 names topics by id, OffsetFetch 8
 * batches groups, DeleteTopics 6 takes topic ids), so going higher needs code, not a number.
 */
export const CLIENT_VERSIONS: ReadonlyMap<number, { min: number; max: number }> = new Map([
  [ApiKey.Produce, { min: 3, max: 11 }],
  [ApiKey.Fetch, { min: 4, max: 12 }],
  [ApiKey.ListOffsets, { min: 1, max: 7 }],
  [ApiKey.Metadata, { min: 1, max: 12 }],
  [ApiKey.OffsetCommit, { min: 2, max: 8 }],
  [ApiKey.OffsetFetch, { min: 1, max: 7 }],
  [ApiKey.FindCoordinator, { min: 0, max: 4 }],
  [ApiKey.JoinGroup, { min: 0, max: 9 }],
  [ApiKey.Heartbeat, { min: 0, max: 4 }],
  [ApiKey.LeaveGroup, { min: 0, max: 5 }],
  [ApiKey.SyncGroup, { min: 0, max: 5 }],
  [ApiKey.DescribeGroups, { min: 0, max: 5 }],
  [ApiKey.ListGroups, { min: 0, max: 4 }],
  [ApiKey.ApiVersions, { min: 0, max: 3 }],
  [ApiKey.CreateTopics, { min: 0, max: 7 }],
  [ApiKey.DeleteTopics, { min: 0, max: 5 }],
  [ApiKey.DeleteRecords, { min: 0, max: 2 }],
  [ApiKey.InitProducerId, { min: 0, max: 4 }],
  [ApiKey.AddPartitionsToTxn, { min: 0, max: 3 }],
  [ApiKey.AddOffsetsToTxn, { min: 0, max: 3 }],
  [ApiKey.EndTxn, { min: 0, max: 3 }],
  [ApiKey.TxnOffsetCommit, { min: 0, max: 3 }],
  [ApiKey.DescribeConfigs, { min: 1, max: 4 }],
  [ApiKey.CreatePartitions, { min: 0, max: 3 }],
  [ApiKey.DeleteGroups, { min: 0, max: 2 }],
  [ApiKey.IncrementalAlterConfigs, { min: 0, max: 1 }],
  [ApiKey.AlterPartitionReassignments, { min: 0, max: 0 }],
  [ApiKey.ListPartitionReassignments, { min: 0, max: 0 }],
]);

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface SendOptions {
  /** Overrides the connection's request timeout (a long-polling Fetch adds its wait time). */
  timeoutMs?: number;
  /** False for Produce with acks=0, which the broker never answers. */
  expectResponse?: boolean;
}

export interface Response<K extends ApiKey> {
  version: number;
  body: ResponseBodyByKey[K];
}

interface Pending {
  apiKey: ApiKey;
  resolve(frame: Buffer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const SIZE_PREFIX_BYTES = 4;
/** Frames at least this large are received into their own buffer chunk by chunk. */
const LARGE_FRAME_BYTES = 1024 * 1024;
/**
 * The buffer each connection reads its socket into, reused from read to read (the size of the
 * chunks libuv reads by default). Without it every read is a buffer of its own outside the JS
 * heap, and a consumer reading fetch responses allocated their size twice over (the chunks,
 * then the frame copied out of them): memory outside the heap that V8 answers with full GCs.
 */
const READ_BUFFER_BYTES = 64 * 1024;
const CLIENT_SOFTWARE_NAME = 'runnel';
const CLIENT_SOFTWARE_VERSION = '0.1.0';

export class Connection {
  readonly address: string;
  private readonly socket: net.Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: (() => void)[] = [];
  private versions = new Map<number, { min: number; max: number }>();
  private nextCorrelationId = 1;
  private inFlight = 0;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** The size of the frame being received, once its size prefix has arrived; -1 before. */
  private frameBytes = -1;
  /** A large frame being received straight into its own buffer, and how much of it has arrived. */
  private frame: Buffer | null = null;
  private frameFilled = 0;
  /** The view of `frame` after frameFilled handed out for the read in progress (nextReadBuffer), if any. */
  private frameRest: Buffer | null = null;
  private closedError: Error | null = null;
  private readonly closeListeners: ((error: Error) => void)[] = [];

  private constructor(socket: net.Socket, reads: ReadTarget, private readonly options: ConnectionOptions) {
    this.socket = socket;
    this.address = `${options.host}:${options.port}`;
    socket.setNoDelay(true);
    reads.onRead = (bytes, buffer) => this.onRead(bytes, buffer);
    reads.nextBuffer = () => this.nextReadBuffer();
    socket.on('error', (error) => this.fail(new KafkaConnectionError(`connection to ${this.address} failed: ${error.message}`, { cause: error })));
    socket.on('close', () => this.fail(new KafkaConnectionError(`connection to ${this.address} closed`)));
  }

  /** Connects and negotiates API versions; the promise settles once the connection is usable. */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const reads: ReadTarget = { onRead: null, nextBuffer: null };
    const socket = await connectSocket(options, reads);
    const connection = new Connection(socket, reads, options);
    try {
      await connection.negotiateVersions();
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  onClose(listener: (error: Error) => void): void {
    this.closeListeners.push(listener);
  }

  /** The version this connection uses for `apiKey`, or throws KafkaVersionError. */
  versionFor(apiKey: ApiKey): number {
    const ours = CLIENT_VERSIONS.get(apiKey);
    const theirs = this.versions.get(apiKey);
    const name = apiName(apiKey) ?? `API ${apiKey}`;
    if (ours === undefined) throw new KafkaVersionError(`the client does not implement ${name}`);
    if (theirs === undefined) throw new KafkaVersionError(`broker ${this.address} does not support ${name}`);
    const version = Math.min(ours.max, theirs.max);
    if (version < ours.min || version < theirs.min) {
      throw new KafkaVersionError(
        `broker ${this.address} serves ${name} v${theirs.min}-${theirs.max}, the client implements v${ours.min}-${ours.max}: no common version`,
      );
    }
    return version;
  }

  supports(apiKey: ApiKey): boolean {
    try {
      this.versionFor(apiKey);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends one request at the negotiated version and resolves with the decoded response. */
  async send<K extends ApiKey>(apiKey: K, body: BodyInput<RequestBodyByKey[K]>, options: SendOptions = {}): Promise<Response<K>> {
    const version = this.versionFor(apiKey);
    return this.sendVersion(apiKey, version, body, options);
  }

  private async sendVersion<K extends ApiKey>(apiKey: K, version: number, body: BodyInput<RequestBodyByKey[K]>, options: SendOptions): Promise<Response<K>> {
    await this.waitForSlot();
    if (this.closedError !== null) throw this.closedError;
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = this.nextCorrelationId >= 0x7fffffff ? 1 : this.nextCorrelationId + 1;
    const frame = encodeRequestFrame(apiKey, version, correlationId, this.options.clientId, body);
    if (options.expectResponse === false) {
      this.socket.write(frame);
      this.releaseSlot();
      return { version, body: undefined as unknown as ResponseBodyByKey[K] };
    }
    const responseFrame = await new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        this.releaseSlot();
        reject(new KafkaTimeoutError(`${apiName(apiKey) ?? apiKey} v${version} to ${this.address} got no response in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { apiKey, resolve, reject, timer });
      this.socket.write(frame);
    });
    try {
      return { version, body: decodeResponseFrame(apiKey, version, responseFrame).body };
    } catch (error) {
      if (!(error instanceof ProtocolDecodeError)) throw error;
      throw new KafkaConnectionError(`cannot read the response from ${this.address}: ${error.message}`, { cause: error });
    }
  }

  /** Limits requests in flight (LIMITS.inFlightRequestsPerConnectionMax); the rest queue here. */
  private async waitForSlot(): Promise<void> {
    if (this.inFlight < LIMITS.inFlightRequestsPerConnectionMax) {
      this.inFlight += 1;
      return;
    }
    // The slot is handed over by releaseSlot, so inFlight stays unchanged on the way in.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.inFlight -= 1;
  }

  /**
   * ApiVersions v3 first (it carries the client's software name); a broker that does not know
   * v3 answers in v0 with UNSUPPORTED_VERSION, or its answer will not decode as v3, and then
   * the client asks again with v0, as librdkafka does.
   */
  private async negotiateVersions(): Promise<void> {
    const body = { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION };
    let response: Response<typeof ApiKey.ApiVersions>;
    try {
      response = await this.sendVersion(ApiKey.ApiVersions, 3, body, {});
      if (response.body.errorCode === 35) response = await this.sendVersion(ApiKey.ApiVersions, 0, {}, {});
    } catch (error) {
      if (!(error instanceof KafkaConnectionError) || this.closed) throw error;
      response = await this.sendVersion(ApiKey.ApiVersions, 0, {}, {});
    }
    if (response.body.errorCode !== 0) throw new KafkaProtocolError(response.body.errorCode, `ApiVersions from ${this.address}`);
    this.versions = new Map(response.body.apiKeys.map((key) => [key.apiKey, { min: key.minVersion, max: key.maxVersion }]));
  }

  /**
   * Frames arrive in chunks (a large Fetch response in hundreds of them), read into the
   * connection's read buffer, which the next read overwrites: whatever must outlive the read is
   * copied out. A frame that lies whole in the read is copied out on its own (its decoded body
   * may keep views into it, such as a Fetch response's records); the start of a frame that
   * does not is copied into `buffered` and the frame joined once it is complete. A large frame
   * gets its buffer as soon as its size is known, what came with its start is copied in, and
   * the socket reads the rest straight into it (nextReadBuffer) while it is still on the wire:
   * joining on every chunk would copy a 50 MB response hundreds of times over (which made
   * 16-partition fetches crawl), joining at the end would do the whole copy while the caller
   * waits, and copying each chunk in would pass over every byte of it once more.
   */
  private onRead(bytes: number, buffer: Buffer): void {
    if (this.frame !== null && buffer === this.frameRest) {
      this.frameRest = null;
      this.frameFilled += bytes;
      if (this.frameFilled === this.frame.length) this.frameComplete();
      return;
    }
    let data = buffer.subarray(0, bytes);
    if (this.frame !== null) {
      data = this.fillFrame(data);
      if (data.length === 0) return;
    }
    if (this.bufferedBytes === 0) {
      data = this.takeFrames(data);
      if (data.length === 0) return;
    }
    this.buffered.push(Buffer.from(data));
    this.bufferedBytes += data.length;
    while (this.bufferedBytes >= SIZE_PREFIX_BYTES) {
      if (this.frameBytes < 0) {
        const head = this.joinBuffered(SIZE_PREFIX_BYTES);
        const size = head.readInt32BE(0);
        if (!this.frameSizeAllowed(size)) return;
        this.frameBytes = size;
      }
      if (this.bufferedBytes < SIZE_PREFIX_BYTES + this.frameBytes) {
        if (this.frameBytes >= LARGE_FRAME_BYTES) this.startFrame();
        return;
      }
      const whole = this.joinBuffered(SIZE_PREFIX_BYTES + this.frameBytes);
      const frame = whole.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + this.frameBytes);
      const rest = whole.subarray(SIZE_PREFIX_BYTES + this.frameBytes);
      this.buffered = rest.length > 0 ? [rest] : [];
      this.bufferedBytes = rest.length;
      this.frameBytes = -1;
      this.deliver(frame);
    }
  }

  /**
   * Delivers copies of the frames that lie whole in `data` (a read, nothing buffered before it);
   * returns the rest, the start of a frame still arriving, which onRead buffers.
   */
  private takeFrames(data: Buffer): Buffer {
    let at = 0;
    while (data.length - at >= SIZE_PREFIX_BYTES) {
      const size = data.readInt32BE(at);
      if (!this.frameSizeAllowed(size)) return data.subarray(data.length);
      const end = at + SIZE_PREFIX_BYTES + size;
      if (end > data.length) break;
      this.deliver(Buffer.from(data.subarray(at + SIZE_PREFIX_BYTES, end)));
      at = end;
    }
    return data.subarray(at);
  }

  /** False, with the connection failed and closed, for a size no frame may have. */
  private frameSizeAllowed(size: number): boolean {
    if (size >= 4 && size <= LIMITS.responseFrameBytesMax) return true;
    this.fail(new KafkaConnectionError(`broker ${this.address} sent a frame of ${size} bytes (limit ${LIMITS.responseFrameBytesMax})`));
    this.socket.destroy();
    return false;
  }

  /** Moves the buffered start of a large frame into a buffer of the frame's size. */
  private startFrame(): void {
    const joined = this.joinBuffered(this.bufferedBytes);
    this.frame = Buffer.allocUnsafe(this.frameBytes);
    this.frameFilled = joined.copy(this.frame, 0, SIZE_PREFIX_BYTES);
    this.buffered = [];
    this.bufferedBytes = 0;
  }

  /** Copies what fits of `data` into the frame being received; returns the bytes left over. */
  private fillFrame(data: Buffer): Buffer {
    const frame = this.frame as Buffer;
    const copied = data.copy(frame, this.frameFilled, 0, Math.min(data.length, frame.length - this.frameFilled));
    this.frameFilled += copied;
    if (this.frameFilled < frame.length) return data.subarray(data.length);
    this.frameComplete();
    return data.subarray(copied);
  }

  private frameComplete(): void {
    const frame = this.frame as Buffer;
    this.frame = null;
    this.frameRest = null;
    this.frameFilled = 0;
    this.frameBytes = -1;
    this.deliver(frame);
  }

  /**
   * The buffer the socket's next read goes into: the rest of the large frame being received, so
   * the kernel writes it in place (no copy out of the read buffer; the read stops at the frame's
   * end, so the next frame's bytes never land in it), else the reused read buffer.
   */
  private nextReadBuffer(): Buffer | null {
    if (this.frame === null) return null;
    this.frameRest = this.frame.subarray(this.frameFilled);
    return this.frameRest;
  }

  /** Makes the first buffered chunk hold at least `bytes` bytes, joining chunks if needed. */
  private joinBuffered(bytes: number): Buffer {
    const first = this.buffered[0] as Buffer;
    if (first.length >= bytes) return first;
    const joined = Buffer.concat(this.buffered);
    this.buffered = [joined];
    return joined;
  }

  private deliver(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const pending = this.pending.get(correlationId);
    // A response to a request that already timed out is dropped; its caller has moved on.
    if (pending === undefined) return;
    this.pending.delete(correlationId);
    clearTimeout(pending.timer);
    this.releaseSlot();
    pending.resolve(frame);
  }

  private fail(error: Error): void {
    if (this.closedError !== null) return;
    this.closedError = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
    for (const wake of this.waiting.splice(0)) wake();
    for (const listener of this.closeListeners) listener(error);
  }

  close(): void {
    this.fail(new KafkaConnectionError(`connection to ${this.address} was closed by the client`));
    this.socket.destroy();
  }
}

/** Where a socket's reads go; set once the connection is made (nothing arrives before it asks). */
interface ReadTarget {
  onRead: ((bytes: number, buffer: Buffer) => void) | null;
  /** The buffer for the next read, or null for the connection's reused one. */
  nextBuffer: (() => Buffer | null) | null;
}

function connectSocket(options: ConnectionOptions, reads: ReadTarget): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    const socket = net.connect({
      host: options.host,
      port: options.port,
      // Node asks for each read's buffer before the read and hands it back with the read.
      onread: { buffer: () => reads.nextBuffer?.() ?? buffer, callback: (bytes: number, into: Buffer) => { reads.onRead?.(bytes, into); return true; } },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new KafkaConnectionError(`could not connect to ${options.host}:${options.port} within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new KafkaConnectionError(`could not connect to ${options.host}:${options.port}: ${error.message}`, { cause: error }));
    });
  });
}
