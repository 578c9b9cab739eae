import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeCheckpoint } from '../../../state/checkpoint/checkpoint.ts';
import { LOCK_FILE, parseTaskDirectoryName, StateDirectory, StateDirectoryLockedError, taskDirectory, taskDirectoryName } from '../../../state/directory/state-directory.ts';
import { temporaryDirectory } from '../stores/rocksdb/helpers.ts';

const holderScript = fileURLToPath(new URL('./lock-holder.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
let stateDir: ReturnType<typeof temporaryDirectory>;
const children: ChildProcessWithoutNullStreams[] = [];

beforeEach(() => {
  stateDir = temporaryDirectory('runnel-state-dir-');
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  stateDir.remove();
});

interface Holder {
  readonly child: ChildProcessWithoutNullStreams;
  /** The first line the child printed: `locked <pid>` or `refused <owner pid>`. */
  readonly firstLine: Promise<string>;
  readonly exited: Promise<number | null>;
}

function startHolder(applicationId: string): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', holderScript, stateDir.path, applicationId], { cwd: repositoryRoot, stdio: 'pipe' });
  children.push(child);
  let output = '';
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => void (errors += chunk.toString()));
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const newline = output.indexOf('\n');
      if (newline >= 0) resolve(output.slice(0, newline));
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code} before printing: ${errors}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, firstLine, exited };
}

async function lockError(applicationId: string): Promise<StateDirectoryLockedError> {
  const error = await StateDirectory.lock({ stateDir: stateDir.path, applicationId }).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof StateDirectoryLockedError)) throw new Error(`expected a StateDirectoryLockedError, got ${String(error)}`);
  return error;
}

describe('state directory lock', () => {
  it('keeps a second process out, and takes over the lock of a process killed with SIGKILL', async () => {
    const holder = startHolder('orders-app');
    expect(await holder.firstLine).toBe(`locked ${holder.child.pid}`);
    const lockPath = join(stateDir.path, 'orders-app', LOCK_FILE);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: holder.child.pid, hostname: hostname() });

    const refused = await lockError('orders-app');
    expect(refused.owner.pid).toBe(holder.child.pid);
    // Another application's directory is not affected.
    const other = await StateDirectory.lock({ stateDir: stateDir.path, applicationId: 'billing-app' });
    await other.unlock();

    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(existsSync(lockPath)).toBe(true);
    const directory = await StateDirectory.lock({ stateDir: stateDir.path, applicationId: 'orders-app' });
    expect(directory.owner.pid).toBe(process.pid);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });

    // Now this process holds it: a child is refused, and this process itself cannot lock twice.
    const second = startHolder('orders-app');
    expect(await second.firstLine).toBe(`refused ${process.pid}`);
    expect(await second.exited).toBe(3);
    expect((await lockError('orders-app')).owner.pid).toBe(process.pid);

    await directory.unlock();
    expect(existsSync(lockPath)).toBe(false);
    await expect(directory.claimTask({ subtopology: 0, partition: 0 })).rejects.toThrow(/unlocked/);
  });

  it('is released by a clean shutdown of the holder', async () => {
    const holder = startHolder('orders-app');
    expect(await holder.firstLine).toMatch(/^locked /);
    holder.child.stdin.write('unlock\n');
    expect(await holder.exited).toBe(0);
    expect(existsSync(join(stateDir.path, 'orders-app', LOCK_FILE))).toBe(false);
    const directory = await StateDirectory.lock({ stateDir: stateDir.path, applicationId: 'orders-app' });
    await directory.unlock();
  });

  it('lets exactly one of several processes take over a stale lock at once', async () => {
    // A pid that surely is gone: a child that has already exited.
    const finished = spawn(process.execPath, ['-e', '0']);
    const deadPid = finished.pid;
    await new Promise((resolve) => finished.on('exit', resolve));
    mkdirSync(join(stateDir.path, 'orders-app'), { recursive: true });
    writeFileSync(join(stateDir.path, 'orders-app', LOCK_FILE), JSON.stringify({ pid: deadPid, hostname: hostname(), acquiredAtMs: 1 }));
    const holders = [startHolder('orders-app'), startHolder('orders-app'), startHolder('orders-app')];
    const lines = await Promise.all(holders.map((holder) => holder.firstLine));
    const winners = holders.filter((holder, index) => lines[index] === `locked ${holder.child.pid}`);
    expect(winners).toHaveLength(1);
    const winnerPid = winners[0]?.child.pid;
    expect(lines.filter((line) => line === `refused ${winnerPid}`)).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(stateDir.path, 'orders-app', LOCK_FILE), 'utf8'))).toMatchObject({ pid: winnerPid });
  });

  it('does not treat a lock from another host as stale', async () => {
    mkdirSync(join(stateDir.path, 'orders-app'), { recursive: true });
    writeFileSync(join(stateDir.path, 'orders-app', LOCK_FILE), JSON.stringify({ pid: 999_999_999, hostname: `${hostname()}-elsewhere`, acquiredAtMs: 1 }));
    expect((await lockError('orders-app')).owner.hostname).toBe(`${hostname()}-elsewhere`);
  });

  it('rejects application ids that cannot name a directory', async () => {
    await expect(StateDirectory.lock({ stateDir: stateDir.path, applicationId: '../escape' })).rejects.toThrow(/application.id/);
  });
});

describe('task directories', () => {
  it('names task directories <subtopology>_<partition> and parses them back', () => {
    expect(taskDirectory('/var/state', 'app', { subtopology: 2, partition: 11 })).toBe('/var/state/app/2_11');
    expect(parseTaskDirectoryName(taskDirectoryName({ subtopology: 2, partition: 11 }))).toEqual({ subtopology: 2, partition: 11 });
    expect(parseTaskDirectoryName('2_x')).toBeNull();
    expect(parseTaskDirectoryName('.lock')).toBeNull();
    expect(() => taskDirectoryName({ subtopology: -1, partition: 0 })).toThrow();
  });

  it('cleans up unclaimed task directories unused for state.cleanup.delay.ms', async () => {
    let clockMs = Date.now();
    const directory = await StateDirectory.lock({ stateDir: stateDir.path, applicationId: 'app', nowMs: () => clockMs });
    try {
      const running = await directory.claimTask({ subtopology: 0, partition: 0 });
      const movedAway = await directory.claimTask({ subtopology: 0, partition: 1 });
      const recent = await directory.claimTask({ subtopology: 1, partition: 0 });
      await writeCheckpoint(movedAway, [{ topic: 'app-counts-changelog', partition: 1, offset: 42n }]);
      // A directory left by an earlier run, last used an hour ago, that nobody claims.
      const leftOver = join(directory.path, '3_7');
      mkdirSync(leftOver);
      utimesSync(leftOver, (clockMs - 3_600_000) / 1000, (clockMs - 3_600_000) / 1000);
      mkdirSync(join(directory.path, 'not-a-task'));

      await directory.releaseTask({ subtopology: 0, partition: 1 });
      clockMs += 400_000;
      await directory.releaseTask({ subtopology: 1, partition: 0 });
      expect((await directory.listTaskDirectories()).map((info) => taskDirectoryName(info.task))).toEqual(['0_0', '0_1', '1_0', '3_7']);

      expect(await directory.cleanRemovedTasks()).toEqual([{ subtopology: 3, partition: 7 }]);
      // The checkpoint was written on the real clock a little after the fake clock's start.
      clockMs += 205_000;
      expect(await directory.cleanRemovedTasks()).toEqual([{ subtopology: 0, partition: 1 }]);
      expect(existsSync(movedAway)).toBe(false);
      expect(existsSync(running)).toBe(true);
      expect(existsSync(recent)).toBe(true);
      expect(await directory.cleanRemovedTasks({ cleanupDelayMs: 0 })).toEqual([{ subtopology: 1, partition: 0 }]);
      expect(existsSync(running)).toBe(true);
      expect(existsSync(join(directory.path, 'not-a-task'))).toBe(true);
      await expect(directory.wipeTask({ subtopology: 0, partition: 0 })).rejects.toThrow(/in use/);
    } finally {
      await directory.unlock();
    }
  });
});
