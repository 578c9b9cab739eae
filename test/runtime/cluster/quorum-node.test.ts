// Three quorum voters on loopback sockets and real disks, in one process: elect, commit 1,000
// records, kill the leader, elect again, and bring a leader that wrote an uncommitted tail back
// as a follower that truncates it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerEndpoint } from '../../../runtime/cluster/peer-connection.ts';
import { NotLeaderError } from '../../../runtime/cluster/quorum-core.ts';
import { QuorumNode } from '../../../runtime/cluster/quorum-node.ts';

const VOTERS = [1, 2, 3];
const silent = { error() {}, warn() {}, info() {}, debug() {}, child() { return silent; } };

class TestCluster {
  readonly nodes = new Map<number, QuorumNode>();
  readonly endpoints = new Map<number, PeerEndpoint>();
  /** Values each node's state machine saw since its last start, in order. */
  readonly applied = new Map<number, string[]>();
  readonly directories = new Map<number, string>();

  constructor(readonly root: string) {}

  async start(id: number): Promise<QuorumNode> {
    const directory = this.directories.get(id) ?? path.join(this.root, `node-${id}`);
    this.directories.set(id, directory);
    const values: string[] = [];
    this.applied.set(id, values);
    const node = await QuorumNode.start({
      config: { nodeId: id, voters: VOTERS, electionTimeoutMs: 150, fetchTimeoutMs: 600, requestTimeoutMs: 300, fetchMaxWaitMs: 100 },
      dataDirectory: directory,
      logger: silent,
      onCommit: (batches) => {
        for (const batch of batches) for (const record of batch.records) values.push(record.value?.toString() ?? '');
      },
    });
    this.nodes.set(id, node);
    this.endpoints.set(id, { host: '127.0.0.1', port: node.port });
    for (const other of this.nodes.values()) other.setPeers(this.endpoints);
    return node;
  }

  async kill(id: number): Promise<void> {
    await this.nodes.get(id)?.close();
    this.nodes.delete(id);
  }

  async leader(timeoutMs = 10_000): Promise<QuorumNode> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leaders = [...this.nodes.values()].filter((node) => node.isActiveLeader);
      expect(leaders.length).toBeLessThanOrEqual(1);
      if (leaders.length === 1) return leaders[0]!;
      await sleep(20);
    }
    throw new Error(`no leader elected; ${this.describe()}`);
  }

  async until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`condition not met in time; ${this.describe()}`);
      await sleep(20);
    }
  }

  describe(): string {
    const nodes = [...this.nodes.values()].map((node) => {
      const status = node.status;
      return `${status.nodeId}:${status.role}@${status.epoch} leader=${status.leaderId} end=${status.logEndOffset} hw=${status.highWatermark} applied=${this.applied.get(status.nodeId)?.length}`;
    });
    return nodes.join('; ');
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.kill(id);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function appendAll(node: QuorumNode, values: string[]): Promise<void> {
  await Promise.all(values.map((value) => node.append([{ value }])));
}

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.closeAll();
  cluster = null;
});

describe('QuorumNode on loopback sockets', () => {
  it('commits 1,000 records, survives a leader kill and truncates an old leader\'s uncommitted tail', async () => {
    cluster = new TestCluster(fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-quorum-')));
    for (const id of VOTERS) await cluster.start(id);
    const first = await cluster.leader();
    const firstBatch = Array.from({ length: 1_000 }, (_, index) => `a${index}`);
    await appendAll(first, firstBatch);
    await cluster.until(() => VOTERS.every((id) => cluster!.applied.get(id)!.length === 1_000));
    for (const id of VOTERS) expect(cluster.applied.get(id)).toEqual(firstBatch);

    // Kill the leader: the other two elect a new one in a later epoch and keep every record.
    const firstId = first.status.nodeId;
    const firstEpoch = first.status.epoch;
    await cluster.kill(firstId);
    const second = await cluster.leader();
    expect(second.status.nodeId).not.toBe(firstId);
    expect(second.status.epoch).toBeGreaterThan(firstEpoch);
    await appendAll(second, ['b0', 'b1', 'b2']);
    const secondId = second.status.nodeId;
    const followerId = VOTERS.find((id) => id !== firstId && id !== secondId)!;
    await cluster.until(() => cluster!.applied.get(followerId)!.length === 1_003);
    expect(cluster.applied.get(followerId)).toEqual([...firstBatch, 'b0', 'b1', 'b2']);

    // Leave the second leader alone and let it write records it cannot commit, then kill it.
    await cluster.kill(followerId);
    const tail = ['tail0', 'tail1', 'tail2'].map((value) => second.append([{ value }]));
    const tailOutcomes = Promise.allSettled(tail);
    await cluster.until(() => second.status.logEndOffset > second.status.highWatermark);
    const secondEnd = second.status.logEndOffset;
    await cluster.kill(secondId);
    for (const outcome of await tailOutcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(NotLeaderError);
    }

    // The first leader and the follower form a majority without the tail, and commit more.
    await cluster.start(firstId);
    await cluster.start(followerId);
    const third = await cluster.leader();
    expect([firstId, followerId]).toContain(third.status.nodeId);
    await appendAll(third, ['c0', 'c1']);

    // The second leader returns, follows, and replaces its tail with the committed log.
    const returned = await cluster.start(secondId);
    const expected = [...firstBatch, 'b0', 'b1', 'b2', 'c0', 'c1'];
    await cluster.until(() => VOTERS.every((id) => cluster!.applied.get(id)!.length === expected.length));
    for (const id of VOTERS) expect(cluster.applied.get(id)).toEqual(expected);
    const leaderStatus = third.status;
    await cluster.until(() => returned.status.logEndOffset === third.status.logEndOffset);
    expect(returned.status.role).toBe('follower');
    expect(returned.status.epoch).toBe(leaderStatus.epoch);
    expect(returned.status.leaderId).toBe(leaderStatus.nodeId);
    expect(returned.status.highWatermark).toBe(third.status.highWatermark);
    // Its log end moved: the tail batch was cut and the committed batches written in its place.
    expect(secondEnd).toBeGreaterThan(0n);
    expect(cluster.applied.get(secondId)!.some((value) => value.startsWith('tail'))).toBe(false);
  });
});
