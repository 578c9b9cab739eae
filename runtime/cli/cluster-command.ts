// `runnel cluster start --nodes 3 --data-dir DIR`: a local cluster for development, each node a
// combined broker and controller in its own process on loopback ports chosen at run time.
// `runnel cluster node ...` runs one such node in the foreground (what `start` spawns), or a
// broker-only node added to a running cluster (its id not among the voters).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel cluster start --nodes <n> --data-dir <dir> [options]
       runnel cluster node --node-id <id> --voters <id@host:port,...> --data-dir <dir> [options]

start   runs <n> nodes (broker and controller in each process) on free loopback ports and
        prints their addresses; data goes to <dir>/node-<id>. Ctrl-C stops them all.
node    runs one node in the foreground; --port is its broker port (0 picks a free one), its
        controller port is its own entry in --voters. A node whose id is not among --voters
        joins the running cluster as a broker only: it registers with the controller and gets
        no partitions until a reassignment moves some onto it (runnel topics reassign).

Options:
  --nodes <n>              how many nodes (start; 1-9, default 3)
  --data-dir <dir>         where the nodes keep their logs and metadata
  --roles <roles>          node: broker, controller or broker,controller (default: both for a
                           voter, broker for any other id)
  --override <key=value>   any broker setting, repeatable (e.g. --override min.insync.replicas=2)
  --help                   show this help`;

const CLI_PATH = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Free loopback ports, all held open together while they are picked so none repeats. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function parseOverrides(entries: readonly string[]): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new CliError(`--override ${entry} is not key=value`, 'write it as --override min.insync.replicas=2');
    overrides[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return overrides;
}

async function runNode(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'node-id': { type: 'string' }, voters: { type: 'string' }, 'data-dir': { type: 'string' }, port: { type: 'string' },
      config: { type: 'string' }, override: { type: 'string', multiple: true }, roles: { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help === true) { console.log(HELP); return; }
  if (values['node-id'] === undefined || values.voters === undefined || values['data-dir'] === undefined) {
    throw new CliError('cluster node needs --node-id, --voters and --data-dir', 'see runnel cluster --help');
  }
  const nodeId = values['node-id'];
  const voter = values.voters.split(',').some((entry) => entry.trim().startsWith(`${nodeId}@`));
  const roles = values.roles ?? (voter ? 'broker,controller' : 'broker');
  if (!['broker', 'controller', 'broker,controller', 'controller,broker'].includes(roles)) {
    throw new CliError(`--roles ${roles} is not broker, controller or broker,controller`, 'leave --roles out to get the default for this node id');
  }
  if (roles.includes('controller') && !voter) {
    throw new CliError(`node ${nodeId} has the controller role but is not among --voters`, `add ${nodeId}@host:port to --voters, or run it with --roles broker`);
  }
  if (roles === 'broker' && voter) {
    throw new CliError(`node ${nodeId} is a voter, so it needs the controller role`, `use another --node-id for a broker-only node, or leave --roles out`);
  }
  const overrides: Record<string, string> = {
    'process.roles': roles, 'node.id': values['node-id'], 'controller.quorum.voters': values.voters,
    'log.dirs': values['data-dir'], listeners: `PLAINTEXT://127.0.0.1:${values.port ?? '0'}`, ...parseOverrides(values.override ?? []),
  };
  const { ConfigError, loadBrokerConfig } = await import('../broker/config.ts');
  const { ClusterNode } = await import('../cluster/cluster-node.ts');
  let config;
  try {
    config = loadBrokerConfig(values.config, overrides);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 'fix the settings named above');
    throw error;
  }
  const node = await ClusterNode.start(config);
  const address = node.broker?.advertisedAddress;
  if (address !== undefined) console.log(`listening on ${address.host}:${address.port}`);
  const controller = node.voters.get(node.nodeId);
  if (controller !== undefined) console.log(`controller on ${controller.host}:${controller.port}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => { void node.stop({ graceful: true }).then(resolve); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function runCluster(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { nodes: { type: 'string' }, 'data-dir': { type: 'string' }, override: { type: 'string', multiple: true }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help === true) { console.log(HELP); return; }
  const count = Number(values.nodes ?? '3');
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new CliError(`--nodes ${values.nodes} must be 1 to 9`, 'try --nodes 3');
  if (values['data-dir'] === undefined) throw new CliError('cluster start needs --data-dir', 'try --data-dir ./cluster-data');
  const ports = await freePorts(count * 2);
  const ids = Array.from({ length: count }, (_, index) => index + 1);
  const voters = ids.map((id, index) => `${id}@127.0.0.1:${ports[count + index]}`).join(',');
  const children: ChildProcess[] = [];
  const addresses = await Promise.all(ids.map((id, index) => {
    const args = ['--import', 'tsx', CLI_PATH, 'cluster', 'node', '--node-id', String(id), '--voters', voters,
      '--data-dir', path.join(values['data-dir'] as string, `node-${id}`), '--port', String(ports[index])];
    // Internal topics are created with their configured replication factor (3) only once that
    // many brokers live: a smaller local cluster lowers it (the user's overrides come after).
    if (count < 3) {
      args.push('--override', `offsets.topic.replication.factor=${count}`, '--override', `transaction.state.log.replication.factor=${count}`,
        '--override', `transaction.state.log.min.isr=${Math.min(2, count)}`);
    }
    for (const entry of values.override ?? []) args.push('--override', entry);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    return new Promise<string>((resolve, reject) => {
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /listening on (\S+)/.exec(stdout);
        if (match !== null) resolve(match[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`node ${id} exited with ${code}`)));
    });
  })).catch((error: unknown) => {
    for (const child of children) child.kill('SIGTERM');
    throw error;
  });
  addresses.forEach((address, index) => console.log(`node ${ids[index]}: broker ${address} controller 127.0.0.1:${ports[count + index]}`));
  console.log(`bootstrap servers: ${addresses.join(',')}`);
  console.log(`add a broker: runnel cluster node --node-id ${count + 1} --voters ${voters} --data-dir ${path.join(values['data-dir'], `node-${count + 1}`)}${(values.override ?? []).map((entry) => ` --override ${entry}`).join('')}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      let left = children.length;
      for (const child of children) {
        child.once('exit', () => { left -= 1; if (left === 0) resolve(); });
        child.kill('SIGTERM');
      }
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export const clusterCommand: Command = {
  name: 'cluster',
  summary: 'run a local cluster (cluster start --help)',
  async run(argv) {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') { console.log(HELP); return; }
    if (action === 'start') return runCluster(rest);
    if (action === 'node') return runNode(rest);
    throw new CliError(`unknown cluster action '${action}'`, 'use: runnel cluster start --nodes 3 --data-dir ./cluster-data');
  },
};
