// Runs a streams application script in a child process (under tsx), so a test can SIGKILL it in
// the middle of its work and start it again. Every process started here is killed when the test
// file calls cleanupAppProcesses(), whatever happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { REPOSITORY_ROOT } from './broker.ts';

const running = new Set<ChildProcess>();

export interface AppProcess {
  readonly process: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Waits until stdout has a line matching the pattern; returns the match. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The last stdout line matching the pattern, or null. */
  lastLine(pattern: RegExp): RegExpMatchArray | null;
  /** SIGKILL, as a crash would end it. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

export function startAppProcess(script: string, env: Readonly<Record<string, string>>): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: REPOSITORY_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUNNEL_LOG_LEVEL: process.env['RUNNEL_LOG_LEVEL'] ?? 'warn', ...env },
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { running.delete(child); resolve(code); }));
  const lastLine = (pattern: RegExp): RegExpMatchArray | null => {
    const lines = stdout.split('\n');
    for (let index = lines.length - 1; index >= 0; index--) {
      const match = pattern.exec(lines[index] ?? '');
      if (match !== null) return match;
    }
    return null;
  };
  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    lastLine,
    async waitForLine(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = lastLine(pattern);
        if (match !== null) return match;
        if (child.exitCode !== null) throw new Error(`app process exited with ${child.exitCode} before printing ${pattern}:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`app process did not print ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export async function cleanupAppProcesses(): Promise<void> {
  await Promise.all([...running].map((child) => new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  })));
}

process.once('exit', () => { for (const child of running) child.kill('SIGKILL'); });
