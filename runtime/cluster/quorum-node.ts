// A metadata-quorum voter on real sockets and a real disk: the QuorumCore's driver. It owns the
// core and calls it from one place (the event loop), serves Vote, BeginQuorumEpoch,
// EndQuorumEpoch and Fetch on a node:net server, talks to the other voters over PeerConnections,
// and wakes the core when its next deadline comes due.
//
// Layout of the data directory: `quorum-state` (the election state, replaced atomically) and
// `__cluster_metadata-0/` (the metadata log, segments as any partition).
import { performance } from 'node:perf_hooks';
import type { RecordInput } from '../../core/records/batch.ts';
import { createLogger, type Logger } from '../logger.ts';
import { KafkaServer } from '../net/server.ts';
import { decodeQuorumRequest, encodeQuorumResponse, type InboundResponse, type OutboundRequest } from './messages.ts';
import { PartitionRaftLog } from './partition-raft-log.ts';
import { PeerConnection, type PeerEndpoint } from './peer-connection.ts';
import { quorumConfigSchema, type QuorumConfig, type QuorumConfigInput } from './quorum-config.ts';
import { QuorumCore, type CommittedBatch, type RoleName } from './quorum-core.ts';
import { FileQuorumStateStore } from './quorum-state.ts';

export interface QuorumNodeOptions {
  config: QuorumConfigInput;
  dataDirectory: string;
  host?: string;
  /** 0 picks a free port; read it back from `port`. */
  port?: number;
  /** Where the other voters listen; may also be given later with setPeers (ports chosen at run time). */
  peers?: ReadonlyMap<number, PeerEndpoint>;
  /** The state machine: committed application batches, in offset order, from offset 0 after every start. */
  onCommit?: (batches: CommittedBatch[]) => void;
  /**
   * Requests on the same listener that are not quorum requests (a controller's BrokerRegistration,
   * BrokerHeartbeat, AlterPartition, CreateTopics); without it such a request closes the connection.
   */
  serveOther?: (frame: Buffer) => Promise<Buffer>;
  logger?: Logger;
}

export interface QuorumStatus {
  nodeId: number;
  role: RoleName;
  epoch: number;
  leaderId: number;
  highWatermark: bigint;
  logEndOffset: bigint;
}

export class QuorumNode {
  private readonly connections = new Map<number, PeerConnection>();
  private timer: NodeJS.Timeout | null = null;
  private wakeQueued = false;
  private closed = false;
  private lastRole = '';

  private constructor(
    readonly config: QuorumConfig,
    private readonly core: QuorumCore,
    private readonly log: PartitionRaftLog,
    private readonly server: KafkaServer,
    private readonly logger: Logger,
    private readonly serveOther: ((frame: Buffer) => Promise<Buffer>) | undefined,
  ) {}

  static async start(options: QuorumNodeOptions): Promise<QuorumNode> {
    const config = quorumConfigSchema.parse(options.config);
    const logger = options.logger ?? createLogger(`quorum-${config.nodeId}`);
    const log = PartitionRaftLog.open(options.dataDirectory, (line) => logger.warn(line));
    const store = new FileQuorumStateStore(options.dataDirectory);
    let node: QuorumNode | null = null;
    const environment = {
      nowMs: () => performance.now(),
      wallClockMs: () => Date.now(),
      random: Math.random,
      send: (to: number, requestId: number, request: OutboundRequest) => node?.send(to, requestId, request),
    };
    const core = new QuorumCore(config, log, store, environment, options.onCommit);
    const server = await KafkaServer.listen({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      logger,
      handler: (frame) => node!.serve(frame),
    });
    node = new QuorumNode(config, core, log, server, logger, options.serveOther);
    if (options.peers !== undefined) node.setPeers(options.peers);
    node.wake();
    return node;
  }

  get port(): number {
    return this.server.port;
  }

  get status(): QuorumStatus {
    const core = this.core;
    return { nodeId: core.nodeId, role: core.roleName, epoch: core.epoch, leaderId: core.leaderId, highWatermark: core.highWatermark, logEndOffset: core.logEndOffset };
  }

  get isActiveLeader(): boolean {
    return this.core.isActiveLeader;
  }

  setPeers(peers: ReadonlyMap<number, PeerEndpoint>): void {
    for (const [peerId, endpoint] of peers) {
      if (peerId === this.config.nodeId) continue;
      const existing = this.connections.get(peerId);
      if (existing !== undefined) existing.setEndpoint(endpoint);
      else this.connections.set(peerId, new PeerConnection(peerId, endpoint, `quorum-${this.config.nodeId}`, (from, id, response) => this.receive(from, id, response)));
    }
  }

  /** Appends on the leader; resolves once committed. Rejects with NotLeaderError elsewhere. */
  append(records: RecordInput[]): Promise<{ baseOffset: bigint; lastOffset: bigint }> {
    const result = this.core.append(records);
    this.wake();
    return result;
  }

  private send(to: number, requestId: number, request: OutboundRequest): void {
    this.connections.get(to)?.send(requestId, request);
  }

  private receive(from: number, requestId: number, response: InboundResponse): void {
    if (this.closed) return;
    this.core.handleResponse(from, requestId, response);
    this.wake();
  }

  private serve(frame: Buffer): Promise<Buffer> {
    const decoded = decodeQuorumRequest(frame);
    if (this.closed) throw new Error('quorum node closed');
    if (decoded === null && this.serveOther !== undefined) return this.serveOther(frame);
    if (decoded === null) throw new Error('not a quorum request');
    return new Promise((resolve) => {
      this.core.handleRequest(decoded.request, (response) => resolve(encodeQuorumResponse(response, decoded.correlationId)));
      this.wake();
    });
  }

  /** Runs due work on the next turn of the event loop and re-arms the timer for the next deadline. */
  private wake(): void {
    if (this.wakeQueued || this.closed) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      if (this.closed) return;
      this.core.poll();
      this.noteRoleChange();
      this.arm();
    });
  }

  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    const delayMs = Math.max(0, this.core.nextDeadlineMs() - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake();
    }, Math.ceil(delayMs));
  }

  private noteRoleChange(): void {
    const role = `${this.core.roleName}@${this.core.epoch}`;
    if (role === this.lastRole) return;
    this.lastRole = role;
    this.logger.info('quorum role', { role: this.core.roleName, epoch: this.core.epoch, leader: this.core.leaderId });
  }

  /**
   * Stops the node. `graceful` first hands leadership away (EndQuorumEpoch) so the others elect
   * at once; without it the node just vanishes, as after a crash (the log is still closed
   * cleanly, which a crash would not do; recovery of torn logs is state/log's and tested there).
   */
  async close(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (options.graceful === true) this.core.resignAndNotify();
    // Give EndQuorumEpoch a moment to leave the socket buffers.
    if (options.graceful === true) await new Promise((resolve) => setTimeout(resolve, 20));
    this.core.shutdown();
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const connection of this.connections.values()) connection.close();
    await this.server.close();
    this.log.close();
  }
}
