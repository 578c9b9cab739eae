// `runnel consume --topic t`: prints records, one per line, after kafka-console-consumer.sh.
// With --group it joins that consumer group and commits as it goes; without one it reads every
// partition (or --partition) directly from the chosen start and commits nothing.
import { Admin } from '../client/admin.ts';
import { Consumer, type ConsumerRecord } from '../client/consumer.ts';
import { asCliErrors, bootstrapServer, dateTimeFlag, integerFlag, offsetFlag, parseFlags, requireFlag } from './client-args.ts';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel consume --topic <name> [options]

Prints each record's value on its own line until interrupted, --max-messages records were
printed, or no record arrived for --timeout-ms.

Options:
  --bootstrap-server <host:port>  a broker to start from (default 127.0.0.1:9092)
  --topic <name>                  the topic to read (required)
  --group <id>                    consume as a member of this group and commit offsets
  --from-beginning                start at the earliest offset when there is no committed one
  --offset <n|earliest|latest>    start here (needs --partition; not with --group)
  --partition <n>                 read only this partition (not with --group)
  --from-datetime <ISO-8601>      start at the first record at or after this time (not with --group)
  --max-messages <n>              stop after printing n records
  --timeout-ms <ms>               stop when no record arrives for this long
  --print-key                     print the key before the value (null when absent)
  --print-headers                 print headers as k:v,k:v (NO_HEADERS when absent)
  --print-offset                  print Offset:<n>
  --print-partition               print Partition:<n>
  --separator <text>              between printed fields (default a tab)
  --help                          show this help`;

const FLAGS = {
  'bootstrap-server': { type: 'string' },
  topic: { type: 'string' },
  group: { type: 'string' },
  'from-beginning': { type: 'boolean' },
  offset: { type: 'string' },
  partition: { type: 'string' },
  'from-datetime': { type: 'string' },
  'max-messages': { type: 'string' },
  'timeout-ms': { type: 'string' },
  'print-key': { type: 'boolean' },
  'print-headers': { type: 'boolean' },
  'print-offset': { type: 'boolean' },
  'print-partition': { type: 'boolean' },
  separator: { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;

/** Where a groupless consumer starts each partition. */
type Start = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'offset'; offset: bigint } | { kind: 'time'; timestamp: number };

export const consumeCommand: Command = {
  name: 'consume',
  summary: 'print records of a topic',
  async run(argv) {
    const flags = parseFlags(argv, FLAGS, 'consume');
    if (flags.help === true) { console.log(HELP); return; }
    const topic = requireFlag(flags.topic, '--topic', 'orders');
    const bootstrap = bootstrapServer(flags['bootstrap-server']);
    const start = startFrom(flags);
    const partition = integerFlag(flags.partition, '--partition', 0);
    const maxMessages = integerFlag(flags['max-messages'], '--max-messages', 1);
    const timeoutMs = integerFlag(flags['timeout-ms'], '--timeout-ms', 1);
    const consumer = await asCliErrors(async () => new Consumer({
      bootstrapServers: bootstrap, clientId: 'runnel-consume', autoOffsetReset: start.kind === 'earliest' ? 'earliest' : 'latest',
      ...(flags.group === undefined ? {} : { groupId: flags.group }),
    }), 'consume');
    const stop = { requested: false };
    const onSignal = (): void => { stop.requested = true; };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let printed = 0;
    try {
      if (flags.group !== undefined) consumer.subscribe({ topics: [topic], fromBeginning: start.kind === 'earliest' });
      else consumer.assign(await startingPositions(bootstrap, topic, partition, start));
      printed = await printLoop(consumer, flags, { maxMessages, timeoutMs, stop });
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      await consumer.close();
    }
    console.error(`Processed a total of ${printed} messages`);
  },
};

function startFrom(flags: Flags): Start {
  const chosen = [flags['from-beginning'] === true, flags.offset !== undefined, flags['from-datetime'] !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new CliError('--from-beginning, --offset and --from-datetime exclude each other', 'keep one of them');
  if (flags.group !== undefined && (flags.offset !== undefined || flags['from-datetime'] !== undefined || flags.partition !== undefined)) {
    throw new CliError('--offset, --partition and --from-datetime do not apply with --group', "the group decides partitions and resumes from its commits; use 'runnel groups reset-offsets' to move them");
  }
  if (flags.offset !== undefined && flags.partition === undefined) {
    throw new CliError('--offset needs --partition', 'add the partition to read, e.g. --partition 0 --offset 42');
  }
  if (flags['from-beginning'] === true || flags.offset === 'earliest') return { kind: 'earliest' };
  if (flags.offset === 'latest') return { kind: 'latest' };
  if (flags.offset !== undefined) return { kind: 'offset', offset: offsetFlag(flags.offset, '--offset') };
  if (flags['from-datetime'] !== undefined) return { kind: 'time', timestamp: dateTimeFlag(flags['from-datetime'], '--from-datetime') };
  return { kind: 'latest' };
}

async function startingPositions(bootstrap: string, topic: string, partition: number | undefined, start: Start): Promise<{ topic: string; partition: number; offset: bigint }[]> {
  const admin = new Admin({ bootstrapServers: bootstrap, clientId: 'runnel-consume' });
  try {
    const spec = start.kind === 'time' ? { timestamp: start.timestamp } : start.kind === 'earliest' ? 'earliest' : 'latest';
    const offsets = await admin.listOffsets(topic, spec);
    const latest = start.kind === 'time' ? await admin.listOffsets(topic, 'latest') : offsets;
    if (partition !== undefined && !offsets.some((entry) => entry.partition === partition)) {
      throw new CliError(`topic ${topic} has no partition ${partition}`, `choose one of 0-${offsets.length - 1}`);
    }
    return offsets
      .filter((entry) => partition === undefined || entry.partition === partition)
      .map((entry) => {
        // A time after the last record gives offset -1: start at the end, as Kafka's tools do.
        const end = latest.find((candidate) => candidate.partition === entry.partition)?.offset ?? 0n;
        const offset = start.kind === 'offset' ? start.offset : entry.offset < 0n ? end : entry.offset;
        return { topic, partition: entry.partition, offset };
      });
  } finally {
    await admin.close();
  }
}

async function printLoop(consumer: Consumer, flags: Flags, limits: { maxMessages: number | undefined; timeoutMs: number | undefined; stop: { requested: boolean } }): Promise<number> {
  let printed = 0;
  let lastRecordAt = Date.now();
  while (!limits.stop.requested) {
    // Asking for no more than are still wanted keeps a group from committing unprinted records.
    const wanted = limits.maxMessages === undefined ? {} : { maxRecords: limits.maxMessages - printed };
    const records = await consumer.poll({ timeoutMs: 200, ...wanted });
    for (const record of records) process.stdout.write(formatRecord(record, flags) + '\n');
    printed += records.length;
    if (records.length > 0) lastRecordAt = Date.now();
    if (limits.maxMessages !== undefined && printed >= limits.maxMessages) break;
    if (limits.timeoutMs !== undefined && Date.now() - lastRecordAt >= limits.timeoutMs) break;
  }
  return printed;
}

function formatRecord(record: ConsumerRecord, flags: Flags): string {
  const fields: string[] = [];
  if (flags['print-partition'] === true) fields.push(`Partition:${record.partition}`);
  if (flags['print-offset'] === true) fields.push(`Offset:${record.offset}`);
  if (flags['print-headers'] === true) {
    fields.push(record.headers.length === 0 ? 'NO_HEADERS' : record.headers.map((header) => `${header.key}:${header.value?.toString() ?? 'null'}`).join(','));
  }
  if (flags['print-key'] === true) fields.push(record.key?.toString() ?? 'null');
  fields.push(record.value?.toString() ?? 'null');
  return fields.join(flags.separator ?? '\t');
}
