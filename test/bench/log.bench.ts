// Micro benchmark of the partition log: appends per second and MB/s for ~100 B and ~1 KB
// batches, then sequential read MB/s. Run with `npx tsx test/bench/log.bench.ts`.
// Numbers are rates on this machine (shared, 2 cores); compare runs, not absolute values.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveLogConfig } from '../../state/log/config.ts';
import { PartitionLog } from '../../state/log/partition-log.ts';
import { simpleBatch } from '../state/log/batches.ts';

const MB = 1024 * 1024;

function benchAppends(directory: string, batch: Buffer, count: number): PartitionLog {
  const log = PartitionLog.open(directory, resolveLogConfig({ segmentBytes: 64 * MB }), { log: () => {} });
  const started = performance.now();
  for (let i = 0; i < count; i += 1) log.append(batch);
  const seconds = (performance.now() - started) / 1000;
  const bytes = batch.length * count;
  console.log(
    `append ${String(batch.length).padStart(5)} B batches: ${(count / seconds).toFixed(0).padStart(8)} appends/s ` +
      `${(bytes / MB / seconds).toFixed(1).padStart(7)} MB/s  (${count} appends, ${log.segmentCount} segments)`,
  );
  return log;
}

function benchReads(log: PartitionLog, maxBytes: number): void {
  const started = performance.now();
  let offset = log.logStartOffset;
  let bytes = 0;
  while (offset < log.logEndOffset) {
    const result = log.read(offset, maxBytes);
    if (result.status !== 'ok' || result.records.length === 0) throw new Error(`read stalled at ${offset}`);
    bytes += result.records.length;
    offset = result.nextOffset;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`read  ${String(maxBytes / 1024).padStart(5)} KB fetches: ${(bytes / MB / seconds).toFixed(1).padStart(8)} MB/s  (${(bytes / MB).toFixed(0)} MB)`);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-log-bench-'));
try {
  // A batch header is 61 bytes and a one-record body adds ~7 bytes around the value.
  const small = simpleBatch(1, BigInt(Date.now()), 32);
  const large = simpleBatch(1, BigInt(Date.now()), 954);
  const smallLog = benchAppends(path.join(root, 'small-0'), small, 200_000);
  const largeLog = benchAppends(path.join(root, 'large-0'), large, 100_000);
  benchReads(smallLog, MB);
  benchReads(largeLog, MB);
  benchReads(largeLog, 64 * 1024);
  smallLog.close();
  largeLog.close();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
