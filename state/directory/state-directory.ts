// The local state directory of a streams application: `<state.dir>/<application.id>/` holding
// one directory per task, `<subtopology>_<partition>/`, each with the task's RocksDB instance and
// `.checkpoint` file. One process at a time may use an application's directory, so it is locked
// with a `.lock` file naming the owner (pid and hostname). A process killed without unlocking
// leaves the file behind; the next process sees that the pid is gone on this host and takes the
// lock over. Directories of tasks this process no longer runs are deleted once unused for
// state.cleanup.delay.ms, so a task that comes back soon after a rebalance restores only the tail
// of its changelogs, while one that moved away for good does not hold disk forever.
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { LIMITS } from '../../core/limits.ts';

export interface TaskId {
  readonly subtopology: number;
  readonly partition: number;
}

/** Who holds an application's state directory. */
export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly acquiredAtMs: number;
}

export class StateDirectoryLockedError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner,
  ) {
    super(`state directory ${path} is locked by pid ${owner.pid} on ${owner.hostname} since ${new Date(owner.acquiredAtMs).toISOString()}`);
    this.name = 'StateDirectoryLockedError';
  }
}

export const LOCK_FILE = '.lock';
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;
const TASK_DIRECTORY_PATTERN = /^(\d{1,9})_(\d{1,9})$/;
const lockOwnerSchema = z.object({ pid: z.number().int().positive(), hostname: z.string().min(1), acquiredAtMs: z.number().int().nonnegative() });

/** Kafka Streams puts state under the temporary directory unless state.dir says otherwise. */
export function defaultStateDir(): string {
  return join(tmpdir(), 'runnel-streams');
}

export function taskDirectoryName(task: TaskId): string {
  if (!Number.isInteger(task.subtopology) || task.subtopology < 0 || !Number.isInteger(task.partition) || task.partition < 0) {
    throw new Error(`task ${task.subtopology}_${task.partition} is not a valid task id`);
  }
  return `${task.subtopology}_${task.partition}`;
}

/** The task a directory name stands for, or null for anything else found in the directory. */
export function parseTaskDirectoryName(name: string): TaskId | null {
  const match = TASK_DIRECTORY_PATTERN.exec(name);
  if (match === null) return null;
  return { subtopology: Number(match[1]), partition: Number(match[2]) };
}

export function applicationDirectory(stateDir: string, applicationId: string): string {
  if (!NAME_PATTERN.test(applicationId)) throw new Error(`application.id ${JSON.stringify(applicationId)} cannot name a directory (use letters, digits, '.', '_', '-')`);
  return join(stateDir, applicationId);
}

export function taskDirectory(stateDir: string, applicationId: string, task: TaskId): string {
  return join(applicationDirectory(stateDir, applicationId), taskDirectoryName(task));
}

export interface StateDirectoryOptions {
  /** state.dir; defaults to defaultStateDir(). */
  readonly stateDir?: string;
  readonly applicationId: string;
  /** The clock, replaceable in tests. */
  readonly nowMs?: () => number;
}

export interface TaskDirectoryInfo {
  readonly task: TaskId;
  readonly path: string;
  /** When the task last wrote a checkpoint or was released, whichever is later. */
  readonly lastUsedMs: number;
}

export interface CleanupOptions {
  /** state.cleanup.delay.ms. */
  readonly cleanupDelayMs?: number;
}

/** An application's locked state directory; create with StateDirectory.lock, end with unlock. */
export class StateDirectory {
  /** Tasks this process runs (active or standby): never cleaned up while claimed. */
  private readonly claimed = new Set<string>();
  private locked = true;

  private constructor(
    readonly path: string,
    readonly owner: LockOwner,
    private readonly nowMs: () => number,
  ) {}

  /** Creates the application directory if needed and locks it; throws StateDirectoryLockedError when a live process holds it. */
  static async lock(options: StateDirectoryOptions): Promise<StateDirectory> {
    const nowMs = options.nowMs ?? Date.now;
    const path = applicationDirectory(options.stateDir ?? defaultStateDir(), options.applicationId);
    await mkdir(path, { recursive: true });
    const owner: LockOwner = { pid: process.pid, hostname: hostname(), acquiredAtMs: nowMs() };
    await acquireLockFile(path, owner);
    return new StateDirectory(path, owner, nowMs);
  }

  taskDirectory(task: TaskId): string {
    return join(this.path, taskDirectoryName(task));
  }

  /** Claims the task for this process and creates its directory; returns the path. */
  async claimTask(task: TaskId): Promise<string> {
    this.assertLocked();
    const path = this.taskDirectory(task);
    await mkdir(path, { recursive: true });
    this.claimed.add(taskDirectoryName(task));
    return path;
  }

  /** Releases the task (it closed or moved away); the cleanup delay counts from now. */
  async releaseTask(task: TaskId): Promise<void> {
    this.claimed.delete(taskDirectoryName(task));
    await touch(this.taskDirectory(task), this.nowMs());
  }

  isClaimed(task: TaskId): boolean {
    return this.claimed.has(taskDirectoryName(task));
  }

  /** Task directories present on disk, in task order. */
  async listTaskDirectories(): Promise<TaskDirectoryInfo[]> {
    const result: TaskDirectoryInfo[] = [];
    for (const entry of await readdir(this.path, { withFileTypes: true })) {
      const task = entry.isDirectory() ? parseTaskDirectoryName(entry.name) : null;
      if (task === null) continue;
      const path = join(this.path, entry.name);
      const lastUsedMs = await lastUsed(path);
      if (lastUsedMs !== null) result.push({ task, path, lastUsedMs });
    }
    return result.sort((a, b) => a.task.subtopology - b.task.subtopology || a.task.partition - b.task.partition);
  }

  /**
   * Deletes task directories this process does not claim and that have not been used for the
   * cleanup delay (Kafka Streams' cleanRemovedTasks); returns the tasks deleted.
   */
  async cleanRemovedTasks(options: CleanupOptions = {}): Promise<TaskId[]> {
    this.assertLocked();
    const delayMs = options.cleanupDelayMs ?? LIMITS.stateCleanupDelayMsDefault;
    if (!Number.isSafeInteger(delayMs) || delayMs < 0) throw new Error(`state.cleanup.delay.ms ${delayMs} must be a non-negative integer`);
    const now = this.nowMs();
    const deleted: TaskId[] = [];
    for (const info of await this.listTaskDirectories()) {
      if (this.isClaimed(info.task) || now - info.lastUsedMs < delayMs) continue;
      await rm(info.path, { recursive: true, force: true });
      deleted.push(info.task);
    }
    return deleted;
  }

  /** Deletes one unclaimed task's state, as a reset or a corrupted store needs. */
  async wipeTask(task: TaskId): Promise<void> {
    this.assertLocked();
    if (this.isClaimed(task)) throw new Error(`task ${taskDirectoryName(task)} is in use; release it before wiping its state`);
    await rm(this.taskDirectory(task), { recursive: true, force: true });
  }

  /** Removes the lock file if it is still this process's; further use throws. */
  async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    this.claimed.clear();
    const current = await readOwner(join(this.path, LOCK_FILE));
    if (current !== null && current !== 'unreadable' && sameOwner(current, this.owner)) await unlinkIfPresent(join(this.path, LOCK_FILE));
  }

  private assertLocked(): void {
    if (!this.locked) throw new Error(`state directory ${this.path} was unlocked`);
  }
}

/**
 * Creates the lock file with its content in one step (write a private file, then hard-link it
 * to the lock name, which fails if the name exists), so no reader ever sees a half-written lock.
 */
async function acquireLockFile(directory: string, owner: LockOwner): Promise<void> {
  const lockPath = join(directory, LOCK_FILE);
  const privatePath = join(directory, `${LOCK_FILE}.${owner.pid}.${owner.acquiredAtMs}.tmp`);
  const handle = await open(privatePath, 'w');
  try {
    await handle.writeFile(JSON.stringify(owner));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(privatePath, lockPath);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readOwner(lockPath);
      if (holder === null) continue;
      if (holder === 'unreadable' || !isStale(holder)) throw new StateDirectoryLockedError(directory, holder === 'unreadable' ? unknownOwner : holder);
      await breakStaleLock(lockPath, holder);
    }
    throw new Error(`state directory ${directory}: could not take the lock after removing stale locks; another process is starting at the same time`);
  } finally {
    await unlinkIfPresent(privatePath);
  }
}

const unknownOwner: LockOwner = { pid: 1, hostname: 'unknown', acquiredAtMs: 0 };

/**
 * Moves the stale lock aside, then checks that what moved is the stale lock it judged: if a
 * competing process had replaced it in between, the moved file is that process's fresh lock and
 * is linked back. A third process that links its own lock in the instant between the move and
 * the link back could still end up holding the directory alongside that process; the window is
 * two system calls wide, and RocksDB's LOCK file still keeps two processes out of one task's
 * database.
 */
async function breakStaleLock(lockPath: string, stale: LockOwner): Promise<void> {
  const asidePath = `${lockPath}.stale.${process.pid}`;
  try {
    await rename(lockPath, asidePath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readOwner(asidePath);
  if (moved !== null && moved !== 'unreadable' && !sameOwner(moved, stale)) {
    await link(asidePath, lockPath).catch(() => {});
  }
  await unlinkIfPresent(asidePath);
}

/** A lock is stale only when its owner ran on this host and that pid no longer exists. */
function isStale(owner: LockOwner): boolean {
  if (owner.hostname !== hostname()) return false;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    // EPERM means the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function readOwner(path: string): Promise<LockOwner | 'unreadable' | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return lockOwnerSchema.parse(JSON.parse(text));
  } catch {
    return 'unreadable';
  }
}

function sameOwner(a: LockOwner, b: LockOwner): boolean {
  return a.pid === b.pid && a.hostname === b.hostname && a.acquiredAtMs === b.acquiredAtMs;
}

/** The later of the directory's and its checkpoint's modification times, or null if it vanished. */
async function lastUsed(path: string): Promise<number | null> {
  try {
    const directoryMs = (await stat(path)).mtimeMs;
    const checkpointMs = await stat(join(path, '.checkpoint')).then(
      (checkpoint) => checkpoint.mtimeMs,
      () => 0,
    );
    return Math.floor(Math.max(directoryMs, checkpointMs));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function touch(path: string, nowMs: number): Promise<void> {
  try {
    await utimes(path, nowMs / 1000, nowMs / 1000);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
