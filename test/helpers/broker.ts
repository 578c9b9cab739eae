// Starts real broker processes for integration tests: `runnel broker start` in a child process
// on a loopback port chosen at run time, with a temporary data directory. Every process a test
// starts is tracked and killed when the test file ends, whatever happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPOSITORY_ROOT, 'runtime/cli/main.ts');

const running = new Set<ChildProcess>();
const directories = new Set<string>();

/**
 * How long a broker or cluster node process may take to print that it listens. A cold start
 * (tsx transforming every module) of several processes at once on a loaded 2-core machine took
 * over 30 s; the hook timeout in test/vitest.config.ts stays above this so this message, with the
 * process's log, is the one reported.
 */
export const PROCESS_START_DEADLINE_MS = 90_000;

export interface BrokerProcess {
  host: string;
  port: number;
  dataDirectory: string;
  bootstrap: string;
  /** Everything the broker wrote to stderr so far (its log). */
  logText(): string;
  /** SIGKILL: an unclean stop, as a crash or power cut would leave it. */
  kill(): Promise<void>;
  /** SIGTERM: a clean shutdown. */
  stop(): Promise<void>;
  /** Starts the broker again on the same port and data directory. */
  restart(): Promise<BrokerProcess>;
  process: ChildProcess;
}

export interface StartOptions {
  dataDirectory?: string;
  port?: number;
  overrides?: Record<string, string>;
  /** Arguments for node itself, before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArguments?: readonly string[];
}

export function temporaryDirectory(prefix = 'runnel-test-'): string {
  const directory = mkdtempSync(path.join(os.tmpdir(), prefix));
  directories.add(directory);
  return directory;
}

export async function startBroker(options: StartOptions = {}): Promise<BrokerProcess> {
  const dataDirectory = options.dataDirectory ?? temporaryDirectory();
  const overrides = { 'group.initial.rebalance.delay.ms': '0', ...options.overrides };
  const args = [...(options.nodeArguments ?? []), '--import', 'tsx', CLI, 'broker', 'start', '--data-dir', dataDirectory, '--port', String(options.port ?? 0)];
  for (const [key, value] of Object.entries(overrides)) args.push('--override', `${key}=${value}`);
  const child = spawn(process.execPath, args, { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUNNEL_LOG_LEVEL: process.env['RUNNEL_LOG_LEVEL'] ?? 'info' } });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start in ${PROCESS_START_DEADLINE_MS / 1000} s:\n${stderr}`)), PROCESS_START_DEADLINE_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on ([^:\s]+):(\d+)/.exec(stdout);
      if (match !== null) { clearTimeout(timer); resolve(Number(match[2])); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`broker exited with ${code} before listening:\n${stderr}`)); });
  });
  const host = '127.0.0.1';
  const broker: BrokerProcess = {
    host, port, dataDirectory, bootstrap: `${host}:${port}`, process: child,
    logText: () => stderr,
    kill: async () => { child.kill('SIGKILL'); await exited; },
    stop: async () => { child.kill('SIGTERM'); await exited; },
    restart: async () => {
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
      return startBroker({ ...options, dataDirectory, port });
    },
  };
  return broker;
}

/** Kills every broker still running and removes temporary directories; call in afterAll. */
export async function cleanup(): Promise<void> {
  await Promise.all([...running].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  directories.clear();
}

process.once('exit', () => { for (const child of running) child.kill('SIGKILL'); });
