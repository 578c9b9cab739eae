import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type LogConfig, resolveLogConfig } from '../../../state/log/config.ts';
import { PartitionLog } from '../../../state/log/partition-log.ts';

/** A fresh directory under the system temp dir; removed by `cleanup`. */
export function temporaryDirectory(prefix = 'runnel-log-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function cleanup(directory: string): void {
  fs.rmSync(directory, { recursive: true, force: true });
}

/** Small segments and dense indexes so that a few hundred batches exercise rolls and lookups. */
export function smallConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return resolveLogConfig({ segmentBytes: 1024, indexIntervalBytes: 100, retentionMs: -1, ...overrides });
}

export class ManualClock {
  constructor(public nowMs: number) {}
  readonly now = (): number => this.nowMs;
}

export interface OpenedLog {
  log: PartitionLog;
  lines: string[];
}

/** Opens a log whose log lines are collected instead of printed. */
export function openLog(directory: string, config: LogConfig, clock?: ManualClock): OpenedLog {
  const lines: string[] = [];
  const options = clock === undefined ? { log: (line: string) => lines.push(line) } : { log: (line: string) => lines.push(line), nowMs: clock.now };
  return { log: PartitionLog.open(directory, config, options), lines };
}
