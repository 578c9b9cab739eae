// A broker-only node's MetadataObserver against three real quorum voters on loopback sockets:
// it finds the leader on its own, sees the committed records in order, in several fetches,
// and follows a new leader after the old one is closed, going on where it was.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MetadataObserver } from '../../../runtime/cluster/metadata-observer.ts';
import { QuorumNode } from '../../../runtime/cluster/quorum-node.ts';
import type { Endpoint } from '../../../runtime/cluster/request-channel.ts';

const VOTERS = [1, 2, 3];
const silent = { error() {}, warn() {}, info() {}, debug() {}, child() { return silent; } };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let root = '';
const nodes = new Map<number, QuorumNode>();
let observer: MetadataObserver | null = null;

afterEach(async () => {
  await observer?.close();
  for (const node of nodes.values()) await node.close();
  nodes.clear();
  if (root !== '') fs.rmSync(root, { recursive: true, force: true });
});

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function activeLeader(): Promise<QuorumNode> {
  let leader: QuorumNode | undefined;
  await until('an active leader', () => (leader = [...nodes.values()].find((node) => node.isActiveLeader)) !== undefined);
  return leader as QuorumNode;
}

describe('metadata observer', () => {
  it('replays the committed log from the leader and follows a new leader', async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-observer-'));
    const endpoints = new Map<number, Endpoint>();
    for (const id of VOTERS) {
      const node = await QuorumNode.start({
        config: { nodeId: id, voters: VOTERS, electionTimeoutMs: 150, fetchTimeoutMs: 600, requestTimeoutMs: 300, fetchMaxWaitMs: 100 },
        dataDirectory: path.join(root, `node-${id}`), logger: silent,
      });
      nodes.set(id, node);
      endpoints.set(id, { host: '127.0.0.1', port: node.port });
    }
    for (const node of nodes.values()) node.setPeers(endpoints);
    const first = await activeLeader();
    for (let index = 0; index < 50; index++) await first.append([{ key: null, value: Buffer.from(`a${index}`) }]);

    const seen: { offset: bigint; value: string }[] = [];
    observer = new MetadataObserver({
      nodeId: 4, clusterId: 'test', voters: endpoints, fetchMaxWaitMs: 100, fetchMaxBytes: 4096, requestTimeoutMs: 300, logger: silent,
      onCommit: (batches) => {
        for (const batch of batches) for (const record of batch.records) seen.push({ offset: record.offset, value: record.value?.toString() ?? '' });
      },
    });
    observer.start();
    // A small fetchMaxBytes makes it take several fetches; offsets rise and values are in order.
    await until('the first 50 records', () => seen.length === 50);
    expect(seen.map((entry) => entry.value)).toEqual(Array.from({ length: 50 }, (_, index) => `a${index}`));
    for (let index = 1; index < seen.length; index++) expect(seen[index]!.offset > seen[index - 1]!.offset).toBe(true);
    expect(observer.leaderId).toBe(first.status.nodeId);
    // Never beyond the voters' high watermark.
    expect(seen[seen.length - 1]!.offset < first.status.highWatermark).toBe(true);

    // The leader dies; the observer finds the next one and keeps reading where it was.
    const firstId = first.status.nodeId;
    await first.close();
    nodes.delete(firstId);
    const second = await activeLeader();
    for (let index = 0; index < 20; index++) await second.append([{ key: null, value: Buffer.from(`b${index}`) }]);
    await until('the records of the new leader', () => seen.length === 70);
    expect(seen.slice(50).map((entry) => entry.value)).toEqual(Array.from({ length: 20 }, (_, index) => `b${index}`));
    expect(observer.leaderId).toBe(second.status.nodeId);
    expect(observer.epoch).toBe(second.status.epoch);
  });
});
