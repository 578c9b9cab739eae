// `runnel topics create|list|describe|alter|delete`, after kafka-topics.sh, and `reassign`,
// after kafka-reassign-partitions.sh: move a partition's replicas, list or cancel moves in
// progress, or spread replicas onto a newly added broker.
import { Admin, type TopicDescription } from '../client/admin.ts';
import { asCliErrors, bootstrapServer, integerFlag, keyValues, parseFlags, requireFlag } from './client-args.ts';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel topics <action> [options]

Actions:
  create     create a topic          (--topic, --partitions, --replication-factor, --config k=v)
  list       list topic names
  describe   show partitions, leaders, replicas and non-default configs (--topic, or all topics)
  alter      add partitions or change configs (--topic, --partitions, --config k=v, --delete-config k)
  delete     delete a topic          (--topic)
  reassign   move partitions between brokers; exactly one of:
               --topic T --partition P --replicas 1,2,4   move one partition (first replica leads)
               --topic T --partition P --cancel           cancel its move in progress
               --list [--topic T]                         the moves in progress
               --rebalance-onto <id> [--topic T]          give a new broker its share of replicas
             --wait waits until the moves are done; --dry-run prints a rebalance plan only

Options:
  --bootstrap-server <host:port>  a broker to start from (default 127.0.0.1:9092)
  --topic <name>                  the topic
  --partitions <n>                partition count (create: default from the broker; alter: the new, larger count)
  --replication-factor <n>        replicas per partition (create only; default from the broker)
  --config <key=value>            a topic config, repeatable (e.g. --config retention.ms=86400000)
  --delete-config <key>           revert a config to its default, repeatable (alter only)
  --if-not-exists                 create: succeed quietly when the topic exists
  --partition <n>                 reassign: the partition to move or cancel
  --replicas <ids>                reassign: the target brokers, comma-separated (e.g. 1,2,4)
  --help                          show this help`;

const FLAGS = {
  'bootstrap-server': { type: 'string' },
  topic: { type: 'string' },
  partitions: { type: 'string' },
  'replication-factor': { type: 'string' },
  config: { type: 'string', multiple: true },
  'delete-config': { type: 'string', multiple: true },
  'if-not-exists': { type: 'boolean' },
  partition: { type: 'string' },
  replicas: { type: 'string' },
  cancel: { type: 'boolean' },
  list: { type: 'boolean' },
  'rebalance-onto': { type: 'string' },
  wait: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;
const ACTIONS = ['create', 'list', 'describe', 'alter', 'delete', 'reassign'] as const;
type Action = (typeof ACTIONS)[number];

export const topicsCommand: Command = {
  name: 'topics',
  summary: 'create, list, describe, alter, delete and reassign topics',
  async run(argv) {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') { console.log(HELP); return; }
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new CliError(`unknown topics action '${action}'`, `use one of: ${ACTIONS.join(', ')} (runnel topics --help)`);
    }
    const flags = parseFlags(rest, FLAGS, `topics ${action}`);
    if (flags.help === true) { console.log(HELP); return; }
    const bootstrap = bootstrapServer(flags['bootstrap-server']);
    checkFlags(action as Action, flags);
    const admin = await asCliErrors(async () => new Admin({ bootstrapServers: bootstrap, clientId: 'runnel-topics' }), 'topics');
    try {
      await ACTION_RUNNERS[action as Action](admin, flags);
    } finally {
      await admin.close();
    }
  },
};

/** Refuses flags that make no sense for the action before anything is sent. */
function checkFlags(action: Action, flags: Flags): void {
  const allowed: Record<Action, readonly string[]> = {
    create: ['topic', 'partitions', 'replication-factor', 'config', 'if-not-exists'],
    list: [],
    describe: ['topic'],
    alter: ['topic', 'partitions', 'config', 'delete-config'],
    delete: ['topic'],
    reassign: ['topic', 'partition', 'replicas', 'cancel', 'list', 'rebalance-onto', 'wait', 'dry-run'],
  };
  for (const name of Object.keys(flags)) {
    if (name === 'bootstrap-server' || name === 'help' || allowed[action].includes(name)) continue;
    throw new CliError(`--${name} does not apply to 'topics ${action}'`, `remove it (runnel topics --help lists what each action takes)`);
  }
  if (action === 'alter' && flags.partitions === undefined && flags.config === undefined && flags['delete-config'] === undefined) {
    throw new CliError('topics alter needs something to change', 'add --partitions <n>, --config key=value or --delete-config key');
  }
  if (action === 'reassign') checkReassignFlags(flags);
}

const REASSIGN_EXAMPLE = 'runnel topics reassign --topic orders --partition 0 --replicas 1,2,4';

function checkReassignFlags(flags: Flags): void {
  const modes = [flags.replicas !== undefined, flags.cancel === true, flags.list === true, flags['rebalance-onto'] !== undefined].filter(Boolean).length;
  if (modes !== 1) {
    throw new CliError(`topics reassign needs exactly one of --replicas, --cancel, --list or --rebalance-onto (got ${modes})`, `e.g. ${REASSIGN_EXAMPLE}`);
  }
  if (flags.replicas !== undefined) replicaList(flags.replicas);
  if (flags['rebalance-onto'] !== undefined) integerFlag(flags['rebalance-onto'], '--rebalance-onto', 0);
  if (flags.replicas !== undefined || flags.cancel === true) {
    requireFlag(flags.topic, '--topic', 'orders');
    integerFlag(requireFlag(flags.partition, '--partition', '0'), '--partition', 0);
  } else if (flags.partition !== undefined) {
    throw new CliError('--partition applies to --replicas and --cancel only', `remove it, or move one partition: ${REASSIGN_EXAMPLE}`);
  }
  if (flags['dry-run'] === true && flags['rebalance-onto'] === undefined) throw new CliError('--dry-run applies to --rebalance-onto only', 'remove --dry-run');
  if (flags.wait === true && flags.list === true) throw new CliError('--wait does not apply to --list', 'remove --wait');
}

/** "1,2,4" as broker ids: whole numbers, none twice. */
function replicaList(value: string): number[] {
  const ids = value.split(',').map((entry) => entry.trim());
  if (ids.some((id) => !/^\d+$/.test(id))) throw new CliError(`--replicas ${value} is not a comma-separated list of broker ids`, 'write it like --replicas 1,2,4');
  const replicas = ids.map(Number);
  if (new Set(replicas).size !== replicas.length) throw new CliError(`--replicas ${value} names a broker twice`, 'name each broker once, the preferred leader first');
  return replicas;
}

/**
 * The moves that give `brokerId` its share of replicas: about total replicas / brokers. Each
 * move replaces, in one partition without the broker, the replica on the most loaded broker
 * (a follower, not the current leader, where possible, so leadership stays) by the new broker.
 */
export function rebalancePlan(topics: readonly TopicDescription[], brokerId: number): { topic: string; partition: number; from: number[]; to: number[] }[] {
  const load = new Map<number, number>();
  let total = 0;
  for (const topic of topics) for (const partition of topic.partitions) for (const replica of partition.replicas) {
    load.set(replica, (load.get(replica) ?? 0) + 1);
    total += 1;
  }
  const brokers = new Set([...load.keys(), brokerId]).size;
  const share = Math.floor(total / brokers);
  const plan: { topic: string; partition: number; from: number[]; to: number[] }[] = [];
  for (const topic of topics) {
    for (const partition of topic.partitions) {
      if ((load.get(brokerId) ?? 0) >= share) return plan;
      if (partition.replicas.includes(brokerId)) continue;
      const followers = partition.replicas.filter((replica) => replica !== partition.leader);
      const candidates = followers.length > 0 && followers.length < partition.replicas.length ? followers : partition.replicas;
      const busiest = candidates.reduce((a, b) => ((load.get(b) ?? 0) > (load.get(a) ?? 0) ? b : a));
      if ((load.get(busiest) ?? 0) <= (load.get(brokerId) ?? 0) + 1) continue;
      // The order stays, so the preferred leader stays unless it is the one replaced.
      plan.push({ topic: topic.name, partition: partition.partition, from: partition.replicas, to: partition.replicas.map((replica) => (replica === busiest ? brokerId : replica)) });
      load.set(busiest, (load.get(busiest) ?? 0) - 1);
      load.set(brokerId, (load.get(brokerId) ?? 0) + 1);
    }
  }
  return plan;
}

async function waitForReassignments(admin: Admin, moves: readonly { topic: string; partition: number }[]): Promise<void> {
  const wanted = new Set(moves.map((move) => `${move.topic}-${move.partition}`));
  for (;;) {
    const pending = (await admin.listPartitionReassignments()).filter((entry) => wanted.has(`${entry.topic}-${entry.partition}`));
    if (pending.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  console.log('Reassignment complete.');
}

async function reassign(admin: Admin, flags: Flags): Promise<void> {
  if (flags.list === true) {
    const all = await admin.listPartitionReassignments();
    const shown = flags.topic === undefined ? all : all.filter((entry) => entry.topic === flags.topic);
    if (shown.length === 0) console.log('No reassignment in progress.');
    for (const entry of shown) {
      console.log(`Topic: ${entry.topic}\tPartition: ${entry.partition}\tReplicas: ${entry.replicas.join(',')}\tAdding: ${entry.addingReplicas.join(',')}\tRemoving: ${entry.removingReplicas.join(',')}`);
    }
    return;
  }
  if (flags['rebalance-onto'] !== undefined) {
    const brokerId = integerFlag(flags['rebalance-onto'], '--rebalance-onto', 0) as number;
    const topics = (await admin.describeTopics(flags.topic === undefined ? undefined : [flags.topic])).filter((topic) => !topic.internal);
    const plan = rebalancePlan(topics, brokerId);
    if (plan.length === 0) { console.log(`Broker ${brokerId} already has its share of replicas; nothing to move.`); return; }
    for (const move of plan) console.log(`${flags['dry-run'] === true ? 'Would move' : 'Moving'} ${move.topic}-${move.partition}: ${move.from.join(',')} -> ${move.to.join(',')}`);
    if (flags['dry-run'] === true) return;
    await admin.alterPartitionReassignments(plan.map((move) => ({ topic: move.topic, partition: move.partition, replicas: move.to })));
    if (flags.wait === true) await waitForReassignments(admin, plan);
    return;
  }
  const topic = flags.topic as string;
  const partition = integerFlag(flags.partition, '--partition', 0) as number;
  const replicas = flags.cancel === true ? null : replicaList(flags.replicas as string);
  await admin.alterPartitionReassignments([{ topic, partition, replicas }]);
  console.log(replicas === null ? `Cancelled the reassignment of ${topic}-${partition}.` : `Reassigning ${topic}-${partition} to ${replicas.join(',')}.`);
  if (flags.wait === true && replicas !== null) await waitForReassignments(admin, [{ topic, partition }]);
}

const ACTION_RUNNERS: Record<Action, (admin: Admin, flags: Flags) => Promise<void>> = {
  async create(admin, flags) {
    const topic = requireFlag(flags.topic, '--topic', 'orders');
    const numPartitions = integerFlag(flags.partitions, '--partitions', 1) ?? -1;
    const replicationFactor = integerFlag(flags['replication-factor'], '--replication-factor', 1) ?? -1;
    const configs = Object.fromEntries(keyValues(flags.config, '--config', 'retention.ms=86400000'));
    try {
      await admin.createTopics([{ topic, numPartitions, replicationFactor, configs }]);
    } catch (error) {
      if (flags['if-not-exists'] === true && error instanceof Error && 'kafkaName' in error && error.kafkaName === 'TOPIC_ALREADY_EXISTS') return;
      throw error;
    }
    console.log(`Created topic ${topic}.`);
  },
  async list(admin) {
    for (const name of await admin.listTopics()) console.log(name);
  },
  async describe(admin, flags) {
    const descriptions = await admin.describeTopics(flags.topic === undefined ? undefined : [flags.topic]);
    for (const topic of descriptions) {
      const configs = (await admin.describeConfigs({ type: 'topic', name: topic.name })).filter((entry) => !entry.isDefault && !entry.sensitive);
      const replicationFactor = topic.partitions[0]?.replicas.length ?? 0;
      const configText = configs.map((entry) => `${entry.name}=${entry.value ?? ''}`).join(',');
      console.log(`Topic: ${topic.name}\tTopicId: ${topic.topicId}\tPartitionCount: ${topic.partitions.length}\tReplicationFactor: ${replicationFactor}\tConfigs: ${configText}`);
      for (const partition of topic.partitions) {
        console.log(`\tTopic: ${topic.name}\tPartition: ${partition.partition}\tLeader: ${partition.leader}\tReplicas: ${partition.replicas.join(',')}\tIsr: ${partition.isr.join(',')}`);
      }
    }
  },
  async alter(admin, flags) {
    const topic = requireFlag(flags.topic, '--topic', 'orders');
    const partitions = integerFlag(flags.partitions, '--partitions', 1);
    const set = Object.fromEntries(keyValues(flags.config, '--config', 'retention.ms=86400000'));
    const remove = flags['delete-config'] ?? [];
    if (partitions !== undefined) await admin.createPartitions([{ topic, count: partitions }]);
    if (Object.keys(set).length > 0 || remove.length > 0) await admin.alterConfigs({ type: 'topic', name: topic, set, delete: remove });
    console.log(`Altered topic ${topic}.`);
  },
  async delete(admin, flags) {
    const topic = requireFlag(flags.topic, '--topic', 'orders');
    await admin.deleteTopics([topic]);
    console.log(`Deleted topic ${topic}.`);
  },
  reassign,
};
