// `runnel broker start`: runs a single-node broker in the foreground until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { CliError, type Command } from './command.ts';

const HELP = `Usage: runnel broker start [options]

Starts a single-node Kafka-compatible broker in the foreground.

Options:
  --data-dir <dir>         where logs and metadata live (log.dirs; default ./data)
  --port <port>            port to listen on (default 9092; 0 picks a free port)
  --host <host>            address to bind (default 127.0.0.1)
  --config <file>          a Kafka-style server.properties file
  --override <key=value>   any broker setting, repeatable (e.g. --override num.partitions=3)
  --help                   show this help

The bound address is printed as "listening on host:port" once the broker accepts clients.`;

export const brokerCommand: Command = {
  name: 'broker',
  summary: 'run a broker (broker start --help)',
  async run(argv) {
    const [action, ...rest] = argv;
    if (action === undefined || action === '--help' || action === '-h') { console.log(HELP); return; }
    if (action !== 'start') throw new CliError(`unknown broker action '${action}'`, 'use: runnel broker start --data-dir ./data');
    const { values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, config: { type: 'string' },
        override: { type: 'string', multiple: true }, help: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.help === true) { console.log(HELP); return; }
    const overrides: Record<string, string> = {};
    for (const entry of values.override ?? []) {
      const at = entry.indexOf('=');
      if (at <= 0) throw new CliError(`--override ${entry} is not key=value`, 'write it as --override num.partitions=3');
      overrides[entry.slice(0, at)] = entry.slice(at + 1);
    }
    if (values['data-dir'] !== undefined) overrides['log.dirs'] = values['data-dir'];
    if (values.port !== undefined || values.host !== undefined) {
      if (values.port !== undefined && !/^\d+$/.test(values.port)) throw new CliError(`--port ${values.port} is not a number`, 'give a port such as --port 9092');
      overrides['listeners'] = `PLAINTEXT://${values.host ?? '127.0.0.1'}:${values.port ?? '9092'}`;
    }
    // The broker's modules load only for this command, so client commands start a second sooner.
    const { Broker } = await import('../broker/broker.ts');
    const { ConfigError, loadBrokerConfig } = await import('../broker/config.ts');
    let config;
    try {
      config = loadBrokerConfig(values.config, overrides);
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(error.message, 'fix the settings named above (see runnel broker start --help)');
      throw error;
    }
    const broker = await Broker.start(config);
    const { host, port } = broker.advertisedAddress;
    console.log(`listening on ${host}:${port}`);
    await new Promise<void>((resolve) => {
      const stop = (): void => { void broker.stop().then(resolve); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
