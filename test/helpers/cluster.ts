// Starts a real cluster for integration tests: one `runnel cluster node` process per node
// (broker and controller combined), on loopback ports chosen at run time, with temporary data
// directories. A node can be SIGKILLed, SIGSTOPped and restarted on the same ports and data.
// Every process is killed and every directory removed by cleanupCluster().
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel, type Admin as KafkaAdmin } from 'kafkajs';
import { freePorts } from '../../runtime/cli/cluster-command.ts';
import { cleanup as cleanupBrokers, PROCESS_START_DEADLINE_MS, REPOSITORY_ROOT, temporaryDirectory } from './broker.ts';

const CLI = path.join(REPOSITORY_ROOT, 'runtime/cli/main.ts');
const running = new Set<ChildProcess>();

/** Fast failure detection for tests; each can be overridden. */
export const TEST_CLUSTER_OVERRIDES: Record<string, string> = {
  'group.initial.rebalance.delay.ms': '0',
  'broker.session.timeout.ms': '2000',
  'broker.heartbeat.interval.ms': '250',
  'replica.lag.time.max.ms': '2000',
  'replica.fetch.wait.max.ms': '200',
  'controller.quorum.election.timeout.ms': '500',
  'controller.quorum.fetch.timeout.ms': '1500',
};

export interface ClusterNodeProcess {
  nodeId: number;
  port: number;
  controllerPort: number;
  dataDirectory: string;
  process: ChildProcess | null;
  logText(): string;
}

export interface TestCluster {
  nodes: ClusterNodeProcess[];
  /** host:port of every node's broker listener. */
  bootstrap: string[];
  node(nodeId: number): ClusterNodeProcess;
  kill(nodeId: number): Promise<void>;
  /** SIGTERM: a controlled shutdown; resolves with the exit code. */
  stop(nodeId: number): Promise<number | null>;
  pause(nodeId: number): void;
  resume(nodeId: number): void;
  restart(nodeId: number): Promise<void>;
  isRunning(nodeId: number): boolean;
  /** Starts a broker-only node (not a voter) that joins the running cluster. */
  addBroker(nodeId: number): Promise<ClusterNodeProcess>;
}

/**
 * `nodeArguments` go to node itself before the script, e.g. --cpu-prof (not allowed in NODE_OPTIONS).
 * `roles` gives a node `--roles` (broker, controller or broker,controller; default both): every
 * node is a voter here, so a broker-only node comes from addBroker. `bootstrap` lists broker nodes.
 */
export async function startCluster(options: { nodes?: number; overrides?: Record<string, string>; nodeArguments?: string[]; roles?: Record<number, string> } = {}): Promise<TestCluster> {
  const count = options.nodes ?? 3;
  const ports = await freePorts(count * 2);
  const base = temporaryDirectory('runnel-cluster-');
  const nodes: ClusterNodeProcess[] = Array.from({ length: count }, (_, index) => ({
    nodeId: index + 1, port: ports[index] as number, controllerPort: ports[count + index] as number,
    dataDirectory: path.join(base, `node-${index + 1}`), process: null, logText: () => '',
  }));
  const voters = nodes.map((node) => `${node.nodeId}@127.0.0.1:${node.controllerPort}`).join(',');
  const overrides = { ...TEST_CLUSTER_OVERRIDES, ...options.overrides };
  const rolesOf = (nodeId: number): string[] => {
    const roles = options.roles?.[nodeId];
    return roles === undefined ? [] : ['--roles', roles];
  };
  const launch = (node: ClusterNodeProcess): Promise<void> => spawnNode(node, voters, overrides, options.nodeArguments ?? [], rolesOf(node.nodeId));
  await Promise.all(nodes.map(launch));
  const find = (nodeId: number): ClusterNodeProcess => {
    const node = nodes.find((candidate) => candidate.nodeId === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    return node;
  };
  const kill = async (nodeId: number): Promise<void> => {
    const child = find(nodeId).process;
    if (child === null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
    find(nodeId).process = null;
  };
  return {
    nodes,
    bootstrap: nodes.filter((node) => options.roles?.[node.nodeId]?.includes('broker') ?? true).map((node) => `127.0.0.1:${node.port}`),
    node: find,
    isRunning: (nodeId) => find(nodeId).process !== null,
    kill,
    async stop(nodeId) {
      const child = find(nodeId).process;
      if (child === null) return null;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const code = await exited;
      find(nodeId).process = null;
      return code;
    },
    pause: (nodeId) => { find(nodeId).process?.kill('SIGSTOP'); },
    resume: (nodeId) => { find(nodeId).process?.kill('SIGCONT'); },
    async restart(nodeId) {
      await kill(nodeId);
      await launch(find(nodeId));
    },
    async addBroker(nodeId) {
      const [port] = await freePorts(1);
      const node: ClusterNodeProcess = { nodeId, port: port as number, controllerPort: -1, dataDirectory: path.join(base, `node-${nodeId}`), process: null, logText: () => '' };
      nodes.push(node);
      await launch(node);
      return node;
    },
  };
}

function spawnNode(node: ClusterNodeProcess, voters: string, overrides: Record<string, string>, nodeArguments: string[], roles: string[] = []): Promise<void> {
  const args = [...nodeArguments, '--import', 'tsx', CLI, 'cluster', 'node', '--node-id', String(node.nodeId), '--voters', voters, '--data-dir', node.dataDirectory, '--port', String(node.port), ...roles];
  for (const [key, value] of Object.entries(overrides)) args.push('--override', `${key}=${value}`);
  const child = spawn(process.execPath, args, { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUNNEL_LOG_LEVEL: process.env['RUNNEL_LOG_LEVEL'] ?? 'info' } });
  running.add(child);
  node.process = child;
  // The log of every incarnation of the node, so a restarted node's history stays readable.
  const earlier = node.logText();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  node.logText = () => earlier + stderr;
  child.once('exit', () => {
    running.delete(child);
    if (node.process === child) node.process = null;
  });
  return new Promise<void>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`node ${node.nodeId} did not start in ${PROCESS_START_DEADLINE_MS / 1000} s:\n${stderr}`)), PROCESS_START_DEADLINE_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // A broker prints its listener; a controller-only node only its controller address.
      if (/listening on |controller on /.test(stdout)) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node ${node.nodeId} exited with ${code} before listening:\n${stderr}`)); });
  });
}

/** Kills every node still running (paused ones too) and removes the data directories. */
export async function cleanupCluster(): Promise<void> {
  await Promise.all([...running].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  })));
  await cleanupBrokers();
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError === null ? '' : `: ${(lastError as Error).message}`}`);
}

type KafkajsTopic = Parameters<KafkaAdmin['createTopics']>[0]['topics'][number];

/**
 * Creates topics through kafkajs, retrying an attempt that failed with a retriable error (on a
 * loaded machine the controller may not commit within the request's timeout, and the broker
 * answers REQUEST_TIMED_OUT while the creation goes on). An earlier attempt may have created a
 * topic, so TOPIC_ALREADY_EXISTS on a retry counts as created; a final failure names each error.
 */
export async function createTopicsRetrying(admin: KafkaAdmin, topics: KafkajsTopic[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = topics;
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.createTopics({ topics: pending, waitForLeaders: true });
      return;
    } catch (error) {
      const errors = (error as { errors?: { topic?: string; type?: string; retriable?: boolean }[] }).errors;
      if (errors === undefined) throw error;
      const failed = errors.filter((e) => !(attempt > 1 && e.type === 'TOPIC_ALREADY_EXISTS'));
      // Only topics an earlier attempt created: done, whatever the deadline.
      if (failed.length === 0) return;
      const described = failed.map((e) => `${e.topic ?? '?'}: ${e.type ?? String(e)}`).join(', ');
      if (failed.some((e) => e.retriable !== true) || Date.now() >= deadline) throw new Error(`creating topics failed after ${attempt} attempts: ${described}`);
      const names = new Set(failed.map((e) => e.topic));
      pending = pending.filter((topic) => names.has(topic.topic));
      if (pending.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

process.once('exit', () => { for (const child of running) { child.kill('SIGCONT'); child.kill('SIGKILL'); } });

/**
 * A kafkajs client and connected admin for a test cluster, returned once the admin sees every
 * node as a live broker. Short timeouts with many retries let kafkajs ride out leader changes.
 */
export async function kafkajsForCluster(cluster: TestCluster, clientId: string, retries = 10): Promise<{ kafka: Kafka; admin: KafkaAdmin }> {
  const kafka = new Kafka({
    clientId, brokers: cluster.bootstrap, logLevel: logLevel.NOTHING, requestTimeout: 4000, connectionTimeout: 2000,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const nodes = cluster.nodes.length;
  await eventually(`${nodes} live brokers`, async () => ((await admin.describeCluster()).brokers.length === nodes ? true : undefined));
  // A group coordinator lookup creates __consumer_offsets now, with every broker live: created
  // later, after a test killed a node, it would wait for the missing broker (as in Kafka).
  await eventually('the group coordinator', async () => ((await admin.describeGroups(['runnel-test-warm-up'])).groups.length === 1 ? true : undefined), 30_000);
  return { kafka, admin };
}
