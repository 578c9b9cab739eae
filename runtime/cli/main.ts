#!/usr/bin/env -S node --import tsx
// The `runnel` command line, in the conventions of Kafka's own tools.
import { brokerCommand } from './broker-command.ts';
import { clusterCommand } from './cluster-command.ts';
import { KafkaConnectionError } from '../client/errors.ts';
import { CliError, type Command } from './command.ts';
import { consumeCommand } from './consume-command.ts';
import { groupsCommand } from './groups-command.ts';
import { produceCommand } from './produce-command.ts';
import { streamsCommand } from './streams-command.ts';
import { topicsCommand } from './topics-command.ts';

const COMMANDS: Command[] = [brokerCommand, clusterCommand, topicsCommand, produceCommand, consumeCommand, groupsCommand, streamsCommand];

function usage(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return `Usage: runnel <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'runnel <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    console.error(`runnel: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (error) {
    if (error instanceof CliError) {
      console.error(`runnel ${name}: ${error.message}\nhint: ${error.hint}`);
      return 2;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`runnel ${name}: ${error.message}\nhint: run 'runnel ${name} --help'`);
      return 2;
    }
    if (error instanceof KafkaConnectionError) {
      console.error(`runnel ${name}: ${error.message}\nhint: start a broker (runnel broker start --data-dir ./data) or name a running one with --bootstrap-server host:port`);
      return 1;
    }
    console.error(`runnel ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
