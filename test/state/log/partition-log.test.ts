import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ATTRIBUTE_LOG_APPEND_TIME, BATCH_OFFSETS, computeBatchCrc, readBatchHeader } from '../../../core/records/header.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { parseBatches, simpleBatch } from './batches.ts';
import { cleanup, ManualClock, openLog, smallConfig, temporaryDirectory } from './helpers.ts';

let directory: string;
let partitionDirectory: string;

beforeEach(() => {
  directory = temporaryDirectory();
  partitionDirectory = path.join(directory, 'orders-0');
});
afterEach(() => cleanup(directory));

/** Appends `count` batches of 1..4 records; returns each stored batch by base offset. */
function fill(log: PartitionLog, count: number, timestamp = 1_000n): Map<bigint, Buffer> {
  const stored = new Map<bigint, Buffer>();
  for (let i = 0; i < count; i += 1) {
    const batch = simpleBatch((i % 4) + 1, timestamp + BigInt(i), 10 + (i % 7));
    const result = log.append(batch);
    stored.set(result.baseOffset, Buffer.from(batch));
  }
  return stored;
}

function expectedBytesFrom(stored: Map<bigint, Buffer>, firstOffset: bigint, batchCount: number): Buffer {
  const offsets = [...stored.keys()].filter((offset) => offset >= firstOffset).slice(0, batchCount);
  return Buffer.concat(offsets.map((offset) => stored.get(offset)!));
}

describe('PartitionLog append and read', () => {
  it('assigns contiguous offsets and patches them into the stored batches', () => {
    const { log } = openLog(partitionDirectory, smallConfig());
    const first = log.append(simpleBatch(3, 5n));
    const second = log.append(Buffer.concat([simpleBatch(2, 6n), simpleBatch(1, 7n)]));
    expect(first).toMatchObject({ baseOffset: 0n, lastOffset: 2n, logAppendTimeMs: -1n, maxTimestamp: 5n, recordCount: 3 });
    expect(second).toMatchObject({ baseOffset: 3n, lastOffset: 5n, maxTimestamp: 7n, recordCount: 3 });
    expect(log.logEndOffset).toBe(6n);
    const read = log.read(0n, 1 << 20);
    expect(read.status).toBe('ok');
    expect(parseBatches(read.records).map((batch) => [batch.baseOffset, batch.lastOffset])).toEqual([[0n, 2n], [3n, 4n], [5n, 5n]]);
    log.close();
  });

  it('rolls by size and finds the batch holding every offset across many segments', () => {
    const { log } = openLog(partitionDirectory, smallConfig());
    const stored = fill(log, 300);
    expect(log.segmentCount).toBeGreaterThan(20);
    expect(log.sizeBytes).toBe([...stored.values()].reduce((sum, batch) => sum + batch.length, 0));
    for (const name of fs.readdirSync(partitionDirectory).filter((file) => file.endsWith('.log'))) {
      expect(fs.statSync(path.join(partitionDirectory, name)).size).toBeLessThanOrEqual(1024);
    }
    const batchOf = new Map<bigint, bigint>();
    for (const [base, batch] of stored) {
      const header = readBatchHeader(batch);
      for (let offset = base; offset <= base + BigInt(header.lastOffsetDelta); offset += 1n) batchOf.set(offset, base);
    }
    for (let offset = 0n; offset < log.logEndOffset; offset += 1n) {
      const one = log.read(offset, 1);
      expect(one.status).toBe('ok');
      expect(one.firstOffset).toBe(batchOf.get(offset));
      expect(one.records.equals(stored.get(batchOf.get(offset)!)!)).toBe(true);
      const many = log.read(offset, 4096);
      const batches = parseBatches(many.records);
      expect(batches[0]!.baseOffset).toBe(batchOf.get(offset));
      expect(many.records.equals(expectedBytesFrom(stored, batches[0]!.baseOffset, batches.length))).toBe(true);
      expect(many.nextOffset).toBe(batches[batches.length - 1]!.lastOffset + 1n);
    }
    log.close();
  });

  it('returns whole batches within maxBytes, one oversized batch only when asked, nothing at maxOffset', () => {
    const { log } = openLog(partitionDirectory, smallConfig({ segmentBytes: 1 << 20 }));
    const stored = fill(log, 10);
    const sizes = [...stored.values()].map((batch) => batch.length);
    const twoBatches = log.read(0n, sizes[0]! + sizes[1]! + sizes[2]! - 1);
    expect(parseBatches(twoBatches.records)).toHaveLength(2);
    expect(log.read(0n, 10, { minOneBatch: false }).records.length).toBe(0);
    expect(log.read(0n, 10, { minOneBatch: true }).records.length).toBe(sizes[0]);
    const bounded = log.read(0n, 1 << 20, { maxOffset: 6n });
    expect(parseBatches(bounded.records).every((batch) => batch.lastOffset < 6n)).toBe(true);
    expect(bounded.nextOffset).toBe(6n);
    expect(log.read(6n, 1 << 20, { maxOffset: 6n }).records.length).toBe(0);
    log.close();
  });

  it('reports fetch offsets outside the log as out of range', () => {
    const { log } = openLog(partitionDirectory, smallConfig());
    fill(log, 5);
    const end = log.read(log.logEndOffset, 100);
    expect(end).toMatchObject({ status: 'ok', firstOffset: null, nextOffset: log.logEndOffset });
    expect(end.records.length).toBe(0);
    expect(log.read(log.logEndOffset + 1n, 100)).toMatchObject({ status: 'offset-out-of-range', logStartOffset: 0n, logEndOffset: log.logEndOffset });
    log.deleteRecordsBefore(3n);
    expect(log.read(2n, 100).status).toBe('offset-out-of-range');
    expect(log.read(3n, 100).status).toBe('ok');
    log.close();
  });

  it('rejects malformed or corrupt buffers and stamps the leader epoch', () => {
    const { log } = openLog(partitionDirectory, smallConfig());
    const batch = simpleBatch(1, 1n);
    expect(() => log.append(batch.subarray(0, batch.length - 1))).toThrow(/malformed/);
    const corrupt = Buffer.from(batch);
    corrupt[corrupt.length - 1]! ^= 1;
    expect(() => log.append(corrupt)).toThrow(/CRC mismatch/);
    log.append(batch, { leaderEpoch: 7 });
    expect(readBatchHeader(log.read(0n, 1000).records).partitionLeaderEpoch).toBe(7);
    expect(log.logEndOffset).toBe(1n);
    log.close();
  });
});

describe('PartitionLog rolling by age', () => {
  it('rolls when the incoming CreateTime is segmentMs past the first batch of the segment', () => {
    const { log } = openLog(partitionDirectory, smallConfig({ segmentBytes: 1 << 20, segmentMs: 1000 }));
    log.append(simpleBatch(1, 10_000n));
    log.append(simpleBatch(1, 10_900n));
    expect(log.segmentCount).toBe(1);
    log.append(simpleBatch(1, 11_001n));
    expect(log.segmentBaseOffsets).toEqual([0n, 2n]);
    log.close();
  });

  it('stamps LogAppendTime from the injected clock, rewrites the CRC, and rolls as the clock moves', () => {
    const clock = new ManualClock(50_000);
    const config = smallConfig({ segmentBytes: 1 << 20, segmentMs: 1000, messageTimestampType: 'LogAppendTime' });
    const { log } = openLog(partitionDirectory, config, clock);
    const result = log.append(simpleBatch(2, 1n));
    expect(result).toMatchObject({ logAppendTimeMs: 50_000n, maxTimestamp: 50_000n });
    const stored = log.read(0n, 1000).records;
    const header = readBatchHeader(stored);
    expect(header.maxTimestamp).toBe(50_000n);
    expect(header.attributes & ATTRIBUTE_LOG_APPEND_TIME).toBe(ATTRIBUTE_LOG_APPEND_TIME);
    expect(computeBatchCrc(stored, 0, stored.length)).toBe(stored.readUInt32BE(BATCH_OFFSETS.crc));
    clock.nowMs += 999;
    log.append(simpleBatch(1, 1n));
    expect(log.segmentCount).toBe(1);
    clock.nowMs += 2;
    log.append(simpleBatch(1, 1n), { logAppendTimeMs: 51_001 });
    expect(log.segmentBaseOffsets).toEqual([0n, 3n]);
    log.close();
  });
});

describe('PartitionLog reopen', () => {
  it('keeps segments, offsets and bytes across a clean close without scanning', () => {
    const config = smallConfig();
    const first = openLog(partitionDirectory, config);
    const stored = fill(first.log, 120);
    const before = { end: first.log.logEndOffset, segments: first.log.segmentBaseOffsets, size: first.log.sizeBytes };
    first.log.close();
    const { log } = openLog(partitionDirectory, config);
    expect(log.openReport).toEqual({ cleanShutdown: true, recoveredSegments: 0, rebuiltIndexes: 0, truncatedBytes: 0, deletedSegments: 0, completedSwaps: 0, rolledBackCleans: 0, rebuiltTransactionIndexes: 0 });
    expect({ end: log.logEndOffset, segments: log.segmentBaseOffsets, size: log.sizeBytes }).toEqual(before);
    for (const [base, batch] of stored) expect(log.read(base, 1).records.equals(batch)).toBe(true);
    const next = log.append(simpleBatch(2, 9n));
    expect(next.baseOffset).toBe(before.end);
    log.close();
  });

  it('recovers only from the recovery point after an unclean stop', () => {
    const config = smallConfig();
    const first = openLog(partitionDirectory, config);
    fill(first.log, 120);
    const end = first.log.logEndOffset;
    // No close: the checkpoint still says the shutdown was not clean.
    const { log } = openLog(partitionDirectory, config);
    expect(log.openReport.cleanShutdown).toBe(false);
    expect(log.openReport.recoveredSegments).toBe(1);
    expect(log.logEndOffset).toBe(end);
    first.log.close();
    log.close();
  });
});

describe('PartitionLog flush policy', () => {
  it('fsyncs after flushMessages records and after flushMs, and not otherwise', () => {
    const clock = new ManualClock(0);
    const { log } = openLog(partitionDirectory, smallConfig({ flushMessages: 5, flushMs: 1000 }), clock);
    log.append(simpleBatch(2, 1n));
    log.append(simpleBatch(2, 1n));
    expect(log.unflushedRecordCount).toBe(4);
    expect(log.flushIfDue(999)).toBe(false);
    log.append(simpleBatch(1, 1n));
    expect(log.unflushedRecordCount).toBe(0);
    log.append(simpleBatch(1, 1n));
    clock.nowMs = 1000;
    expect(log.flushIfDue()).toBe(true);
    expect(log.unflushedRecordCount).toBe(0);
    log.append(simpleBatch(1, 1n));
    clock.nowMs = 2000;
    log.append(simpleBatch(1, 1n));
    expect(log.unflushedRecordCount).toBe(0);
    log.close();
  });
});
