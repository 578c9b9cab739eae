// A deterministic simulation of a metadata quorum: fake clock, fake network (delay, loss,
// reordering, partitions), crashes and restarts, all drawn from one seeded generator, so any
// failing seed replays exactly. Messages cross the network as real Kafka frames.
//
// The checker runs after every event and asserts Raft's safety properties:
// - election safety: at most one leader per epoch, and at most one acting leader at any instant;
// - leader completeness: an acting leader's log holds every batch ever committed;
// - committed entries are never lost or changed (every node's committed prefix agrees);
// - log matching (checked periodically): equal (offset, epoch) means equal prefixes;
// - state machine safety: every node's committed-record listener saw a prefix of one sequence.
import type { ConsumerRecord } from '../../../core/records/batch.ts';
import {
  decodeQuorumRequest,
  decodeQuorumResponse,
  encodeQuorumRequest,
  encodeQuorumResponse,
  withoutSizePrefix,
  type OutboundRequest,
  type QuorumApiKey,
} from '../../../runtime/cluster/messages.ts';
import { quorumConfigSchema, type QuorumConfigInput } from '../../../runtime/cluster/quorum-config.ts';
import { QuorumCore, type CommittedBatch } from '../../../runtime/cluster/quorum-core.ts';
import { MemoryQuorumStateStore } from '../../../runtime/cluster/quorum-state.ts';
import { MemoryRaftLog } from '../../../runtime/cluster/raft-log.ts';

import { seededRandom } from '../../helpers/random.ts';

export { seededRandom };

interface SimNode {
  id: number;
  log: MemoryRaftLog;
  store: MemoryQuorumStateStore;
  core: QuorumCore | null;
  /** Bumped on every restart, so answers to a dead incarnation's requests are dropped. */
  incarnation: number;
  pollAtMs: number;
  /** Values handed to the committed listener by the current incarnation, in order. */
  applied: string[];
  /** Leading batches of the log already checked against the committed record. */
  verifiedCount: number;
}

interface SimEvent {
  atMs: number;
  sequence: number;
  run: () => void;
}

export interface SimulationOptions {
  seed: number;
  voters: number;
  lossRate: number;
  delayMsMax: number;
  quorum?: Partial<QuorumConfigInput>;
}

export class SafetyViolation extends Error {}

export class Simulation {
  nowMs = 0;
  readonly random: () => number;
  readonly nodes: SimNode[] = [];
  /** node id -> group; nodes in different groups cannot talk. */
  private readonly groups = new Map<number, number>();
  private events: SimEvent[] = [];
  private sequence = 0;
  lossRate: number;
  /** Epoch -> leader id, for election safety. */
  readonly leaders = new Map<number, number>();
  /** offset -> the committed batch there (epoch and bytes), from any node's high watermark. */
  readonly committed = new Map<bigint, { epoch: number; bytes: Buffer; lastOffset: bigint }>();
  /** Values whose append was acknowledged, with the offset the leader gave them. */
  readonly acknowledged = new Map<string, bigint>();
  messages = 0;
  eventsRun = 0;

  constructor(readonly options: SimulationOptions) {
    this.random = seededRandom(options.seed);
    this.lossRate = options.lossRate;
    for (let id = 1; id <= options.voters; id += 1) {
      const node: SimNode = { id, log: new MemoryRaftLog(), store: new MemoryQuorumStateStore(), core: null, incarnation: 0, pollAtMs: Infinity, applied: [], verifiedCount: 0 };
      this.nodes.push(node);
      this.groups.set(id, 0);
      this.start(node);
    }
  }

  private node(id: number): SimNode {
    const node = this.nodes[id - 1];
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private schedule(atMs: number, run: () => void): void {
    const event = { atMs, sequence: this.sequence++, run };
    // Binary insertion keeps the queue sorted by (time, sequence) without a heap.
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.events[middle] as SimEvent;
      if (other.atMs < atMs || (other.atMs === atMs && other.sequence < event.sequence)) low = middle + 1;
      else high = middle;
    }
    this.events.splice(low, 0, event);
  }

  start(node: SimNode): void {
    node.incarnation += 1;
    node.applied = [];
    const config = quorumConfigSchema.parse({
      nodeId: node.id,
      voters: range(this.options.voters),
      electionTimeoutMs: 150,
      fetchTimeoutMs: 300,
      requestTimeoutMs: 200,
      fetchMaxWaitMs: 50,
      fetchMaxBytes: 4096,
      appendBatchRecordsMax: 20,
      ...this.options.quorum,
    });
    const incarnation = node.incarnation;
    const environment = {
      nowMs: () => this.nowMs,
      wallClockMs: () => this.nowMs,
      random: this.random,
      send: (to: number, requestId: number, request: OutboundRequest) => this.send(node.id, incarnation, to, requestId, request),
    };
    const onCommit = (batches: CommittedBatch[]): void => {
      for (const batch of batches) for (const record of batch.records) node.applied.push(valueOf(record));
    };
    node.core = new QuorumCore(config, node.log, node.store, environment, onCommit);
    node.pollAtMs = Infinity;
    this.reschedulePoll(node);
  }

  crash(id: number): void {
    const node = this.node(id);
    if (node.core === null) return;
    node.core = null;
    node.log.crash();
  }

  restart(id: number): void {
    const node = this.node(id);
    if (node.core === null) this.start(node);
  }

  /** Splits the nodes into groups that cannot reach each other; heal() joins them again. */
  partition(groupOf: (id: number) => number): void {
    for (const node of this.nodes) this.groups.set(node.id, groupOf(node.id));
  }

  heal(): void {
    for (const node of this.nodes) this.groups.set(node.id, 0);
  }

  private reachable(from: number, to: number): boolean {
    return this.groups.get(from) === this.groups.get(to) && this.random() >= this.lossRate;
  }

  private delayMs(): number {
    return 1 + Math.floor(this.random() * this.options.delayMsMax);
  }

  private send(from: number, incarnation: number, to: number, requestId: number, request: OutboundRequest): void {
    this.messages += 1;
    const frame = withoutSizePrefix(encodeQuorumRequest(request, requestId, `node-${from}`));
    if (!this.reachable(from, to)) return;
    this.schedule(this.nowMs + this.delayMs(), () => {
      const target = this.node(to);
      if (target.core === null) return;
      const decoded = decodeQuorumRequest(frame);
      if (decoded === null) throw new Error('undecodable request');
      const apiKey: QuorumApiKey = decoded.request.apiKey;
      target.core.handleRequest(decoded.request, (response) => {
        const answer = withoutSizePrefix(encodeQuorumResponse(response, decoded.correlationId));
        if (!this.reachable(to, from)) return;
        this.schedule(this.nowMs + this.delayMs(), () => {
          const source = this.node(from);
          if (source.core === null || source.incarnation !== incarnation) return;
          const { correlationId, response: inbound } = decodeQuorumResponse(apiKey, answer);
          source.core.handleResponse(to, correlationId, inbound);
          this.reschedulePoll(source);
        });
      });
      this.reschedulePoll(target);
    });
  }

  private reschedulePoll(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    const due = Math.max(core.nextDeadlineMs(), this.nowMs);
    if (due >= node.pollAtMs && node.pollAtMs >= this.nowMs) return;
    node.pollAtMs = due;
    const incarnation = node.incarnation;
    this.schedule(due, () => {
      if (node.core === null || node.incarnation !== incarnation || node.pollAtMs !== due) return;
      node.pollAtMs = Infinity;
      node.core.poll();
      this.reschedulePoll(node);
    });
  }

  /** Schedules a step of the test at a time (faults, client appends). */
  at(atMs: number, run: () => void): void {
    this.schedule(atMs, run);
  }

  /** Runs events up to `untilMs`, checking safety after each and letting promises settle. */
  async run(untilMs: number): Promise<void> {
    while (this.events.length > 0 && (this.events[0] as SimEvent).atMs <= untilMs) {
      const event = this.events.shift() as SimEvent;
      this.nowMs = event.atMs;
      event.run();
      this.eventsRun += 1;
      for (const node of this.nodes) if (node.core !== null) this.reschedulePoll(node);
      const full = this.eventsRun % 500 === 0;
      this.checkSafety(full);
      if (full) this.checkLogMatching();
      await Promise.resolve();
    }
    this.nowMs = untilMs;
  }

  activeLeaders(): SimNode[] {
    return this.nodes.filter((node) => node.core?.isActiveLeader === true);
  }

  /** Appends one value through the acting leader, if there is one, recording the acknowledgement. */
  appendValue(value: string): void {
    const leader = this.activeLeaders()[0];
    if (leader?.core == null) return;
    leader.core.append([{ value }]).then(
      (range) => this.acknowledged.set(value, range.baseOffset),
      () => {},
    );
    this.reschedulePoll(leader);
  }

  /**
   * Checks after an event. Cheap checks always; the full scans of every log (committed prefixes
   * and leader completeness) when `full` is set or a leader is seen for the first time.
   */
  checkSafety(full: boolean): void {
    const acting = this.activeLeaders();
    if (acting.length > 1) throw new SafetyViolation(`t=${this.nowMs}: ${acting.length} acting leaders: ${acting.map((node) => `${node.id}@${node.core?.epoch}`).join(', ')}`);
    let newLeader = false;
    for (const node of this.nodes) {
      const core = node.core;
      if (core === null || core.roleName !== 'leader') continue;
      const known = this.leaders.get(core.epoch);
      if (known !== undefined && known !== node.id) throw new SafetyViolation(`epoch ${core.epoch} has leaders ${known} and ${node.id}`);
      if (known === undefined) newLeader = true;
      this.leaders.set(core.epoch, node.id);
    }
    for (const node of this.nodes) {
      if (node.core !== null) this.recordCommitted(node, node.core.highWatermark, full);
    }
    if (full || newLeader) for (const leader of acting) this.checkLeaderCompleteness(leader);
  }

  /**
   * Records the batches below a node's high watermark as committed, or fails if one differs
   * from what is already recorded at its offset. Incrementally, only batches past the node's
   * verified prefix are looked at (plus the last one of it, which would change on truncation).
   */
  private recordCommitted(node: SimNode, highWatermark: bigint, full: boolean): void {
    const batches = node.log.batchList;
    const from = full ? 0 : Math.max(0, Math.min(node.verifiedCount, batches.length) - 1);
    let index = from;
    for (; index < batches.length; index += 1) {
      const batch = batches[index] as (typeof batches)[number];
      if (batch.lastOffset >= highWatermark) break;
      const known = this.committed.get(batch.baseOffset);
      if (known === undefined) this.committed.set(batch.baseOffset, { epoch: batch.epoch, bytes: batch.bytes, lastOffset: batch.lastOffset });
      else if (!known.bytes.equals(batch.bytes)) throw new SafetyViolation(`node ${node.id}: committed batch at ${batch.baseOffset} differs`);
    }
    if (!full || index > node.verifiedCount) node.verifiedCount = Math.max(index, Math.min(node.verifiedCount, batches.length));
  }

  private checkLeaderCompleteness(leader: SimNode): void {
    const batches = new Map(leader.log.batchList.map((batch) => [batch.baseOffset, batch.bytes]));
    for (const [offset, batch] of this.committed) {
      if (batches.get(offset)?.equals(batch.bytes) !== true) throw new SafetyViolation(`leader ${leader.id}@${leader.core?.epoch} lacks committed batch at ${offset}`);
    }
  }

  checkLogMatching(): void {
    const logs = this.nodes.map((node) => node.log.snapshot());
    for (let a = 0; a < logs.length; a += 1) {
      for (let b = a + 1; b < logs.length; b += 1) {
        const left = logs[a] as ReturnType<MemoryRaftLog['snapshot']>;
        const right = logs[b] as ReturnType<MemoryRaftLog['snapshot']>;
        let lastMatch = -1;
        for (let index = 0; index < Math.min(left.length, right.length); index += 1) {
          const x = left[index];
          const y = right[index];
          if (x?.baseOffset === y?.baseOffset && x?.epoch === y?.epoch) lastMatch = index;
        }
        for (let index = 0; index <= lastMatch; index += 1) {
          if (!left[index]?.bytes.equals(right[index]?.bytes ?? Buffer.alloc(0))) {
            throw new SafetyViolation(`log matching: nodes ${a + 1} and ${b + 1} agree at batch ${lastMatch} but differ at ${index}`);
          }
        }
      }
    }
  }

  /** Every node's applied sequence is a prefix of the longest one; returns the longest. */
  checkStateMachines(): string[] {
    let longest: string[] = [];
    for (const node of this.nodes) if (node.applied.length > longest.length) longest = node.applied;
    for (const node of this.nodes) {
      node.applied.forEach((value, index) => {
        if (longest[index] !== value) throw new SafetyViolation(`node ${node.id} applied ${value} at ${index}, others ${longest[index]}`);
      });
    }
    return longest;
  }
}

function valueOf(record: ConsumerRecord): string {
  return record.value === null ? '' : record.value.toString('utf8');
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}
