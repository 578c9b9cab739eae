// A small structured logger: one line per event on stderr, level filtered by RUNNEL_LOG_LEVEL
// (error, warn, info, debug; default info). Lines look like
//   2026-11-21T19:40:00.000Z INFO  broker connection closed remote=127.0.0.1:51234 reason=...

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

function configuredRank(): number {
  const level = process.env['RUNNEL_LOG_LEVEL'] as LogLevel | undefined;
  return level !== undefined && level in RANK ? RANK[level] : RANK.info;
}

export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  let text = '';
  for (const [key, value] of Object.entries(fields)) {
    const shown = value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    text += ` ${key}=${shown}`;
  }
  return text;
}

export function createLogger(component: string, sink: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const rank = configuredRank();
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] > rank) return;
    sink(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${component} ${message}${formatFields(fields)}`);
  };
  return {
    error: (message, fields) => emit('error', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    info: (message, fields) => emit('info', message, fields),
    debug: (message, fields) => emit('debug', message, fields),
    child: (name) => createLogger(`${component}.${name}`, sink),
  };
}
