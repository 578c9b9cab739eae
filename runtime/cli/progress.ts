// Progress bars for long CLI operations (resets, restorations, replays). The rendering is the
// project's one progress bar, state/stores/progress-bar.ts, which the streams runtime also
// prints while it restores; this file only adapts the CLI's counts to it.
import { renderProgress } from '../../state/stores/progress-bar.ts';

export { ProgressPrinter, renderProgress, renderRestoreProgress } from '../../state/stores/progress-bar.ts';

const WIDTH = 30;

/** `label [#########.........]  30.0% 3/10`, with a rate and ETA when `ratePerSecond` is known. */
export function progressLine(label: string, done: number, total: number, ratePerSecond?: number): string {
  const rate = ratePerSecond !== undefined && ratePerSecond > 0 ? ratePerSecond : null;
  const etaMs = rate === null ? null : (Math.max(0, total - done) / rate) * 1000;
  return renderProgress({ done, total, perSecond: rate, etaMs, finished: done >= total }, { label, width: WIDTH });
}
