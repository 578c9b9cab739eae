// Flag parsing shared by the client commands (topics, produce, consume, groups): every
// mistake becomes a CliError that says what was wrong and how to fix it, which main turns into
// exit code 2, the way Kafka's tools refuse bad arguments before touching the cluster.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DateTime, Duration } from 'luxon';
import { KafkaConfigError } from '../client/errors.ts';
import { CliError } from './command.ts';

export const DEFAULT_BOOTSTRAP = '127.0.0.1:9092';

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, with errors rewritten to name the command's --help. */
export function parseFlags<T extends Options>(args: string[], options: T, command: string): ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      throw new CliError(error.message, `run 'runnel ${command} --help' to see the options`);
    }
    throw error;
  }
}

export function bootstrapServer(value: string | undefined): string {
  const servers = (value ?? DEFAULT_BOOTSTRAP).split(',').map((entry) => entry.trim());
  for (const server of servers) {
    if (!/^[^\s:]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/.test(server)) {
      throw new CliError(`--bootstrap-server '${server}' is not host:port`, `write it as --bootstrap-server ${DEFAULT_BOOTSTRAP}`);
    }
  }
  return servers.join(',');
}

export function requireFlag(value: string | undefined, flag: string, example: string): string {
  if (value === undefined || value === '') throw new CliError(`${flag} is required`, `add it, e.g. ${flag} ${example}`);
  return value;
}

export function integerFlag(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new CliError(`${flag} ${value} is not a whole number of at least ${min}`, `give e.g. ${flag} ${Math.max(min, 1)}`);
  }
  return Number(value);
}

export function offsetFlag(value: string, flag: string): bigint {
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} ${value} is not an offset`, `give a non-negative number, e.g. ${flag} 42`);
  return BigInt(value);
}

/** Repeatable k=v flags (--config, --header) as an ordered list of pairs. */
export function keyValues(entries: readonly string[] | undefined, flag: string, example: string): [string, string][] {
  return (entries ?? []).map((entry) => {
    const at = entry.indexOf('=');
    if (at <= 0) throw new CliError(`${flag} ${entry} is not key=value`, `write it as ${flag} ${example}`);
    return [entry.slice(0, at), entry.slice(at + 1)];
  });
}

/** An ISO-8601 duration (PT90S, P2D) in ms: zero or more, or with `positive` more than zero. */
export function durationFlag(value: string, flag: string, positive: boolean, examples: readonly [string, string]): number {
  const duration = Duration.fromISO(value);
  const millis = duration.toMillis();
  if (!duration.isValid || (positive ? millis <= 0 : millis < 0)) {
    throw new CliError(`${flag} '${value}' is not ${positive ? 'a positive' : 'an'} ISO-8601 duration`, `write it like ${flag} ${examples[0]} or ${flag} ${examples[1]}`);
  }
  return millis;
}

/** An ISO-8601 date-time (a zone offset is optional; without one, local time) as epoch ms. */
export function dateTimeFlag(value: string, flag: string): number {
  const parsed = DateTime.fromISO(value, { setZone: true });
  if (!parsed.isValid) {
    throw new CliError(`${flag} '${value}' is not an ISO-8601 date-time (${parsed.invalidExplanation ?? parsed.invalidReason ?? 'unreadable'})`, `write it like ${flag} 2026-01-31T12:00:00Z or ${flag} 2026-01-31T12:00:00.000+01:00`);
  }
  return parsed.toMillis();
}

/** Client option mistakes are the user's too: report them like flag mistakes. */
export async function asCliErrors<T>(run: () => Promise<T>, command: string): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof KafkaConfigError) throw new CliError(error.message, `run 'runnel ${command} --help' to see the options`);
    throw error;
  }
}

/** Pads columns like Kafka's tools print their tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => { widths[index] = Math.max(widths[index] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd((widths[index] ?? 0) + 2))).join('')).join('\n');
}
