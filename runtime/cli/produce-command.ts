// `runnel produce --topic t`: one record per input line, after kafka-console-producer.sh.
// With --key-separator each line is `key<separator>value` (parse.key=true in Kafka's tool); a
// line without the separator is refused with its line number, as Kafka's tool does.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Producer, type ProducerMessage } from '../client/producer.ts';
import { asCliErrors, bootstrapServer, integerFlag, keyValues, parseFlags, requireFlag } from './client-args.ts';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel produce --topic <name> [options] < lines

Sends one record per line of standard input (or of --file) and prints nothing on success.

Options:
  --bootstrap-server <host:port>  a broker to start from (default 127.0.0.1:9092)
  --topic <name>                  the topic to write to (required)
  --file <path>                   read lines from this file instead of standard input
  --key-separator <text>          split each line into key and value at the first <text>
  --header <key=value>            a header on every record, repeatable
  --partition <n>                 write every record to this partition
  --compression <codec>           none, gzip, snappy, lz4 or zstd (default none)
  --acks <0|1|all>                acknowledgements to wait for (default all)
  --linger-ms <ms>                how long a batch waits to fill (default 5)
  --verbose                       print topic-partition@offset for each record
  --help                          show this help`;

const FLAGS = {
  'bootstrap-server': { type: 'string' },
  topic: { type: 'string' },
  file: { type: 'string' },
  'key-separator': { type: 'string' },
  header: { type: 'string', multiple: true },
  partition: { type: 'string' },
  compression: { type: 'string' },
  acks: { type: 'string' },
  'linger-ms': { type: 'string' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Records sent per send() call, which bounds how much input is held in memory at once. */
const CHUNK_RECORDS = 1_000;

export const produceCommand: Command = {
  name: 'produce',
  summary: 'write lines from standard input or a file as records',
  async run(argv) {
    const flags = parseFlags(argv, FLAGS, 'produce');
    if (flags.help === true) { console.log(HELP); return; }
    const topic = requireFlag(flags.topic, '--topic', 'orders');
    const bootstrap = bootstrapServer(flags['bootstrap-server']);
    const headers = keyValues(flags.header, '--header', 'source=cli').map(([key, value]) => ({ key, value }));
    const partition = integerFlag(flags.partition, '--partition', 0);
    const separator = flags['key-separator'];
    if (separator === '') throw new CliError('--key-separator is empty', 'give the text between key and value, e.g. --key-separator :');
    if (flags.file !== undefined && !existsSync(flags.file)) throw new CliError(`--file ${flags.file} does not exist`, 'give the path of a readable text file');
    const producer = await asCliErrors(async () => new Producer({
      bootstrapServers: bootstrap, clientId: 'runnel-produce',
      ...(flags.compression === undefined ? {} : { compression: flags.compression as never }),
      ...(flags.acks === undefined ? {} : { acks: flags.acks as never }),
      ...(flags['linger-ms'] === undefined ? {} : { lingerMs: flags['linger-ms'] }),
    }), 'produce');
    const input: Readable = flags.file === undefined ? process.stdin : createReadStream(flags.file);
    try {
      await sendLines(producer, input, { topic, headers, partition, separator, verbose: flags.verbose === true });
      await producer.flush();
    } finally {
      await producer.close();
    }
  },
};

interface LineOptions {
  topic: string;
  headers: { key: string; value: string }[];
  partition: number | undefined;
  separator: string | undefined;
  verbose: boolean;
}

async function sendLines(producer: Producer, input: Readable, options: LineOptions): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let chunk: ProducerMessage[] = [];
  let lineNumber = 0;
  const sent: Promise<void>[] = [];
  const flushChunk = (): void => {
    const messages = chunk;
    chunk = [];
    const delivered = producer.send({ topic: options.topic, messages }).then((metadata) => {
      if (options.verbose) for (const entry of metadata) console.log(`${entry.topic}-${entry.partition}@${entry.offset}`);
    });
    // A bad line later in the input ends the loop early; this keeps an earlier failure from
    // surfacing as an unhandled rejection before it is awaited.
    delivered.catch(() => undefined);
    sent.push(delivered);
  };
  for await (const line of lines) {
    lineNumber += 1;
    chunk.push(messageFor(line, lineNumber, options));
    if (chunk.length >= CHUNK_RECORDS) {
      flushChunk();
      // Waiting for the previous chunk keeps memory bounded when stdin is faster than the broker.
      if (sent.length > 1) await sent[sent.length - 2];
    }
  }
  if (chunk.length > 0) flushChunk();
  await Promise.all(sent);
}

function messageFor(line: string, lineNumber: number, options: LineOptions): ProducerMessage {
  const message: ProducerMessage = { value: line, headers: options.headers };
  if (options.partition !== undefined) message.partition = options.partition;
  if (options.separator === undefined) return message;
  const at = line.indexOf(options.separator);
  if (at < 0) {
    throw new CliError(`line ${lineNumber} has no key separator '${options.separator}'`, 'write every line as key<separator>value, or leave out --key-separator');
  }
  message.key = line.slice(0, at);
  message.value = line.slice(at + options.separator.length);
  return message;
}
