// `runnel topics create|list|describe|alter|delete`, after kafka-topics.sh, and `reassign`,
// after kafka-reassign-partitions.sh: move a partition's replicas, list or cancel moves in
// progress, or spread replicas onto newly added brokers.
import { Duration } from 'luxon';
import { Admin, type PartitionReassignment, type TopicDescription } from '../client/admin.ts';
import { asCliErrors, bootstrapServer, durationFlag, integerFlag, keyValues, parseFlags, requireFlag } from './client-args.ts';
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
               --rebalance-onto <ids> [--topic T]         give new brokers (e.g. 4 or 4,5) their share of replicas
             --wait waits until the moves are done, at most --timeout (ISO-8601, e.g. PT10M);
             --dry-run prints a rebalance plan only

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
  timeout: { type: 'string' },
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
    reassign: ['topic', 'partition', 'replicas', 'cancel', 'list', 'rebalance-onto', 'wait', 'timeout', 'dry-run'],
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
  if (flags['rebalance-onto'] !== undefined) targetBrokers(flags['rebalance-onto']);
  if (flags.replicas !== undefined || flags.cancel === true) {
    requireFlag(flags.topic, '--topic', 'orders');
    integerFlag(requireFlag(flags.partition, '--partition', '0'), '--partition', 0);
  } else if (flags.partition !== undefined) {
    throw new CliError('--partition applies to --replicas and --cancel only', `remove it, or move one partition: ${REASSIGN_EXAMPLE}`);
  }
  if (flags['dry-run'] === true && flags['rebalance-onto'] === undefined) throw new CliError('--dry-run applies to --rebalance-onto only', 'remove --dry-run');
  if (flags.wait === true && flags.list === true) throw new CliError('--wait does not apply to --list', 'remove --wait');
  if (flags.timeout !== undefined) {
    if (flags.wait !== true) throw new CliError('--timeout applies to --wait only', 'add --wait, or remove --timeout');
    waitTimeoutMs(flags.timeout);
  }
}

/** --rebalance-onto "4" or "4,5": broker ids, none twice. */
function targetBrokers(value: string): number[] {
  const ids = value.split(',').map((entry) => integerFlag(entry.trim(), '--rebalance-onto', 0) as number);
  if (new Set(ids).size !== ids.length) throw new CliError(`--rebalance-onto ${value} names a broker twice`, 'name each new broker once, e.g. --rebalance-onto 4,5');
  return ids;
}

/** --timeout as an ISO-8601 duration (PT90S, PT10M), in milliseconds. */
function waitTimeoutMs(value: string): number {
  return durationFlag(value, '--timeout', true, ['PT90S', 'PT10M']);
}

/** "1,2,4" as broker ids: whole numbers, none twice. */
function replicaList(value: string): number[] {
  const ids = value.split(',').map((entry) => entry.trim());
  if (ids.some((id) => !/^\d+$/.test(id))) throw new CliError(`--replicas ${value} is not a comma-separated list of broker ids`, 'write it like --replicas 1,2,4');
  const replicas = ids.map(Number);
  if (new Set(replicas).size !== replicas.length) throw new CliError(`--replicas ${value} names a broker twice`, 'name each broker once, the preferred leader first');
  return replicas;
}

export interface RebalanceMove {
  topic: string;
  partition: number;
  from: number[];
  to: number[];
}

/**
 * The moves that give each broker of `targets` its share of replicas: about total replicas /
 * brokers, where the brokers are those holding replicas, the targets and every other broker
 * in `brokerIds` (the cluster's, so a second empty broker lowers the share too). Each step
 * replaces, in a partition without the target, the replica on the most loaded broker (a
 * follower, not the current leader, where possible, so leadership stays) by the target; a
 * partition touched for two targets gets one move.
 */
export function rebalancePlan(topics: readonly TopicDescription[], targets: readonly number[], brokerIds: readonly number[] = []): RebalanceMove[] {
  const load = new Map<number, number>();
  let total = 0;
  for (const topic of topics) for (const partition of topic.partitions) for (const replica of partition.replicas) {
    load.set(replica, (load.get(replica) ?? 0) + 1);
    total += 1;
  }
  const brokers = new Set([...load.keys(), ...brokerIds, ...targets]).size;
  const share = Math.floor(total / brokers);
  /** The replicas planned so far, by topic and partition; absent means unchanged. */
  const planned = new Map<string, number[]>();
  const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  for (const target of targets) {
    for (const topic of topics) {
      for (const partition of topic.partitions) {
        if ((load.get(target) ?? 0) >= share) break;
        const replicas = planned.get(key(topic.name, partition.partition)) ?? partition.replicas;
        if (replicas.includes(target)) continue;
        const followers = replicas.filter((replica) => replica !== partition.leader);
        const candidates = (followers.length > 0 && followers.length < replicas.length ? followers : replicas).filter((replica) => !targets.includes(replica));
        if (candidates.length === 0) continue;
        const busiest = candidates.reduce((a, b) => ((load.get(b) ?? 0) > (load.get(a) ?? 0) ? b : a));
        if ((load.get(busiest) ?? 0) <= (load.get(target) ?? 0) + 1) continue;
        // The order stays, so the preferred leader stays unless it is the one replaced.
        planned.set(key(topic.name, partition.partition), replicas.map((replica) => (replica === busiest ? target : replica)));
        load.set(busiest, (load.get(busiest) ?? 0) - 1);
        load.set(target, (load.get(target) ?? 0) + 1);
      }
    }
  }
  return topics.flatMap((topic) => topic.partitions.flatMap((partition) => {
    const to = planned.get(key(topic.name, partition.partition));
    return to === undefined ? [] : [{ topic: topic.name, partition: partition.partition, from: partition.replicas, to }];
  }));
}

/**
 * Polls the moves until none is in progress. Past `timeoutMs` it fails naming the partitions
 * still moving; the moves themselves go on (the controller finishes them when the new replicas
 * catch up), so the error says how to follow or cancel them.
 */
async function waitForReassignments(admin: Admin, moves: readonly { topic: string; partition: number }[], timeoutMs: number | undefined): Promise<void> {
  const wanted = new Set(moves.map((move) => `${move.topic}-${move.partition}`));
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
  for (;;) {
    const pending = (await admin.listPartitionReassignments()).filter((entry) => wanted.has(`${entry.topic}-${entry.partition}`));
    if (pending.length === 0) break;
    if (Date.now() >= deadline) throw new Error(stillMoving(pending, timeoutMs ?? 0));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(200, deadline - Date.now()))));
  }
  console.log('Reassignment complete.');
}

export function stillMoving(pending: readonly PartitionReassignment[], timeoutMs: number): string {
  const lines = pending.map((entry) => `  ${entry.topic}-${entry.partition}: replicas ${entry.replicas.join(',')}, adding ${entry.addingReplicas.join(',') || '-'}, removing ${entry.removingReplicas.join(',') || '-'}`);
  return [
    `${pending.length} partition(s) still moving after ${Duration.fromMillis(timeoutMs).rescale().toISO()}:`,
    ...lines,
    'The moves go on in the background: follow them with runnel topics reassign --list, or stop one with --topic T --partition P --cancel.',
  ].join('\n');
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
    const targets = targetBrokers(flags['rebalance-onto']);
    const topics = (await admin.describeTopics(flags.topic === undefined ? undefined : [flags.topic])).filter((topic) => !topic.internal);
    const { brokers } = await admin.describeCluster();
    const plan = rebalancePlan(topics, targets, brokers.map((broker) => broker.nodeId));
    if (plan.length === 0) {
      console.log(targets.length === 1 ? `Broker ${targets[0]} already has its share of replicas; nothing to move.` : `Brokers ${targets.join(',')} already have their share of replicas; nothing to move.`);
      return;
    }
    for (const move of plan) console.log(`${flags['dry-run'] === true ? 'Would move' : 'Moving'} ${move.topic}-${move.partition}: ${move.from.join(',')} -> ${move.to.join(',')}`);
    if (flags['dry-run'] === true) return;
    await admin.alterPartitionReassignments(plan.map((move) => ({ topic: move.topic, partition: move.partition, replicas: move.to })));
    if (flags.wait === true) await waitForReassignments(admin, plan, timeoutFlag(flags));
    return;
  }
  const topic = flags.topic as string;
  const partition = integerFlag(flags.partition, '--partition', 0) as number;
  const replicas = flags.cancel === true ? null : replicaList(flags.replicas as string);
  await admin.alterPartitionReassignments([{ topic, partition, replicas }]);
  console.log(replicas === null ? `Cancelled the reassignment of ${topic}-${partition}.` : `Reassigning ${topic}-${partition} to ${replicas.join(',')}.`);
  if (flags.wait === true && replicas !== null) await waitForReassignments(admin, [{ topic, partition }], timeoutFlag(flags));
}

function timeoutFlag(flags: Flags): number | undefined {
  return flags.timeout === undefined ? undefined : waitTimeoutMs(flags.timeout);
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
