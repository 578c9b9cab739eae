// A one-line text rendering of restoration progress that a CLI prints (rewriting the line in
// place on a terminal, or once per report in a log). Pure formatting: no clock, no terminal.
import type { RestoreProgress } from './rocksdb/restore.ts';

export interface ProgressBarOptions {
  /** Printed first, e.g. the store and task: `counts 0_3`. */
  readonly label?: string;
  /** Characters between the brackets. */
  readonly width?: number;
}

const WIDTH_DEFAULT = 24;
const WIDTH_MAX = 200;

/**
 * `counts 0_3 [############............]  50.0% 6,172/12,345 records 61,720 records/s ETA 0:01`.
 * Without a known total the bar is left out; a finished restoration shows `done` instead of an ETA.
 */
export function renderRestoreProgress(progress: RestoreProgress, options: ProgressBarOptions = {}): string {
  const width = options.width ?? WIDTH_DEFAULT;
  if (!Number.isInteger(width) || width < 1 || width > WIDTH_MAX) throw new Error(`progress bar width must be 1..${WIDTH_MAX}`);
  const parts: string[] = [];
  if (options.label !== undefined && options.label !== '') parts.push(options.label);
  const restored = formatCount(progress.restored);
  if (progress.total === null) {
    parts.push(`${restored} records`);
  } else {
    // A total of zero (nothing to restore) counts as complete; counts past the total (records
    // appended while restoring) fill the bar and no more.
    const fraction = progress.total === 0 ? 1 : Math.min(1, progress.restored / progress.total);
    const filled = progress.done ? width : Math.min(width, Math.floor(fraction * width));
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`);
    parts.push(`${(progress.done ? 100 : fraction * 100).toFixed(1).padStart(5)}%`);
    parts.push(`${restored}/${formatCount(progress.total)} records`);
  }
  parts.push(`${formatCount(Math.round(progress.recordsPerSecond))} records/s`);
  if (progress.done) parts.push('done');
  else if (progress.etaMs !== null) parts.push(`ETA ${formatDuration(progress.etaMs)}`);
  return parts.join(' ');
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
