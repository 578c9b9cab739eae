// Deleting and truncating: DeleteRecords, retention by time and by size, follower truncation,
// and that what they change survives a reopen.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { parseBatches, simpleBatch } from './batches.ts';
import { cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';

let directory: string;
let partitionDirectory: string;

beforeEach(() => {
  directory = temporaryDirectory();
  partitionDirectory = path.join(directory, 'events.v2_raw-3');
});
afterEach(() => cleanup(directory));

/** Appends `count` single-record batches of ~100 bytes, timestamps 1000, 1001, ... */
function fill(log: PartitionLog, count: number, firstTimestamp = 1000): void {
  for (let i = 0; i < count; i += 1) log.append(simpleBatch(1, BigInt(firstTimestamp + i), 40));
}

function logFiles(): string[] {
  return fs.readdirSync(partitionDirectory).filter((name) => name.endsWith('.log')).sort();
}

describe('deleteRecordsBefore', () => {
  it('advances the log start offset, deletes whole segments below it and persists it', () => {
    const config = smallConfig();
    const opened = openLog(partitionDirectory, config);
    fill(opened.log, 60);
    const segments = opened.log.segmentBaseOffsets;
    const target = segments[3]! + 1n;
    const result = opened.log.deleteRecordsBefore(target);
    expect(result.logStartOffset).toBe(target);
    expect(result.deleted.map((segment) => segment.baseOffset)).toEqual(segments.slice(0, 3));
    expect(result.deleted.every((segment) => segment.reason === 'log-start-offset')).toBe(true);
    expect(opened.log.segmentBaseOffsets[0]).toBe(segments[3]);
    expect(logFiles()).toHaveLength(segments.length - 3);
    expect(opened.log.read(target - 1n, 100).status).toBe('offset-out-of-range');
    expect(opened.log.deleteRecordsBefore(target - 1n).deleted).toEqual([]);
    opened.log.close();
    const reopened = openLog(partitionDirectory, config);
    expect(reopened.log.logStartOffset).toBe(target);
    expect(reopened.log.read(target, 100).firstOffset).toBe(target);
    reopened.log.close();
  });

  it('keeps the log start offset after an unclean stop too', () => {
    const config = smallConfig();
    const opened = openLog(partitionDirectory, config);
    fill(opened.log, 20);
    opened.log.deleteRecordsBefore(7n);
    const reopened = openLog(partitionDirectory, config);
    expect(reopened.log.openReport.cleanShutdown).toBe(false);
    expect(reopened.log.logStartOffset).toBe(7n);
    opened.log.close();
    reopened.log.close();
  });

  it('deletes every segment when asked up to the log end, and appends continue there', () => {
    const opened = openLog(partitionDirectory, smallConfig());
    fill(opened.log, 30);
    const result = opened.log.deleteRecordsBefore(30n);
    expect(result.logStartOffset).toBe(30n);
    expect(opened.log.segmentBaseOffsets).toEqual([30n]);
    expect(opened.log.sizeBytes).toBe(0);
    expect(opened.log.append(simpleBatch(1, 5n)).baseOffset).toBe(30n);
    expect(() => opened.log.deleteRecordsBefore(99n)).toThrow(/past the log end/);
    opened.log.close();
  });
});

describe('applyRetention', () => {
  it('deletes non-active segments whose newest timestamp is older than retentionMs', () => {
    const opened = openLog(partitionDirectory, smallConfig({ retentionMs: 10_000 }));
    fill(opened.log, 60);
    const segments = opened.log.segmentBaseOffsets;
    // Segment i holds timestamps 1000 + its offsets; at now = 11_000 + 20, offsets up to 19 are too old.
    const result = opened.log.applyRetention(11_000 + 20);
    const kept = opened.log.segmentBaseOffsets;
    expect(result.deleted.length).toBeGreaterThan(0);
    expect(result.deleted.every((segment) => segment.reason === 'retention-ms' && segment.nextOffset - 1n < 20n)).toBe(true);
    expect(kept[0]).toBe(result.deleted[result.deleted.length - 1]!.nextOffset);
    expect(result.logStartOffset).toBe(kept[0]);
    expect(segments.length).toBe(kept.length + result.deleted.length);
    // Everything expired: only the active segment stays.
    const all = opened.log.applyRetention(1_000_000);
    expect(opened.log.segmentCount).toBe(1);
    expect(all.logStartOffset).toBe(opened.log.segmentBaseOffsets[0]);
    expect(opened.log.logEndOffset).toBe(60n);
    opened.log.close();
  });

  it('deletes the oldest segments while the partition is larger than retentionBytes', () => {
    const opened = openLog(partitionDirectory, smallConfig({ retentionBytes: 3000 }));
    fill(opened.log, 100);
    const before = opened.log.sizeBytes;
    const result = opened.log.applyRetention(0);
    expect(result.deleted.every((segment) => segment.reason === 'retention-bytes')).toBe(true);
    expect(before - result.deleted.reduce((sum, segment) => sum + segment.sizeBytes, 0)).toBe(opened.log.sizeBytes);
    // Kafka's rule: delete a segment only if what remains is still at least retentionBytes,
    // so the partition keeps at least that much and one more deletion would go below it.
    expect(result.deleted.length).toBeGreaterThan(0);
    expect(opened.log.sizeBytes).toBeGreaterThanOrEqual(3000);
    const oldest = fs.statSync(path.join(partitionDirectory, logFiles()[0]!)).size;
    expect(opened.log.sizeBytes - oldest).toBeLessThan(3000);
    opened.log.close();
  });

  it('does nothing for compact-only topics or infinite retention', () => {
    const compact = openLog(partitionDirectory, smallConfig({ retentionMs: 1, cleanupPolicy: ['compact'] }));
    fill(compact.log, 40);
    expect(compact.log.applyRetention(1e12).deleted).toEqual([]);
    compact.log.close();
    const forever = openLog(path.join(directory, 'forever-0'), smallConfig({ retentionMs: -1, retentionBytes: -1 }));
    fill(forever.log, 40);
    expect(forever.log.applyRetention(1e12).deleted).toEqual([]);
    forever.log.close();
  });
});

describe('truncateTo', () => {
  it('drops the batch holding the offset and everything after, across segments, and survives reopen', () => {
    const config = smallConfig();
    const opened = openLog(partitionDirectory, config);
    for (let i = 0; i < 40; i += 1) opened.log.append(simpleBatch(2, BigInt(1000 + i), 30));
    const segments = opened.log.segmentBaseOffsets;
    const target = segments[2]! + 3n; // the middle of a two-record batch
    const result = opened.log.truncateTo(target);
    expect(result.logEndOffset).toBe(target - 1n);
    expect(opened.log.segmentBaseOffsets).toEqual(segments.slice(0, 3));
    const tail = parseBatches(opened.log.read(target - 2n, 1 << 20).records);
    expect(tail[tail.length - 1]!.lastOffset).toBe(target - 2n);
    expect(opened.log.append(simpleBatch(1, 9n)).baseOffset).toBe(target - 1n);
    opened.log.close();
    const reopened = openLog(partitionDirectory, config);
    expect(reopened.log.logEndOffset).toBe(target);
    expect(reopened.log.openReport.truncatedBytes).toBe(0);
    reopened.log.close();
  });

  it('empties the log down to a segment boundary and is a no-op past the end', () => {
    const opened = openLog(partitionDirectory, smallConfig());
    fill(opened.log, 30);
    expect(opened.log.truncateTo(100n)).toEqual({ logEndOffset: 30n, truncatedBytes: 0 });
    const size = opened.log.sizeBytes;
    expect(opened.log.truncateTo(0n)).toEqual({ logEndOffset: 0n, truncatedBytes: size });
    expect(opened.log.segmentBaseOffsets).toEqual([0n]);
    expect(opened.log.append(simpleBatch(1, 1n)).baseOffset).toBe(0n);
    opened.log.close();
  });
});

describe('appendWithOffsets', () => {
  it('keeps the offsets given, starts a segment at a gap, and refuses to go backwards', () => {
    const opened = openLog(partitionDirectory, smallConfig());
    const leader = openLog(path.join(directory, 'leader-0'), smallConfig());
    fill(leader.log, 5);
    const copied = leader.log.read(0n, 1 << 20).records;
    expect(opened.log.appendWithOffsets(Buffer.from(copied))).toMatchObject({ baseOffset: 0n, lastOffset: 4n });
    expect(() => opened.log.appendWithOffsets(Buffer.from(copied))).toThrow(/does not continue/);
    leader.log.deleteRecordsBefore(5n);
    leader.log.truncateTo(5n);
    const skipped = Buffer.from(simpleBatch(1, 1n));
    skipped.writeBigInt64BE(10n, 0);
    expect(opened.log.appendWithOffsets(skipped)).toMatchObject({ baseOffset: 10n, lastOffset: 10n });
    expect(opened.log.segmentBaseOffsets).toEqual([0n, 10n]);
    expect(opened.log.logEndOffset).toBe(11n);
    opened.log.close();
    leader.log.close();
  });
});
