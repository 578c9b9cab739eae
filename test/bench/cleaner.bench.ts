// Log cleaner benchmark: records per second compacted for 100 B values where 10% of the keys are
// unique (each key written ten times on average), uncompressed and with lz4 batches, and the
// longest the event loop waited during a pass (what an append or fetch could be held up by).
// The `txn` run writes the uncompressed data as transactions of four producers, one batch each,
// every fifth aborted, so it shows what markers, the aborted-transaction walk and dropping
// aborted batches cost next to `none`.
// Run with `npx tsx test/bench/cleaner.bench.ts`. Rates on this shared 2-core machine; compare
// runs, not absolute values.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeBatch, encodeControlBatch, type RecordInput } from '../../core/records/batch.ts';
import { CompressionCodec } from '../../core/records/compression.ts';
import { LogCleaner } from '../../state/log/cleaner.ts';
import { resolveLogConfig } from '../../state/log/config.ts';
import { PartitionLog } from '../../state/log/partition-log.ts';

const MB = 1024 * 1024;
const RECORDS = 400_000;
const RECORDS_PER_BATCH = 50;
const UNIQUE_KEY_SHARE = 0.1;
const VALUE_BYTES = 100;

const PRODUCERS = 4;
const ABORT_EVERY = 5;

/** Appends `records` as one transaction of a producer, ending it with a marker (and the index entry of an abort). */
function appendTransaction(log: PartitionLog, records: RecordInput[], index: number, timestamp: number): void {
  const producerId = BigInt(index % PRODUCERS);
  const batch = encodeBatch({ records, baseTimestamp: timestamp, producerId, producerEpoch: 0, baseSequence: 0, transactional: true });
  const firstOffset = log.append(batch).baseOffset;
  const abort = index % ABORT_EVERY === 0;
  const marker = encodeControlBatch({ type: abort ? 'abort' : 'commit', producerId, producerEpoch: 0, coordinatorEpoch: 0, timestamp });
  const markerOffset = log.append(marker).baseOffset;
  if (abort) log.appendAbortedTransaction({ producerId, firstOffset, lastOffset: markerOffset, lastStableOffset: markerOffset + 1n });
}

function fillLog(directory: string, compression: CompressionCodec, transactional = false): PartitionLog {
  const config = resolveLogConfig({ segmentBytes: 8 * MB, cleanupPolicy: ['compact'], retentionMs: -1 });
  const log = PartitionLog.open(directory, config, { log: () => {} });
  const keyCount = Math.floor(RECORDS * UNIQUE_KEY_SHARE);
  const value = Buffer.alloc(VALUE_BYTES, 0x76);
  let seed = 12345;
  const nextKey = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return `user-${(seed % keyCount).toString().padStart(8, '0')}`;
  };
  const timestamp = Date.now();
  for (let written = 0; written < RECORDS; written += RECORDS_PER_BATCH) {
    const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: nextKey(), value, timestamp }));
    if (transactional) appendTransaction(log, records, written / RECORDS_PER_BATCH, timestamp);
    else log.append(encodeBatch({ records, compression, baseTimestamp: timestamp }));
  }
  log.roll();
  return log;
}

async function bench(root: string, name: string, compression: CompressionCodec, transactional = false): Promise<void> {
  const log = fillLog(path.join(root, `${name}-0`), compression, transactional);
  const sizeBefore = log.sizeBytes;
  const segmentsBefore = log.segmentCount;
  const cleaner = new LogCleaner();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  const result = await cleaner.clean(log, { force: true });
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  if (result.status !== 'cleaned') throw new Error(`clean ${result.status}: ${result.reason}`);
  console.log(
    `${name.padEnd(5)} ${(result.recordsRead / seconds).toFixed(0).padStart(9)} records/s ` +
      `${(result.bytesRead / MB / seconds).toFixed(1).padStart(6)} MB/s read  ` +
      `(${result.recordsRead} records, ${result.recordsRemoved} removed (${result.abortedRecordsRemoved} aborted), ${result.markersRemoved} markers removed, ` +
      `${(sizeBefore / MB).toFixed(1)} → ${(log.sizeBytes / MB).toFixed(1)} MB, ` +
      `${segmentsBefore} → ${log.segmentCount} segments, ${seconds.toFixed(2)} s, ` +
      `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms max ${(delay.max / 1e6).toFixed(1)} ms)`,
  );
  log.close();
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-cleaner-bench-'));
try {
  await bench(root, 'none', CompressionCodec.None);
  await bench(root, 'lz4', CompressionCodec.Lz4);
  await bench(root, 'txn', CompressionCodec.None, true);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
