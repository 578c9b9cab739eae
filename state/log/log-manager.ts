// Owns a data directory of partition logs: `<data>/<topic>-<partition>/`. Topic metadata
// (partition counts, topic ids, configs) is the broker's; this class only knows the directories
// it finds and the logs it is asked to open, create or delete.
//
// Background work runs on unref'd timers: retention every retentionCheckIntervalMs (Kafka's
// log.retention.check.interval.ms) one partition per event-loop turn, so an append never waits
// behind a whole pass; and a flush check every flushCheckIntervalMs that fsyncs the logs whose
// flushMs has passed (a cheap comparison per log when nothing is due, and it notices configs
// changed through PartitionLog.reconfigure without being told). The log cleaner runs every
// cleanerBackoffMs (Kafka's log.cleaner.backoff.ms) over the compacted logs that are due,
// filthiest first and one partition at a time; it yields to the event loop while it reads.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type CleanResult, LogCleaner, type LogCleanerOptions } from './cleaner.ts';
import type { LogConfig } from './config.ts';
import { type DeletedSegment, PartitionLog } from './partition-log.ts';

export interface LogManagerOptions {
  /** log.retention.check.interval.ms; default 300000 (Kafka's). */
  retentionCheckIntervalMs?: number;
  /** How often to look for logs whose flushMs has passed (log.flush.scheduler.interval.ms); default 1000. */
  flushCheckIntervalMs?: number;
  /** Opens every partition directory found at start with this config; otherwise they open on first getOrCreate. */
  configFor?: (topic: string, partition: number) => LogConfig;
  nowMs?: () => number;
  log?: (line: string) => void;
  /** log.cleaner.enable: run the cleaner on a timer; default true. LogManager.cleaner works either way. */
  cleanerEnabled?: boolean;
  /** log.cleaner.backoff.ms: the pause between two cleaner passes; default 15000 (Kafka's). */
  cleanerBackoffMs?: number;
  /** log.cleaner.dedupe.buffer.size and log.cleaner.io.buffer.size, under the cleaner's names. */
  cleaner?: Omit<LogCleanerOptions, 'nowMs'>;
  /**
   * The offset below which a partition may be compacted (its high watermark or last stable
   * offset); undefined means everything below the active segment. The broker supplies it.
   */
  cleanableOffsetLimitFor?: (topic: string, partition: number) => bigint | undefined;
}

export interface CleanerPassResult {
  topic: string;
  partition: number;
  result: CleanResult;
}

export interface PartitionDirectory {
  topic: string;
  partition: number;
  directory: string;
}

export interface RetentionPassResult {
  topic: string;
  partition: number;
  deleted: DeletedSegment[];
}

const DELETE_SUFFIX = '-delete';
const PARTITION_DIRECTORY_PATTERN = /^(.+)-(\d+)$/;
const RETENTION_CHECK_INTERVAL_MS_DEFAULT = 300_000;
/** setInterval's largest delay; longer periods would fire at once. */
const TIMER_DELAY_MS_MAX = 0x7fff_ffff;
const FLUSH_CHECK_INTERVAL_MS_DEFAULT = 1000;
const CLEANER_BACKOFF_MS_DEFAULT = 15_000;

/** Splits `<topic>-<partition>`; topic names may hold '.', '_' and '-', so the last '-' decides. */
export function parsePartitionDirectoryName(name: string): { topic: string; partition: number } | null {
  const match = PARTITION_DIRECTORY_PATTERN.exec(name);
  if (match?.[1] === undefined || match[2] === undefined) return null;
  return { topic: match[1], partition: Number(match[2]) };
}

export function partitionDirectoryName(topic: string, partition: number): string {
  if (topic.length === 0 || topic.includes('/') || topic === '.' || topic === '..') throw new Error(`log manager: bad topic name ${JSON.stringify(topic)}`);
  if (!Number.isInteger(partition) || partition < 0) throw new Error(`log manager: bad partition ${partition}`);
  return `${topic}-${partition}`;
}

export class LogManager {
  readonly dataDirectory: string;
  readonly #logs = new Map<string, PartitionLog>();
  readonly #onDisk = new Map<string, PartitionDirectory>();
  readonly #nowMs: () => number;
  readonly #log: (line: string) => void;
  #retentionTimer: NodeJS.Timeout | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  #retentionRunning = false;
  /** Compacts logs whose cleanup.policy includes compact; tests call cleaner.clean(log) directly. */
  readonly cleaner: LogCleaner;
  readonly #cleanableOffsetLimitFor: (topic: string, partition: number) => bigint | undefined;
  #cleanerTimer: NodeJS.Timeout | null = null;
  #cleanerRunning = false;
  #closed = false;

  private constructor(dataDirectory: string, options: LogManagerOptions) {
    this.dataDirectory = dataDirectory;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#log = options.log ?? ((line: string) => console.warn(line));
    this.cleaner = new LogCleaner({ ...options.cleaner, nowMs: this.#nowMs });
    this.#cleanableOffsetLimitFor = options.cleanableOffsetLimitFor ?? (() => undefined);
  }

  /** Finds the partition directories, finishes interrupted deletions and starts the timers. */
  static open(dataDirectory: string, options: LogManagerOptions = {}): LogManager {
    fs.mkdirSync(dataDirectory, { recursive: true });
    const manager = new LogManager(dataDirectory, options);
    for (const entry of fs.readdirSync(dataDirectory, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const directory = path.join(dataDirectory, entry.name);
      if (entry.name.endsWith(DELETE_SUFFIX)) {
        fs.rmSync(directory, { recursive: true, force: true });
        continue;
      }
      const parsed = parsePartitionDirectoryName(entry.name);
      if (parsed !== null) manager.#onDisk.set(entry.name, { ...parsed, directory });
    }
    if (options.configFor !== undefined) {
      for (const found of manager.#onDisk.values()) {
        manager.#openLog(found.topic, found.partition, options.configFor(found.topic, found.partition));
      }
    }
    const intervalMs = options.retentionCheckIntervalMs ?? RETENTION_CHECK_INTERVAL_MS_DEFAULT;
    manager.#retentionTimer = setInterval(() => void manager.runRetention(), Math.min(intervalMs, TIMER_DELAY_MS_MAX));
    manager.#retentionTimer.unref();
    const flushCheckMs = options.flushCheckIntervalMs ?? FLUSH_CHECK_INTERVAL_MS_DEFAULT;
    manager.#flushTimer = setInterval(() => manager.flushDue(), Math.min(flushCheckMs, TIMER_DELAY_MS_MAX));
    manager.#flushTimer.unref();
    if (options.cleanerEnabled ?? true) {
      const backoffMs = options.cleanerBackoffMs ?? CLEANER_BACKOFF_MS_DEFAULT;
      manager.#cleanerTimer = setInterval(() => void manager.runCleaner(), Math.min(backoffMs, TIMER_DELAY_MS_MAX));
      manager.#cleanerTimer.unref();
    }
    return manager;
  }

  /** Partition directories present on disk, opened or not. */
  partitionDirectories(): PartitionDirectory[] {
    return [...this.#onDisk.values()];
  }

  /** Open logs. */
  *logs(): IterableIterator<{ topic: string; partition: number; log: PartitionLog }> {
    for (const [name, log] of this.#logs) {
      const parsed = parsePartitionDirectoryName(name);
      if (parsed !== null) yield { ...parsed, log };
    }
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.#logs.get(partitionDirectoryName(topic, partition));
  }

  /** Creates a new partition log; one that exists already is a programmer error. */
  create(topic: string, partition: number, config: LogConfig): PartitionLog {
    const name = partitionDirectoryName(topic, partition);
    if (this.#logs.has(name) || this.#onDisk.has(name)) throw new Error(`log manager: ${name} exists`);
    return this.#openLog(topic, partition, config);
  }

  /** Opens the partition's log (creating it when absent) or applies `config` to the open one. */
  getOrCreate(topic: string, partition: number, config: LogConfig): PartitionLog {
    const open = this.get(topic, partition);
    if (open === undefined) return this.#openLog(topic, partition, config);
    open.reconfigure(config);
    return open;
  }

  /**
   * Deletes a partition's log: close, rename the directory to `<topic>-<partition>.<id>-delete`
   * (atomic, so a crash leaves either the log or a marked leftover that open() removes), then
   * remove it in the background.
   */
  delete(topic: string, partition: number): boolean {
    const name = partitionDirectoryName(topic, partition);
    const log = this.#logs.get(name);
    const directory = path.join(this.dataDirectory, name);
    log?.close();
    this.#logs.delete(name);
    this.#onDisk.delete(name);
    if (!fs.existsSync(directory)) return log !== undefined;
    const doomed = path.join(this.dataDirectory, `${name}.${randomBytes(8).toString('hex')}${DELETE_SUFFIX}`);
    fs.renameSync(directory, doomed);
    fs.promises.rm(doomed, { recursive: true, force: true }).catch((error: unknown) => {
      this.#log(`log manager: could not remove ${doomed}: ${String(error)}`);
    });
    return true;
  }

  /**
   * Applies retention to every open log, one partition per event-loop turn. A pass already
   * running makes this call return at once with nothing.
   */
  async runRetention(nowMs?: number): Promise<RetentionPassResult[]> {
    if (this.#retentionRunning || this.#closed) return [];
    this.#retentionRunning = true;
    const results: RetentionPassResult[] = [];
    try {
      for (const name of [...this.#logs.keys()]) {
        const log = this.#logs.get(name);
        const parsed = parsePartitionDirectoryName(name);
        if (log === undefined || parsed === null || this.#closed) continue;
        const { deleted } = log.applyRetention(nowMs ?? this.#nowMs());
        if (deleted.length > 0) results.push({ ...parsed, deleted });
        await nextTurn();
      }
    } finally {
      this.#retentionRunning = false;
    }
    return results;
  }

  /**
   * One cleaner pass: every open compacted log that is due, the dirtiest first, one at a time. A
   * pass already running makes this call return at once with nothing. A log that fails (a
   * corrupt sealed segment) is reported and skipped; the others are still cleaned.
   */
  async runCleaner(): Promise<CleanerPassResult[]> {
    if (this.#cleanerRunning || this.#closed) return [];
    this.#cleanerRunning = true;
    const results: CleanerPassResult[] = [];
    try {
      for (const candidate of this.#dueForCleaning()) {
        if (this.#closed) break;
        const options = this.#cleanOptions(candidate.topic, candidate.partition);
        try {
          results.push({ ...candidate, result: await this.cleaner.clean(candidate.log, options) });
        } catch (error) {
          this.#log(`log cleaner: ${candidate.topic}-${candidate.partition} failed: ${String(error)}`);
        }
      }
    } finally {
      this.#cleanerRunning = false;
    }
    return results;
  }

  #dueForCleaning(): { topic: string; partition: number; log: PartitionLog; dirtyRatio: number }[] {
    const due = [];
    for (const { topic, partition, log } of this.logs()) {
      if (!log.config.cleanupPolicy.includes('compact')) continue;
      const plan = this.cleaner.plan(log, this.#nowMs(), this.#cleanOptions(topic, partition));
      if (plan.due) due.push({ topic, partition, log, dirtyRatio: plan.maxCompactionLagExceeded ? Infinity : plan.dirtyRatio });
    }
    return due.sort((a, b) => b.dirtyRatio - a.dirtyRatio);
  }

  #cleanOptions(topic: string, partition: number): { cleanableOffsetLimit?: bigint } {
    const limit = this.#cleanableOffsetLimitFor(topic, partition);
    return limit === undefined ? {} : { cleanableOffsetLimit: limit };
  }

  /** fsyncs the logs whose flushMs has passed; the flush timer calls this. */
  flushDue(nowMs: number = this.#nowMs()): number {
    let flushed = 0;
    for (const log of this.#logs.values()) if (log.flushIfDue(nowMs)) flushed += 1;
    return flushed;
  }

  /** Stops the timers and closes every log cleanly. */
  closeAll(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retentionTimer !== null) clearInterval(this.#retentionTimer);
    if (this.#flushTimer !== null) clearInterval(this.#flushTimer);
    if (this.#cleanerTimer !== null) clearInterval(this.#cleanerTimer);
    for (const log of this.#logs.values()) log.close();
    this.#logs.clear();
  }

  #openLog(topic: string, partition: number, config: LogConfig): PartitionLog {
    if (this.#closed) throw new Error('log manager: used after closeAll');
    const name = partitionDirectoryName(topic, partition);
    const directory = path.join(this.dataDirectory, name);
    const log = PartitionLog.open(directory, config, { nowMs: this.#nowMs, log: this.#log });
    this.#logs.set(name, log);
    this.#onDisk.set(name, { topic, partition, directory });
    return log;
  }
}
