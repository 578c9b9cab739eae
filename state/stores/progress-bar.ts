// The one text progress bar of the project: restorations (the streams runtime prints it while a
// task restores its stores) and the CLI's long operations (runtime/cli/progress.ts renders
// resets with it). renderProgress is pure formatting; ProgressPrinter decides how a line reaches
// a stream: rewritten in place on a terminal, one line per finished operation otherwise.
import type { RestoreProgress } from './rocksdb/restore.ts';

export interface ProgressBarOptions {
  /** Printed first, e.g. the store and task: `counts 0_3`. */
  readonly label?: string;
  /** Characters between the brackets. */
  readonly width?: number;
  /** What is counted, after the counts (`records`); nothing when absent. */
  readonly unit?: string;
}

/** Progress of any operation that counts things done out of an expected total. */
export interface Progress {
  readonly done: number;
  /** Things expected in all, when known. */
  readonly total: number | null;
  /** Rate so far, when known. */
  readonly perSecond: number | null;
  /** Estimated time left, when known. */
  readonly etaMs: number | null;
  readonly finished: boolean;
}

const WIDTH_DEFAULT = 24;
const WIDTH_MAX = 200;

/**
 * `counts 0_3 [############............]  50.0% 6,172/12,345 records 61,720 records/s ETA 0:01`.
 * Without a known total the bar is left out; a finished operation shows `done` instead of an ETA.
 */
export function renderProgress(progress: Progress, options: ProgressBarOptions = {}): string {
  const width = options.width ?? WIDTH_DEFAULT;
  if (!Number.isInteger(width) || width < 1 || width > WIDTH_MAX) throw new Error(`progress bar width must be 1..${WIDTH_MAX}`);
  const unit = options.unit === undefined || options.unit === '' ? '' : ` ${options.unit}`;
  const parts: string[] = [];
  if (options.label !== undefined && options.label !== '') parts.push(options.label);
  const done = formatCount(progress.done);
  if (progress.total === null) {
    parts.push(`${done}${unit}`);
  } else {
    // A total of zero (nothing to do) counts as complete; counts past the total (records
    // appended while restoring) fill the bar and no more.
    const fraction = progress.total === 0 ? 1 : Math.min(1, progress.done / progress.total);
    const filled = progress.finished ? width : Math.min(width, Math.floor(fraction * width));
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`);
    parts.push(`${(progress.finished ? 100 : fraction * 100).toFixed(1).padStart(5)}%`);
    parts.push(`${done}/${formatCount(progress.total)}${unit}`);
  }
  if (progress.perSecond !== null) parts.push(`${formatCount(Math.round(progress.perSecond))}${unit === '' ? '' : unit}/s`);
  if (progress.finished) parts.push('done');
  else if (progress.etaMs !== null) parts.push(`ETA ${formatDuration(progress.etaMs)}`);
  return parts.join(' ');
}

/** A restoration's progress: restored, total, records/s and ETA. */
export function renderRestoreProgress(progress: RestoreProgress, options: ProgressBarOptions = {}): string {
  return renderProgress(
    { done: progress.restored, total: progress.total, perSecond: progress.recordsPerSecond, etaMs: progress.etaMs, finished: progress.done },
    { unit: 'records', ...options },
  );
}

function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

/** m:ss below an hour, h:mm:ss above; rounded up so an ETA never reads 0:00 before the end. */
export function formatDuration(durationMs: number): string {
  const totalSeconds = Math.max(0, Math.ceil(durationMs / 1000));
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = String(totalSeconds % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** Where a printer writes: process.stdout or process.stderr, or a test's stand-in. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/**
 * Prints progress lines to a stream. On a terminal the current line is rewritten in place
 * (carriage return, then erase to the end of the line) and ended when the operation finishes;
 * elsewhere (a pipe, a log file) only the finished line is printed, one per operation.
 */
export class ProgressPrinter {
  private open = false;

  constructor(private readonly stream: ProgressStream) {}

  print(line: string, finished: boolean): void {
    if (this.stream.isTTY !== true) {
      if (finished) this.stream.write(`${line}\n`);
      return;
    }
    this.stream.write(`\r${line}\u001b[K${finished ? '\n' : ''}`);
    this.open = !finished;
  }

  /** Ends a line left open (an operation that failed part way), so later output starts clean. */
  end(): void {
    if (!this.open) return;
    this.stream.write('\n');
    this.open = false;
  }
}
