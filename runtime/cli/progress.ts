// One-line text progress bars for long CLI operations (resets, restorations, replays). The
// line is rewritten in place with a carriage return, so it is only drawn on a terminal.

const WIDTH = 30;

/** `label [#########.........]  30% 3/10`, with a rate and ETA when `ratePerSecond` is known. */
export function progressLine(label: string, done: number, total: number, ratePerSecond?: number): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(fraction * WIDTH);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}`;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  let line = `${label} [${bar}] ${percent} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')}`;
  if (ratePerSecond !== undefined && ratePerSecond > 0) {
    const remaining = Math.max(0, total - done) / ratePerSecond;
    line += ` ${Math.round(ratePerSecond).toLocaleString('en-US')}/s ETA ${formatSeconds(remaining)}`;
  }
  return line;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
