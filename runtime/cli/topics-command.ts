// `runnel topics create|list|describe|alter|delete`, after kafka-topics.sh.
import { Admin } from '../client/admin.ts';
import { asCliErrors, bootstrapServer, integerFlag, keyValues, parseFlags, requireFlag } from './client-args.ts';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel topics <action> [options]

Actions:
  create     create a topic          (--topic, --partitions, --replication-factor, --config k=v)
  list       list topic names
  describe   show partitions, leaders, replicas and non-default configs (--topic, or all topics)
  alter      add partitions or change configs (--topic, --partitions, --config k=v, --delete-config k)
  delete     delete a topic          (--topic)

Options:
  --bootstrap-server <host:port>  a broker to start from (default 127.0.0.1:9092)
  --topic <name>                  the topic
  --partitions <n>                partition count (create: default from the broker; alter: the new, larger count)
  --replication-factor <n>        replicas per partition (create only; default from the broker)
  --config <key=value>            a topic config, repeatable (e.g. --config retention.ms=86400000)
  --delete-config <key>           revert a config to its default, repeatable (alter only)
  --if-not-exists                 create: succeed quietly when the topic exists
  --help                          show this help`;

const FLAGS = {
  'bootstrap-server': { type: 'string' },
  topic: { type: 'string' },
  partitions: { type: 'string' },
  'replication-factor': { type: 'string' },
  config: { type: 'string', multiple: true },
  'delete-config': { type: 'string', multiple: true },
  'if-not-exists': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;
const ACTIONS = ['create', 'list', 'describe', 'alter', 'delete'] as const;
type Action = (typeof ACTIONS)[number];

export const topicsCommand: Command = {
  name: 'topics',
  summary: 'create, list, describe, alter and delete topics',
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
  };
  for (const name of Object.keys(flags)) {
    if (name === 'bootstrap-server' || name === 'help' || allowed[action].includes(name)) continue;
    throw new CliError(`--${name} does not apply to 'topics ${action}'`, `remove it (runnel topics --help lists what each action takes)`);
  }
  if (action === 'alter' && flags.partitions === undefined && flags.config === undefined && flags['delete-config'] === undefined) {
    throw new CliError('topics alter needs something to change', 'add --partitions <n>, --config key=value or --delete-config key');
  }
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
};
