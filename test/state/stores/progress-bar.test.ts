// The one progress bar: its rendering, how the printer writes to a terminal and to a pipe, and
// the CLI's progressLine, which renders with it.
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../../runtime/cli/progress.ts';
import { ProgressPrinter, renderProgress, renderRestoreProgress, type ProgressStream } from '../../../state/stores/progress-bar.ts';

function stream(isTTY: boolean): ProgressStream & { readonly written: string[] } {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

describe('ProgressPrinter', () => {
  it('rewrites one line in place on a terminal and ends it when the operation finishes', () => {
    const terminal = stream(true);
    const printer = new ProgressPrinter(terminal);
    printer.print('restoring task 0_0 [#...] 25.0%', false);
    printer.print('restoring task 0_0 [####] 100.0% done', true);
    expect(terminal.written).toEqual(['\rrestoring task 0_0 [#...] 25.0%\u001b[K', '\rrestoring task 0_0 [####] 100.0% done\u001b[K\n']);
    printer.end();
    expect(terminal.written).toHaveLength(2);
  });

  it('prints one line per finished operation elsewhere, and nothing in between', () => {
    const pipe = stream(false);
    const printer = new ProgressPrinter(pipe);
    printer.print('restoring task 0_0 half way', false);
    printer.print('restoring task 0_0 done', true);
    printer.print('restoring task 0_1 done', true);
    expect(pipe.written).toEqual(['restoring task 0_0 done\n', 'restoring task 0_1 done\n']);
  });

  it('ends a line left open, so later output starts on a new line', () => {
    const terminal = stream(true);
    const printer = new ProgressPrinter(terminal);
    printer.print('half way', false);
    printer.end();
    expect(terminal.written.at(-1)).toBe('\n');
  });
});

describe('renderProgress', () => {
  it('renders restoration with records, rate and ETA, and the CLI with plain counts', () => {
    const line = renderRestoreProgress({ restored: 250, total: 1_000, recordsPerSecond: 100, etaMs: 7_500, done: false, nextOffset: 250n }, { label: 'restoring task 1_2', width: 8 });
    expect(line).toBe('restoring task 1_2 [##......]  25.0% 250/1,000 records 100 records/s ETA 0:08');
    expect(renderProgress({ done: 3, total: 10, perSecond: null, etaMs: null, finished: false }, { width: 10 })).toBe('[###.......]  30.0% 3/10');
    expect(progressLine('delete internal topics', 2, 2)).toBe(`delete internal topics [${'#'.repeat(30)}] 100.0% 2/2 done`);
    expect(progressLine('reset offsets', 1, 4, 2)).toBe(`reset offsets [${'#'.repeat(7)}${'.'.repeat(23)}]  25.0% 1/4 2/s ETA 0:02`);
  });
});
