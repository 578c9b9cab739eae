// Group and transaction coordinators on a 3-node cluster move with the leadership of their
// __consumer_offsets / __transaction_state partitions (replicated, RF=3). The node that
// coordinates a Runnel consumer group and a kafkajs consumer group is SIGKILLed while both
// consume and commit: the committed offsets survive, both groups are Stable again on the new
// coordinator, nothing is lost and nothing below an acknowledged commit is delivered again.
// Then the transaction coordinator of a Runnel transactional producer is SIGKILLed during a
// loop of committed and aborted transactions, and later crashes right after a PrepareCommit:
// read_committed consumers see every committed transaction whole (the prepared one too) and
// nothing of an aborted one, and transactions keep committing afterwards.
// Last, kcat produces with acks=all through a partition leader kill and reads every line back.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Admin as KafkaAdmin, Kafka } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../core/protocol/index.ts';
import { Consumer } from '../../runtime/client/consumer.ts';
import { Producer } from '../../runtime/client/producer.ts';
import { cleanupCluster, createTopicsRetrying, eventually, kafkajsForCluster, startCluster, type TestCluster } from '../helpers/cluster.ts';
import { temporaryDirectory } from '../helpers/broker.ts';
import { kcat } from '../helpers/kcat.ts';
import { RawConnection } from '../helpers/raw-connection.ts';

const PARTITIONS = 3;
const INTERNAL_PARTITIONS = 6;
const GROUP_TOPIC = 'coordinated-input';
const RECORDS_PER_PARTITION = 600;
const TXN_TOPIC = 'coordinated-transactions';
const KCAT_TOPIC = 'coordinated-kcat';
/** The group whose offsets the transactions commit, and the offset the last one commits. */
const TXN_OFFSETS_GROUP = 'transactional-offsets';
const END_OFFSET = 100_000;
const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

let cluster: TestCluster;
let kafka: Kafka;
let admin: KafkaAdmin;
/** Creating this file arms one crash of the transaction coordinator right after a PrepareCommit. */
let crashArmedFile = '';
/** What the running test is waiting for, printed when it fails (set by tests that loop through calls). */
let progress: (() => string) | null = null;

beforeAll(async () => {
  crashArmedFile = path.join(temporaryDirectory('runnel-crash-arm-'), 'armed');
  // Every node, restarted ones too, carries the hook; it fires once, when the file is there.
  process.env['RUNNEL_TEST_CRASH_AFTER'] = 'PrepareCommit';
  process.env['RUNNEL_TEST_CRASH_ARMED_FILE'] = crashArmedFile;
  cluster = await startCluster({
    nodes: 3,
    overrides: { 'offsets.topic.num.partitions': String(INTERNAL_PARTITIONS), 'transaction.state.log.num.partitions': String(INTERNAL_PARTITIONS) },
  });
  ({ kafka, admin } = await kafkajsForCluster(cluster, 'coordinator-failover', 30));
  const configEntries = [{ name: 'min.insync.replicas', value: '2' }];
  await createTopicsRetrying(admin, [GROUP_TOPIC, TXN_TOPIC].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries })));
}, 90_000);

// A failed run shows what the nodes said about coordinators, transactions and markers.
afterEach((context) => {
  const waiting = progress?.();
  progress = null;
  if (context.task.result?.state !== 'fail') return;
  if (waiting !== undefined) console.log(`--- test ---\n${waiting}`);
  for (const node of cluster.nodes) {
    const lines = node.logText().split('\n').filter((line) => /coordinat|transaction|marker|producer id|internal topic|WARN|ERROR/i.test(line));
    console.log(`--- node ${node.nodeId} ---\n${lines.slice(-100).join('\n')}`);
  }
});

afterAll(async () => {
  delete process.env['RUNNEL_TEST_CRASH_AFTER'];
  delete process.env['RUNNEL_TEST_CRASH_ARMED_FILE'];
  await admin?.disconnect().catch(() => undefined);
  await cleanupCluster();
}, 60_000);

/** FindCoordinator asked of one live node; undefined while the answer is an error. */
async function coordinatorOf(key: string, keyType: number): Promise<number | undefined> {
  const node = cluster.nodes.find((candidate) => cluster.isRunning(candidate.nodeId));
  if (node === undefined) throw new Error('no live node');
  const connection = await RawConnection.connect(node.port);
  try {
    const { body } = await connection.request(ApiKey.FindCoordinator, 1, { key, keyType });
    return body.errorCode === 0 ? body.nodeId as number : undefined;
  } finally {
    connection.destroy();
  }
}

/** Every node registered and unfenced, so an internal topic created next gets all three replicas. */
async function allLive(): Promise<void> {
  await eventually('three live brokers', async () => ((await admin.describeCluster()).brokers.length === 3 ? true : undefined), 30_000);
}

function liveBootstrap(): string[] {
  return cluster.nodes.filter((node) => cluster.isRunning(node.nodeId)).map((node) => `127.0.0.1:${node.port}`);
}

interface Delivery { partition: number; offset: number; atMs: number }

/** One group's view: what it was handed and the offsets the coordinator acknowledged. */
interface GroupRun {
  deliveries: Delivery[];
  committed: number[];
  commitFailures: number;
  stop: () => Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Runnel consumer in `groupId` that processes slowly and commits its progress after every poll until a commit is acknowledged. */
function runRunnelGroup(groupId: string): GroupRun {
  const run: GroupRun = { deliveries: [], committed: Array.from({ length: PARTITIONS }, () => 0), commitFailures: 0, stop: async () => {} };
  const consumer = new Consumer({
    bootstrapServers: cluster.bootstrap, groupId, autoCommit: false, autoOffsetReset: 'earliest', sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500, maxPollRecords: 20, fetchMaxWaitMs: 200, requestTimeoutMs: 4000, retries: 30,
  });
  let running = true;
  const loop = (async () => {
    consumer.subscribe({ topics: [GROUP_TOPIC], fromBeginning: true });
    // Everything processed so far, committed again until the coordinator acknowledges it.
    const processed = new Map<number, number>();
    let uncommitted = false;
    while (running) {
      let records;
      try {
        records = await consumer.poll({ timeoutMs: 200 });
      } catch {
        await pause(100);
        continue;
      }
      for (const record of records) {
        run.deliveries.push({ partition: record.partition, offset: Number(record.offset), atMs: Date.now() });
        processed.set(record.partition, Number(record.offset) + 1);
        uncommitted = true;
      }
      if (!uncommitted) continue;
      await pause(records.length * 3);
      const owned = new Set(consumer.assignment().map((entry) => entry.partition));
      const offsets = [...processed].filter(([partition]) => owned.has(partition)).map(([partition, offset]) => ({ topic: GROUP_TOPIC, partition, offset: BigInt(offset) }));
      try {
        await consumer.commit(offsets);
        for (const { partition, offset } of offsets) run.committed[partition] = Math.max(run.committed[partition]!, Number(offset));
        uncommitted = false;
      } catch {
        run.commitFailures += 1;
      }
    }
  })();
  run.stop = async () => { running = false; await loop; await consumer.close(); };
  return run;
}

/** The same with a kafkajs consumer: manual commits every 20 records of a batch. */
async function runKafkajsGroup(groupId: string): Promise<GroupRun> {
  const run: GroupRun = { deliveries: [], committed: Array.from({ length: PARTITIONS }, () => 0), commitFailures: 0, stop: async () => {} };
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
  await consumer.connect();
  await consumer.subscribe({ topic: GROUP_TOPIC, fromBeginning: true });
  const commit = async (partition: number, offset: number): Promise<void> => {
    try {
      await consumer.commitOffsets([{ topic: GROUP_TOPIC, partition, offset: String(offset) }]);
      run.committed[partition] = Math.max(run.committed[partition]!, offset);
    } catch (error) {
      run.commitFailures += 1;
      throw error;
    }
  };
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      let sinceCommit = 0;
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        run.deliveries.push({ partition: batch.partition, offset: Number(message.offset), atMs: Date.now() });
        await pause(3);
        resolveOffset(message.offset);
        sinceCommit += 1;
        if (sinceCommit === 20) {
          await commit(batch.partition, Number(message.offset) + 1);
          sinceCommit = 0;
          await heartbeat();
        }
      }
      const last = run.deliveries.filter((d) => d.partition === batch.partition).at(-1);
      if (sinceCommit > 0 && last !== undefined) await commit(batch.partition, last.offset + 1);
    },
  });
  run.stop = async () => { await consumer.disconnect(); };
  return run;
}

function distinctPerPartition(run: GroupRun): number[] {
  const seen = Array.from({ length: PARTITIONS }, () => new Set<number>());
  for (const { partition, offset } of run.deliveries) seen[partition]!.add(offset);
  return seen.map((set) => set.size);
}

describe('coordinators that move with their partitions', () => {
  it('keeps two groups\' committed offsets through a SIGKILL of their coordinator; both are Stable on the new one', async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let partition = 0; partition < PARTITIONS; partition++) {
      for (let start = 0; start < RECORDS_PER_PARTITION; start += 100) {
        const messages = Array.from({ length: 100 }, (_, index) => ({ partition, value: `${partition}:${start + index}` }));
        await producer.send({ topic: GROUP_TOPIC, acks: -1, messages });
      }
    }
    await producer.disconnect();

    // The first FindCoordinator creates __consumer_offsets through the controller.
    const runnelGroup = 'runnel-coordinated';
    const victim = await eventually('a coordinator for the Runnel group', () => coordinatorOf(runnelGroup, KEY_TYPE_GROUP), 30_000);
    // A kafkajs group stored in a partition the same node leads, so one kill hits both.
    let kafkajsGroup = '';
    for (let index = 0; kafkajsGroup === ''; index++) {
      if (index > 200) throw new Error(`no group id found that node ${victim} coordinates`);
      const candidate = `kafkajs-coordinated-${index}`;
      if (await eventually(`a coordinator for ${candidate}`, () => coordinatorOf(candidate, KEY_TYPE_GROUP)) === victim) kafkajsGroup = candidate;
    }
    const runs = [runRunnelGroup(runnelGroup), await runKafkajsGroup(kafkajsGroup)];
    const total = PARTITIONS * RECORDS_PER_PARTITION;
    try {
      await eventually('both groups a third of the way through with commits', () => (
        runs.every((run) => distinctPerPartition(run).reduce((a, b) => a + b, 0) >= total / 3 && run.committed.some((offset) => offset > 0)) ? true : undefined
      ), 90_000);
      // Nothing moved leadership since: the victim still coordinates both groups.
      expect(await coordinatorOf(runnelGroup, KEY_TYPE_GROUP)).toBe(victim);
      expect(await coordinatorOf(kafkajsGroup, KEY_TYPE_GROUP)).toBe(victim);
      const committedAtKill = runs.map((run) => [...run.committed]);
      const killedAtMs = Date.now();
      await cluster.kill(victim);

      for (const [index, groupId] of [runnelGroup, kafkajsGroup].entries()) {
        const successor = await eventually(`a new coordinator for ${groupId}`, async () => {
          const found = await coordinatorOf(groupId, KEY_TYPE_GROUP);
          return found !== undefined && found !== victim ? found : undefined;
        }, 30_000);
        expect(successor).not.toBe(victim);
        // The acknowledged commits are there on the new coordinator (they only grow afterwards).
        const fetched = await eventually(`committed offsets of ${groupId} from the new coordinator`, async () => {
          const answer = await admin.fetchOffsets({ groupId, topics: [GROUP_TOPIC] });
          return answer[0]?.partitions;
        }, 30_000);
        // -1 is "no commit", as for a partition with nothing acknowledged before the kill.
        for (const { partition, offset } of fetched) expect(Math.max(0, Number(offset))).toBeGreaterThanOrEqual(committedAtKill[index]![partition]!);
      }

      await eventually('every record consumed by both groups', () => (
        runs.every((run) => distinctPerPartition(run).every((count) => count === RECORDS_PER_PARTITION)) ? true : undefined
      ), 200_000).catch((error: Error) => {
        throw new Error(`${error.message}: distinct records per partition ${runs.map((run) => distinctPerPartition(run).join('/')).join(' and ')}, failed commits ${runs.map((run) => run.commitFailures).join(' and ')}`);
      });
      // The last commits cover everything.
      for (const groupId of [runnelGroup, kafkajsGroup]) {
        await eventually(`${groupId} committed to the end`, async () => {
          const final = await admin.fetchOffsets({ groupId, topics: [GROUP_TOPIC] });
          return final[0]?.partitions.every((p) => Number(p.offset) === RECORDS_PER_PARTITION) ? true : undefined;
        }, 30_000);
      }
      for (const [index, run] of runs.entries()) {
        // At least once: after the kill, nothing below an acknowledged commit comes again.
        const redelivered = run.deliveries.filter((d) => d.atMs > killedAtMs && d.offset < committedAtKill[index]![d.partition]!);
        expect(redelivered, `group ${index} got records below its committed offsets again`).toEqual([]);
      }
      // Both groups re-formed on the new coordinator, stable with their one member.
      await eventually('both groups stable on their new coordinator', async () => {
        const described = await admin.describeGroups([runnelGroup, kafkajsGroup]);
        return described.groups.every((group) => group.state === 'Stable' && group.members.length === 1) ? true : undefined;
      }, 30_000);
      console.log(`coordinator-failover: killed coordinator node ${victim}; commits acknowledged before the kill ${committedAtKill.map((c) => c.join('/')).join(' and ')}; failed commits ${runs.map((run) => run.commitFailures).join(' and ')}; deliveries ${runs.map((run) => run.deliveries.length).join(' and ')} for ${total} records`);
    } finally {
      for (const run of runs) await run.stop().catch(() => undefined);
      // The next tests need all three nodes (and a quorum) again.
      if (!cluster.isRunning(victim)) await cluster.restart(victim);
    }
    // Members that leave keep the group's commits.
    for (const groupId of [runnelGroup, kafkajsGroup]) {
      const final = await admin.fetchOffsets({ groupId, topics: [GROUP_TOPIC] });
      expect(final[0]?.partitions.map((p) => Number(p.offset)).sort()).toEqual(Array.from({ length: PARTITIONS }, () => RECORDS_PER_PARTITION));
    }
  }, 420_000);

  it('completes every acknowledged transaction and aborts the rest through SIGKILLs of the transaction coordinator', async () => {
    const transactionalId = 'runnel-coordinated-transactions';
    // The first FindCoordinator creates __transaction_state with RF min(3, live brokers).
    await allLive();
    const outcomes = new Map<number, 'committed' | 'aborted' | 'unknown'>();
    const newProducer = () => new Producer({
      bootstrapServers: liveBootstrap(), 'transactional.id': transactionalId, lingerMs: 1, requestTimeoutMs: 4000, retries: 30, retryBackoffMs: 100,
    });
    let producer = newProducer();
    let producers = 1;
    let index = 0;
    // A failure (a hang the test timeout ends too) says which call waits since when, and what
    // the last failed transactions heard (a client error names the code it kept getting).
    const testStart = Date.now();
    let step = 'starting';
    let stepSince = testStart;
    const failures: string[] = [];
    const at = (what: string) => { step = `transaction ${index} ${what}`; stepSince = Date.now(); };
    progress = () => `waiting for: ${step} (since ${new Date(stepSince).toISOString()}, ${Date.now() - stepSince} ms); ${producers} producer(s); last failures:\n${failures.slice(-5).join('\n') || '(none)'}`;
    // A run stuck past this gives up with the above before the test timeout, so the finally
    // blocks still restart the killed nodes and the later tests do not fail for want of them.
    const giveUpAt = testStart + 340_000;
    let abandoned = false;
    /** Runs transactions (every fourth aborted) until `commits` more have committed; `atStart` runs as the first one begins. */
    const runTransactions = async (commits: number, atStart: () => void = () => {}): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`transactions stuck; ${progress?.()}`)), Math.max(0, giveUpAt - Date.now()));
      });
      const running = transactions(commits, atStart);
      running.catch(() => undefined);
      try {
        await Promise.race([running, stuck]);
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          abandoned = true;
          await producer.close().catch(() => undefined);
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    };
    const transactions = async (commits: number, atStart: () => void): Promise<void> => {
      let committed = 0;
      for (const first = index; committed < commits; index++) {
        if (index - first > 200) throw new Error(`only ${committed} transactions committed in ${index - first}`);
        if (abandoned) return;
        if (index === first) atStart();
        const commit = index % 4 !== 3;
        try {
          at('begin');
          await producer.beginTransaction();
          for (let partition = 0; partition < PARTITIONS; partition++) {
            at(`send to partition ${partition}`);
            await producer.send({ topic: TXN_TOPIC, messages: [{ partition, value: `t${index}-p${partition}` }] });
          }
          // Offsets ride along, so markers reach __consumer_offsets partitions too.
          at('sendOffsetsToTransaction');
          await producer.sendOffsetsToTransaction([{ topic: GROUP_TOPIC, partition: 0, offset: BigInt(index + 1) }], TXN_OFFSETS_GROUP);
          at(commit ? 'commit' : 'abort');
          if (commit) await producer.commitTransaction();
          else await producer.abortTransaction();
          outcomes.set(index, commit ? 'committed' : 'aborted');
          if (commit) committed += 1;
        } catch (error) {
          // The outcome is for the coordinator to decide; a new producer with the same id
          // fences this one and completes or aborts whatever it left behind.
          failures.push(`${new Date().toISOString()} ${step}: ${error instanceof Error ? error.message : String(error)}`);
          outcomes.set(index, 'unknown');
          await producer.close().catch(() => undefined);
          if (abandoned) return;
          producer = newProducer();
          producers += 1;
        }
      }
    };

    await runTransactions(12);
    // A SIGKILL from outside, while a transaction's records are on their way.
    const victim = await eventually('a transaction coordinator', () => coordinatorOf(transactionalId, KEY_TYPE_TRANSACTION), 30_000);
    const killedAt = index;
    try {
      await runTransactions(10, () => { void pause(5).then(() => cluster.kill(victim)); });
    } finally {
      await pause(10);
      if (!cluster.isRunning(victim)) await cluster.restart(victim);
    }
    // The coordinator dies right after PrepareCommit is stored, before any marker: the next
    // one must load the prepared transaction and commit it, whatever its producer heard.
    await allLive();
    const crashVictim = await eventually('a transaction coordinator', () => coordinatorOf(transactionalId, KEY_TYPE_TRANSACTION), 30_000);
    // Aborts do not trip the hook, so the crash comes with the first commit from here.
    const crashedAt = index % 4 === 3 ? index + 1 : index;
    await runTransactions(1, () => writeFileSync(crashArmedFile, ''));
    await eventually('the armed coordinator crashed', () => (cluster.isRunning(crashVictim) ? undefined : true), 30_000);
    expect(existsSync(crashArmedFile), 'the armed crash did not happen').toBe(false);
    try {
      await runTransactions(5);
    } finally {
      await cluster.restart(crashVictim);
    }
    // A last committed transaction marks the end for the reader.
    at('(the end transaction)');
    await producer.transaction(async (transaction) => {
      for (let partition = 0; partition < PARTITIONS; partition++) await transaction.send({ topic: TXN_TOPIC, messages: [{ partition, value: `end-p${partition}` }] });
      await transaction.sendOffsets([{ topic: GROUP_TOPIC, partition: 0, offset: BigInt(END_OFFSET) }], TXN_OFFSETS_GROUP);
    });
    await producer.close();
    // The offsets committed with the last transaction are the group's.
    const groupOffsets = await eventually('the transaction\'s committed offsets', async () => (await admin.fetchOffsets({ groupId: TXN_OFFSETS_GROUP, topics: [GROUP_TOPIC] }))[0]?.partitions, 30_000);
    expect(groupOffsets.find((p) => p.partition === 0)?.offset).toBe(String(END_OFFSET));

    at('(reading back read_committed)');
    const consumer = new Consumer({ bootstrapServers: liveBootstrap(), isolationLevel: 'read_committed', requestTimeoutMs: 4000, retries: 30 });
    consumer.assign(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: TXN_TOPIC, partition, offset: 0n })));
    const seen: string[] = [];
    const deadline = Date.now() + 60_000;
    while (seen.filter((value) => value.startsWith('end-')).length < PARTITIONS) {
      if (Date.now() > deadline) throw new Error(`read_committed did not reach the end marker records; read ${seen.length}`);
      for (const record of await consumer.poll({ timeoutMs: 200 })) seen.push(record.value?.toString() ?? '');
    }
    await consumer.close();
    expect(new Set(seen).size, 'a record was read twice').toBe(seen.length);

    const visible = new Map<number, string[]>();
    for (const value of seen.filter((each) => !each.startsWith('end-'))) {
      const transaction = Number(/^t(\d+)-p\d+$/.exec(value)?.[1]);
      visible.set(transaction, [...(visible.get(transaction) ?? []), value]);
    }
    const whole = (transaction: number) => Array.from({ length: PARTITIONS }, (_, partition) => `t${transaction}-p${partition}`);
    for (const [transaction, outcome] of outcomes) {
      const records = (visible.get(transaction) ?? []).sort();
      if (outcome === 'committed') expect(records, `committed transaction ${transaction}`).toEqual(whole(transaction));
      if (outcome === 'aborted') expect(records, `aborted transaction ${transaction}`).toEqual([]);
      // A transaction whose end the producer never heard is all or nothing.
      if (outcome === 'unknown') expect([0, PARTITIONS], `transaction ${transaction} is partly visible`).toContain(records.length);
    }
    // Its PrepareCommit was stored before the crash, so it committed.
    expect((visible.get(crashedAt) ?? []).sort(), `transaction ${crashedAt}, prepared when its coordinator crashed`).toEqual(whole(crashedAt));
    const count = (kind: string) => [...outcomes.values()].filter((outcome) => outcome === kind).length;
    console.log(`coordinator-failover: transaction coordinator node ${victim} killed at transaction ${killedAt}, node ${crashVictim} crashed after PrepareCommit of transaction ${crashedAt} (producer heard: ${outcomes.get(crashedAt)}); ${outcomes.size} transactions, ${count('committed')} committed, ${count('aborted')} aborted, ${count('unknown')} unknown, ${producers} producer(s)`);
  }, 400_000);

  it('lists the internal topics as internal, replicated three times, and refuses to delete them', async () => {
    await allLive();
    const node = cluster.nodes.find((candidate) => cluster.isRunning(candidate.nodeId))!;
    const connection = await RawConnection.connect(node.port);
    try {
      const { body } = await connection.request(ApiKey.Metadata, 1, { topics: [{ name: '__consumer_offsets' }, { name: '__transaction_state' }] });
      for (const topic of body.topics as { name: string; isInternal: boolean; partitions: { replicaNodes: number[] }[] }[]) {
        expect(topic.isInternal, topic.name).toBe(true);
        expect(topic.partitions).toHaveLength(INTERNAL_PARTITIONS);
        for (const partition of topic.partitions) expect([...partition.replicaNodes].sort()).toEqual([1, 2, 3]);
      }
    } finally {
      connection.destroy();
    }
    await expect(admin.deleteTopics({ topics: ['__consumer_offsets'], timeout: 5000 })).rejects.toThrow();
    expect((await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })).topics[0]?.partitions).toHaveLength(INTERNAL_PARTITIONS);
  }, 60_000);

  it('kcat produces with acks=all through a partition leader SIGKILL and reads every line back', async () => {
    await allLive();
    await admin.createTopics({ topics: [{ topic: KCAT_TOPIC, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
    const leader = await eventually('a leader with a full ISR', async () => {
      const partition = (await admin.fetchTopicMetadata({ topics: [KCAT_TOPIC] })).topics[0]?.partitions[0];
      return partition !== undefined && partition.leader >= 0 && partition.isr.length === 3 ? partition.leader : undefined;
    }, 30_000);
    const lines = Array.from({ length: 400 }, (_, index) => `kcat-line-${index}`);
    const child = spawn('kcat', ['-b', cluster.bootstrap.join(','), '-t', KCAT_TOPIC, '-P', '-X', 'acks=all', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5', '-X', 'message.timeout.ms=60000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (const [index, line] of lines.entries()) {
      child.stdin.write(`${line}\n`);
      if (index === 200) await cluster.kill(leader);
      if (index % 20 === 0) await pause(20);
    }
    child.stdin.end();
    expect(await exited, stderr).toBe(0);
    const consumed = await kcat(['-b', liveBootstrap().join(','), '-t', KCAT_TOPIC, '-C', '-o', 'beginning', '-e', '-f', '%s\n'], '', 60_000);
    expect(consumed.code, consumed.stderr).toBe(0);
    // Idempotence keeps retried batches from landing twice.
    expect(consumed.stdout.trim().split('\n')).toEqual(lines);
  }, 180_000);
});
