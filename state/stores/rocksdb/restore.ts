// Restoration: replays changelog records into a RocksDB store in large write batches before the
// task processes anything. One batch is written while the next is gathered, which keeps both the
// event loop and RocksDB's write thread busy; more than one in flight buys nothing because
// batches must apply in order. Progress (restored, total, rate, ETA) goes to a callback at most
// once per progressIntervalMs and once at the end.
import type { ChangelogRecord } from '../../../core/topology/processor.ts';

export interface RestoreTarget {
  /** Applies records as one atomic batch; successive calls apply in call order. */
  applyBatch(records: readonly ChangelogRecord[]): Promise<void>;
}

export interface RestoreProgress {
  readonly restored: number;
  /** Records expected in all (changelog end offset minus start), when known. */
  readonly total: number | null;
  readonly recordsPerSecond: number;
  /** Estimated time left, when the total is known and the rate is above zero. */
  readonly etaMs: number | null;
  readonly done: boolean;
}

export interface RestoreOptions {
  readonly total?: number;
  readonly onProgress?: (progress: RestoreProgress) => void;
  readonly progressIntervalMs?: number;
  /** Records per write batch. */
  readonly batchRecords?: number;
  /** The clock, replaceable in tests. */
  readonly nowMs?: () => number;
}

const BATCH_RECORDS_DEFAULT = 20_000;
const BATCH_RECORDS_MAX = 1_000_000;

/** Applies every record from source, in order; resolves with the final progress. */
export async function restoreChangelog(
  target: RestoreTarget,
  source: AsyncIterable<readonly ChangelogRecord[]> | Iterable<readonly ChangelogRecord[]>,
  options: RestoreOptions = {},
): Promise<RestoreProgress> {
  const batchRecords = options.batchRecords ?? BATCH_RECORDS_DEFAULT;
  if (!Number.isInteger(batchRecords) || batchRecords < 1 || batchRecords > BATCH_RECORDS_MAX) throw new Error(`batchRecords must be 1..${BATCH_RECORDS_MAX}`);
  const nowMs = options.nowMs ?? Date.now;
  const meter = new ProgressMeter(options.total ?? null, nowMs, options.progressIntervalMs ?? 1_000, options.onProgress);
  let inFlight: Promise<void> = Promise.resolve();
  let inFlightCount = 0;
  let buffer: ChangelogRecord[] = [];
  const submit = async (): Promise<void> => {
    await inFlight;
    meter.add(inFlightCount);
    inFlight = target.applyBatch(buffer);
    inFlightCount = buffer.length;
    buffer = [];
  };
  for await (const records of source) {
    for (const record of records) {
      buffer.push(record);
      if (buffer.length >= batchRecords) await submit();
    }
  }
  if (buffer.length > 0) await submit();
  await inFlight;
  meter.add(inFlightCount);
  return meter.finish();
}

class ProgressMeter {
  private restored = 0;
  private readonly startedMs: number;
  private lastReportMs: number;

  constructor(
    private readonly total: number | null,
    private readonly nowMs: () => number,
    private readonly intervalMs: number,
    private readonly listener: ((progress: RestoreProgress) => void) | undefined,
  ) {
    this.startedMs = nowMs();
    this.lastReportMs = this.startedMs;
  }

  add(count: number): void {
    this.restored += count;
    if (this.listener === undefined) return;
    const now = this.nowMs();
    if (now - this.lastReportMs < this.intervalMs) return;
    this.lastReportMs = now;
    this.listener(this.progress(now, false));
  }

  finish(): RestoreProgress {
    const progress = this.progress(this.nowMs(), true);
    this.listener?.(progress);
    return progress;
  }

  private progress(now: number, done: boolean): RestoreProgress {
    const elapsedMs = Math.max(now - this.startedMs, 1);
    const recordsPerSecond = (this.restored * 1000) / elapsedMs;
    const remaining = this.total === null ? null : Math.max(this.total - this.restored, 0);
    const etaMs = done ? 0 : remaining === null || recordsPerSecond === 0 ? null : (remaining * 1000) / recordsPerSecond;
    return { restored: this.restored, total: this.total, recordsPerSecond, etaMs, done };
  }
}
