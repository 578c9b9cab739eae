// `runnel groups list|describe|reset-offsets`, after kafka-consumer-groups.sh: describe shows
// committed offsets, log-end offsets, lag and owners; reset-offsets prints its plan and changes
// nothing unless --execute is given, and only while the group has no active members.
import { Admin, type ResetTarget, type TopicPartitionOffset } from '../client/admin.ts';
import { KafkaProtocolError } from '../client/errors.ts';
import { asCliErrors, bootstrapServer, dateTimeFlag, offsetFlag, parseFlags, requireFlag, table } from './client-args.ts';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel groups <action> [options]

Actions:
  list            list consumer groups
  describe        committed offsets, log-end offsets, lag and members of --group
  reset-offsets   move --group's committed offsets (prints the plan; add --execute to apply)

Options:
  --bootstrap-server <host:port>  a broker to start from (default 127.0.0.1:9092)
  --group <id>                    the consumer group
  --topic <name>[:p,p]            reset: the topic (optionally some partitions), repeatable
  --all-topics                    reset: every topic the group has committed offsets for
  --to-earliest                   reset: to each partition's earliest offset
  --to-latest                     reset: to each partition's log-end offset
  --to-offset <n>                 reset: to offset n (kept within earliest..latest)
  --to-datetime <ISO-8601>        reset: to the first offset at or after this time
  --dry-run                       reset: only print the plan (the default)
  --execute                       reset: apply the plan
  --help                          show this help`;

const FLAGS = {
  'bootstrap-server': { type: 'string' },
  group: { type: 'string' },
  topic: { type: 'string', multiple: true },
  'all-topics': { type: 'boolean' },
  'to-earliest': { type: 'boolean' },
  'to-latest': { type: 'boolean' },
  'to-offset': { type: 'string' },
  'to-datetime': { type: 'string' },
  'dry-run': { type: 'boolean' },
  execute: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;
const ACTIONS = ['list', 'describe', 'reset-offsets'] as const;


export const groupsCommand: Command = {
  name: 'groups',
  summary: 'list and describe consumer groups, reset their offsets',
  async run(argv) {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') { console.log(HELP); return; }
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new CliError(`unknown groups action '${action}'`, `use one of: ${ACTIONS.join(', ')} (runnel groups --help)`);
    }
    const flags = parseFlags(rest, FLAGS, `groups ${action}`);
    if (flags.help === true) { console.log(HELP); return; }
    const bootstrap = bootstrapServer(flags['bootstrap-server']);
    const admin = await asCliErrors(async () => new Admin({ bootstrapServers: bootstrap, clientId: 'runnel-groups' }), 'groups');
    try {
      if (action === 'list') for (const group of await admin.listGroups()) console.log(group.groupId);
      else if (action === 'describe') await describe(admin, requireFlag(flags.group, '--group', 'my-group'));
      else await resetOffsets(admin, flags);
    } finally {
      await admin.close();
    }
  },
};

async function describe(admin: Admin, groupId: string): Promise<void> {
  const [group] = await admin.describeGroups([groupId]);
  const committed = await admin.fetchGroupOffsets(groupId);
  if (group === undefined || (group.state === 'Dead' && committed.length === 0)) {
    throw new Error(`consumer group '${groupId}' does not exist`);
  }
  const owners = new Map<string, { memberId: string; clientHost: string; clientId: string }>();
  for (const member of group.members) {
    for (const entry of member.assignment) for (const partition of entry.partitions) owners.set(`${entry.topic}:${partition}`, member);
  }
  const keys = new Set([...committed.map((entry) => `${entry.topic}:${entry.partition}`), ...owners.keys()]);
  const topics = [...new Set([...keys].map((key) => key.slice(0, key.lastIndexOf(':'))))].sort();
  const ends = new Map<string, bigint>();
  for (const topic of topics) for (const entry of await admin.listOffsets(topic, 'latest')) ends.set(`${topic}:${entry.partition}`, entry.offset);
  const rows: string[][] = [['GROUP', 'TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CONSUMER-ID', 'HOST', 'CLIENT-ID']];
  const sorted = [...keys].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (const key of sorted) {
    const at = key.lastIndexOf(':');
    const topic = key.slice(0, at);
    const partition = Number(key.slice(at + 1));
    const current = committed.find((entry) => entry.topic === topic && entry.partition === partition && entry.offset >= 0n)?.offset;
    const end = ends.get(key);
    const owner = owners.get(key);
    const lag = current !== undefined && end !== undefined ? String(end - current) : '-';
    rows.push([groupId, topic, String(partition), current?.toString() ?? '-', end?.toString() ?? '-', lag, owner?.memberId ?? '-', owner?.clientHost ?? '-', owner?.clientId ?? '-']);
  }
  if (group.members.length === 0) console.log(`\nConsumer group '${groupId}' has no active members.\n`);
  console.log(table(rows));
}

function resetTarget(flags: Flags): ResetTarget {
  const given = [flags['to-earliest'] === true, flags['to-latest'] === true, flags['to-offset'] !== undefined, flags['to-datetime'] !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new CliError(given === 0 ? 'reset-offsets needs a target' : 'reset-offsets takes exactly one target', 'give one of --to-earliest, --to-latest, --to-offset <n>, --to-datetime <ISO-8601>');
  }
  if (flags['to-earliest'] === true) return 'earliest';
  if (flags['to-latest'] === true) return 'latest';
  if (flags['to-offset'] !== undefined) return { offset: offsetFlag(flags['to-offset'], '--to-offset') };
  return { timestamp: dateTimeFlag(flags['to-datetime'] as string, '--to-datetime') };
}

/** Topics (with optional partition lists) named by --topic t or --topic t:0,2. */
function topicSelection(flags: Flags): Map<string, number[] | null> | null {
  if (flags['all-topics'] === true) {
    if (flags.topic !== undefined) throw new CliError('--topic and --all-topics exclude each other', 'keep one of them');
    return null;
  }
  if (flags.topic === undefined) throw new CliError('reset-offsets needs --topic or --all-topics', 'add e.g. --topic orders, or --all-topics');
  const selection = new Map<string, number[] | null>();
  for (const entry of flags.topic) {
    const [name, partitions] = entry.split(':');
    if (name === undefined || name === '' || (partitions !== undefined && !/^\d+(,\d+)*$/.test(partitions))) {
      throw new CliError(`--topic ${entry} is not a topic or topic:partition,partition`, 'write it as --topic orders or --topic orders:0,1');
    }
    selection.set(name, partitions === undefined ? null : partitions.split(',').map(Number));
  }
  return selection;
}

async function resetOffsets(admin: Admin, flags: Flags): Promise<void> {
  const groupId = requireFlag(flags.group, '--group', 'my-group');
  const target = resetTarget(flags);
  if (flags['dry-run'] === true && flags.execute === true) throw new CliError('--dry-run and --execute exclude each other', 'keep one of them');
  let selection = topicSelection(flags);
  if (selection === null) {
    const committed = await admin.fetchGroupOffsets(groupId);
    selection = new Map([...new Set(committed.map((entry) => entry.topic))].map((topic) => [topic, null]));
  }
  const plan: TopicPartitionOffset[] = [];
  for (const [topic, partitions] of selection) {
    try {
      plan.push(...(await admin.planOffsetReset(topic, target, partitions ?? undefined)));
    } catch (error) {
      if (error instanceof KafkaProtocolError && error.code === 3) throw new CliError(`${error.message}`, 'check the topic name and partitions with runnel topics describe');
      throw error;
    }
  }
  if (flags.execute === true) {
    const [group] = await admin.describeGroups([groupId]);
    if (group !== undefined && group.state !== 'Empty' && group.state !== 'Dead') {
      throw new Error(`offsets of group '${groupId}' can only be reset while it is inactive, but its state is ${group.state}; stop its consumers first`);
    }
    await admin.setGroupOffsets(groupId, plan);
  }
  console.log(table([['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'], ...plan.map((entry) => [groupId, entry.topic, String(entry.partition), entry.offset.toString()])]));
  if (flags.execute !== true) console.error('\nThis was a dry run: nothing changed. Add --execute to apply the plan.');
}
