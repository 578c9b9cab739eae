// Partition reassignment on a real cluster: three combined nodes, a fourth started later as a
// broker only. It registers and gets no partitions; `runnel topics reassign` then moves an RF=3
// partition off its leader onto it while a kafkajs idempotent producer sends with acks=all.
// Every acknowledged record must survive, the new replica must hold the same records at the
// same offsets as the others, the removed replica must drop the partition, and metadata must
// show the new assignment. A second partition's move to a paused broker stays in progress, is
// listed by kafkajs and the CLI, and is cancelled back to its original replicas; a third's
// --wait gives up at --timeout naming it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Admin as KafkaAdmin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../runtime/cli/command.ts';
import { topicsCommand } from '../../runtime/cli/topics-command.ts';
import { Admin } from '../../runtime/client/admin.ts';
import { runnel } from '../helpers/cli.ts';
import { cleanupCluster, createTopicsRetrying, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { expectEachOnceInOrder, ledPartition, NumberedProducer, readBack, readReplica } from '../helpers/replicas.ts';

const MOVED = 'moved';
const CANCELLED = 'cancelled';
const SPREAD = 'spread';
let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  ({ kafka, admin } = await kafkajsForCluster(cluster, 'reassignment', 30));
  await createTopicsRetrying(admin, [{ topic: MOVED, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }]);
  // Placed on brokers 1-3 before broker 4 exists: two replicas on each.
  await createTopicsRetrying(admin, [{ topic: SPREAD, numPartitions: 3, replicationFactor: 2 }]);
});

afterAll(async () => {
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
});

const partitionOf = (topic: string) => ledPartition(admin, topic, 0);

/**
 * Creates a one-partition topic with two replicas once all four brokers are live, waits for its
 * full ISR, and names a broker that holds no replica of it.
 */
async function twoReplicaTopic(topic: string): Promise<{ original: Awaited<ReturnType<typeof partitionOf>>; outsider: number }> {
  await eventually('four live brokers', async () => ((await admin.describeCluster()).brokers.length === 4 ? true : undefined), 30_000);
  await createTopicsRetrying(admin, [{ topic, numPartitions: 1, replicationFactor: 2 }]);
  const original = await eventually('a full ISR', async () => {
    const partition = await partitionOf(topic);
    return partition.isr.length === 2 ? partition : undefined;
  });
  return { original, outsider: [4, 3, 2, 1].find((id) => !original.replicas.includes(id)) as number };
}

const sorted = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);
const reassign = (...args: string[]) => runnel(['topics', 'reassign', '--bootstrap-server', cluster.bootstrap.join(','), ...args]);

describe('partition reassignment onto a newly added broker', () => {
  it('lets a broker join the running cluster, registered but with no partitions', async () => {
    const node = await cluster.addBroker(4);
    expect(node.controllerPort).toBe(-1);
    await eventually('four live brokers', async () => ((await admin.describeCluster()).brokers.length === 4 ? true : undefined), 30_000);
    const topics = await admin.fetchTopicMetadata();
    expect(topics.topics.map((topic) => topic.name)).toContain(MOVED);
    for (const topic of topics.topics) for (const partition of topic.partitions) expect(partition.replicas).not.toContain(4);
    expect(existsSync(path.join(node.dataDirectory, `${MOVED}-0`))).toBe(false);
  });

  it('lists a move in progress (kafkajs and the CLI) and cancels it back to the original replicas', async () => {
    const { original, outsider } = await twoReplicaTopic(CANCELLED);
    const kept = original.replicas[0] as number;
    // A paused broker cannot catch up, so the move stays in progress. It is started at once
    // from a connected client, before the controller fences the paused broker (which refuses
    // a move onto a fenced broker); the CLI starts a process and may take longer than that.
    const runnelAdmin = new Admin({ bootstrapServers: cluster.bootstrap.join(','), clientId: 'reassignment-test' });
    await runnelAdmin.connect();
    cluster.pause(outsider);
    try {
      await runnelAdmin.alterPartitionReassignments([{ topic: CANCELLED, partition: 0, replicas: [kept, outsider] }]);
      expect(await runnelAdmin.listPartitionReassignments()).toEqual([{
        topic: CANCELLED, partition: 0, replicas: [kept, outsider, ...original.replicas.filter((r) => r !== kept)],
        addingReplicas: [outsider], removingReplicas: original.replicas.filter((r) => r !== kept),
      }]);
      // kafkajs 2.2 returns the decoded response: name and partition, not its typings' topic and partitionIndex.
      // kafkajs may pick the paused broker for its metadata request; a timeout there is retried.
      const listed = await eventually('kafkajs lists the move', () => admin.listPartitionReassignments({ topics: [{ topic: CANCELLED, partitions: [0] }] }));
      expect(listed.topics as unknown).toEqual([{
        name: CANCELLED,
        partitions: [{ partition: 0, replicas: [kept, outsider, ...original.replicas.filter((r) => r !== kept)], addingReplicas: [outsider], removingReplicas: original.replicas.filter((r) => r !== kept) }],
      }]);
      const cliList = await reassign('--list');
      expect(cliList.code).toBe(0);
      expect(cliList.stdout).toContain(`Topic: ${CANCELLED}\tPartition: 0\tReplicas: ${[kept, outsider, ...original.replicas.filter((r) => r !== kept)].join(',')}\tAdding: ${outsider}`);
      const cancelled = await reassign('--topic', CANCELLED, '--partition', '0', '--cancel');
      expect(cancelled.code).toBe(0);
      expect(await runnelAdmin.listPartitionReassignments()).toEqual([]);
      const again = await reassign('--topic', CANCELLED, '--partition', '0', '--cancel');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/NO_REASSIGNMENT_IN_PROGRESS|not being reassigned/);
    } finally {
      cluster.resume(outsider);
      await runnelAdmin.close();
    }
    const restored = await partitionOf(CANCELLED);
    expect(restored.replicas).toEqual(original.replicas);
    expect(restored.replicas).not.toContain(outsider);
  });

  it('stops waiting at --timeout and names the partitions still moving, which keep moving', async () => {
    const topic = 'stalled';
    const { original, outsider } = await twoReplicaTopic(topic);
    const target = [original.replicas[0] as number, outsider];
    const runnelAdmin = new Admin({ bootstrapServers: cluster.bootstrap.join(','), clientId: 'reassignment-timeout' });
    await runnelAdmin.connect();
    // The paused broker cannot catch up. The command runs in this process, so its move goes
    // out before the controller fences the paused broker (a move onto a fenced one is refused).
    cluster.pause(outsider);
    try {
      const waiting = topicsCommand.run(['reassign', '--bootstrap-server', cluster.bootstrap.join(','), '--topic', topic, '--partition', '0', '--replicas', target.join(','), '--wait', '--timeout', 'PT2S']);
      await expect(waiting).rejects.toThrow(new RegExp(`^1 partition\\(s\\) still moving after PT2S:\n  ${topic}-0: replicas [\\d,]+, adding ${outsider}, removing [\\d,]+\n.*--list`));
      // Giving up the wait cancels nothing.
      expect((await runnelAdmin.listPartitionReassignments()).map((entry) => [entry.topic, entry.addingReplicas])).toEqual([[topic, [outsider]]]);
      await runnelAdmin.alterPartitionReassignments([{ topic, partition: 0, replicas: null }]);
    } finally {
      cluster.resume(outsider);
      await runnelAdmin.close();
    }
  });

  it('carries a move on through a failover of the active controller', async () => {
    const topic = 'controller-failover';
    // The broker paused by the test before is back and unfenced.
    const { original, outsider } = await twoReplicaTopic(topic);
    const target = [...original.replicas, outsider];
    const runnelAdmin = new Admin({ bootstrapServers: cluster.bootstrap.join(','), clientId: 'reassignment-failover' });
    await runnelAdmin.connect();
    const controller = (await admin.describeCluster()).controller as number;
    expect([1, 2, 3]).toContain(controller);
    cluster.pause(outsider);
    try {
      await runnelAdmin.alterPartitionReassignments([{ topic, partition: 0, replicas: target }]);
      expect((await runnelAdmin.listPartitionReassignments()).map((entry) => entry.addingReplicas)).toEqual([[outsider]]);
      await cluster.kill(controller);
    } finally {
      cluster.resume(outsider);
      await runnelAdmin.close();
    }
    // A new controller, from the metadata log alone, completes the move once the target is in sync.
    await eventually('another active controller', async () => {
      const now = (await admin.describeCluster()).controller;
      return now !== null && now !== controller && now >= 0 ? true : undefined;
    }, 30_000);
    await cluster.restart(controller);
    const moved = await eventually('the move complete', async () => {
      const partition = await partitionOf(topic);
      return partition.isr.length === 3 ? partition : undefined;
    }, 45_000);
    expect(sorted(moved.replicas)).toEqual(sorted(target));
    await eventually('no move in progress', async () => ((await admin.listPartitionReassignments({})).topics.length === 0 ? true : undefined), 30_000);
    await eventually('four live brokers', async () => ((await admin.describeCluster()).brokers.length === 4 ? true : undefined), 30_000);
  });

  it('refuses bad reassign arguments with a hint and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [[], /exactly one of --replicas, --cancel, --list or --rebalance-onto/],
      [['--topic', MOVED, '--partition', '0', '--replicas', '1,x'], /not a comma-separated list of broker ids/],
      [['--topic', MOVED, '--partition', '0', '--replicas', '1,1'], /names a broker twice/],
      [['--topic', MOVED, '--replicas', '1,2'], /--partition is required/],
      [['--list', '--partition', '0'], /--partition applies to --replicas and --cancel only/],
      [['--rebalance-onto', 'four'], /--rebalance-onto four is not a whole number/],
      [['--rebalance-onto', '4,4'], /--rebalance-onto 4,4 names a broker twice/],
      [['--rebalance-onto', '4', '--timeout', 'PT1M'], /--timeout applies to --wait only/],
      [['--rebalance-onto', '4', '--wait', '--timeout', 'soon'], /--timeout 'soon' is not a positive ISO-8601 duration/],
    ];
    // Refused before anything is sent, so the command in this process shows them (fast on a
    // busy machine); one goes through the real command line for the exit code and the hint.
    for (const [args, message] of cases) {
      const refusal = await refused(['reassign', '--bootstrap-server', cluster.bootstrap.join(','), ...args]);
      expect(refusal.message, args.join(' ')).toMatch(message);
      expect(refusal.hint).not.toBe('');
    }
    const run = await reassign('--replicas', '1,x', '--topic', MOVED, '--partition', '0');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not a comma-separated list of broker ids\nhint: write it like --replicas 1,2,4/);
    // A rebalance plan onto broker 4 moves replicas from the busiest brokers, nothing else.
    const plan = await reassign('--rebalance-onto', '4', '--dry-run');
    expect(plan.code).toBe(0);
    const lines = plan.stdout.trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^(Would move \S+: [\d,]+ -> [\d,]*4[\d,]*|Broker 4 already has its share)/);
    // A broker that is not registered: the controller refuses, the CLI reports it.
    const unknown = await reassign('--topic', MOVED, '--partition', '0', '--replicas', '1,9');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/broker 9 is not registered/);
  });
  it('gives the new broker its share of a topic\'s replicas with --rebalance-onto, leaders staying', async () => {
    await eventually('four live brokers', async () => ((await admin.describeCluster()).brokers.length === 4 ? true : undefined), 30_000);
    const describe = async () => (await admin.fetchTopicMetadata({ topics: [SPREAD] })).topics[0]!.partitions.sort((a, b) => a.partitionId - b.partitionId);
    const before = await describe();
    expect(before.flatMap((partition) => partition.replicas)).not.toContain(4);
    const run = await reassign('--rebalance-onto', '4', '--topic', SPREAD, '--wait');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // Six replicas over four brokers: broker 4 gets one, from one of the brokers that had two.
    expect(run.stdout.match(/^Moving /gm)).toHaveLength(1);
    expect(run.stdout).toContain('Reassignment complete.');
    const after = await eventually('the move in metadata', async () => {
      const now = await describe();
      // A broker's metadata may lag the controller's a moment: wait for the finished move.
      const replicas = now.flatMap((partition) => partition.replicas);
      return replicas.includes(4) && replicas.length === 6 ? now : undefined;
    });
    const load = new Map<number, number>();
    for (const partition of after) for (const replica of partition.replicas) load.set(replica, (load.get(replica) ?? 0) + 1);
    expect(load.get(4)).toBe(1);
    expect(after.map((partition) => partition.leader)).toEqual(before.map((partition) => partition.leader));
  });

  it('moves a partition off its leader onto the new broker while acks=all production goes on', async () => {
    const before = await eventually('a full ISR', async () => {
      const partition = await partitionOf(MOVED);
      return partition.isr.length === 3 ? partition : undefined;
    });
    expect(sorted(before.replicas)).toEqual([1, 2, 3]);

    // Batches of 5 one after another until told to stop.
    const producer = new NumberedProducer(kafka, MOVED);
    const acknowledged = producer.acknowledged[0]!;
    const production = producer.keepSending();
    await eventually('records before the new broker', () => (acknowledged.length >= 500 ? true : undefined), 30_000);

    await eventually('four live brokers', async () => ((await admin.describeCluster()).brokers.length === 4 ? true : undefined), 30_000);

    // Move the partition off its leader, onto broker 4, and wait for the move to finish.
    const target = [...before.replicas.filter((replica) => replica !== before.leader), 4];
    const moved = await reassign('--topic', MOVED, '--partition', '0', '--replicas', target.join(','), '--wait');
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain(`Reassigning ${MOVED}-0 to ${target.join(',')}`);
    expect(moved.stdout).toContain('Reassignment complete.');

    const after = await eventually('the new assignment in metadata', async () => {
      const partition = await partitionOf(MOVED);
      return sorted(partition.replicas).join() === sorted(target).join() && partition.isr.length === 3 ? partition : undefined;
    }, 30_000);
    expect(target).toContain(after.leader);
    expect(after.isr).toContain(4);
    expect((await admin.listPartitionReassignments({ topics: [{ topic: MOVED, partitions: [0] }] })).topics).toEqual([]);
    // The removed replica drops the partition and its log.
    await eventually('the removed replica gone from disk', () => (existsSync(path.join(cluster.node(before.leader).dataDirectory, `${MOVED}-0`)) ? undefined : true));

    // Production continued through the move.
    const atMove = acknowledged.length;
    await eventually('records after the move', () => (acknowledged.length >= atMove + 200 ? true : undefined), 30_000);
    await production.stop();

    // Every acknowledged record is there exactly once, in order.
    const lastAcknowledged = acknowledged.at(-1);
    const [seen] = await readBack(kafka, MOVED, [lastAcknowledged]);
    expectEachOnceInOrder(seen!, acknowledged);

    // Once every replica caught up, the new replica holds the same records at the same offsets.
    const leaderEnd = await eventually('a stable high watermark', async () => {
      const offsets = await admin.fetchTopicOffsets(MOVED);
      return offsets[0]?.high;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // The logs are read from the files of stopped nodes; this is the last test.
    for (const node of cluster.nodes) await cluster.kill(node.nodeId);
    const logs = target.map((replica) => readReplica(cluster.node(replica).dataDirectory, MOVED, 0));
    for (const log of logs) {
      expect(log.length).toBeGreaterThanOrEqual(Number(leaderEnd));
      expect(log).toContain(lastAcknowledged);
      expect(log).toEqual(logs[0]);
    }
    expect(existsSync(path.join(cluster.node(before.leader).dataDirectory, `${MOVED}-0`))).toBe(false);
  });

});

/** The CliError a topics command refuses its arguments with (main turns it into exit code 2). */
async function refused(argv: string[]): Promise<CliError> {
  try {
    await topicsCommand.run(argv);
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error(`topics ${argv.join(' ')} was accepted`);
}
