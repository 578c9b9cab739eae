import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeControlBatch } from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { ATTRIBUTE_CONTROL, compressionOf } from '../../../core/records/header.ts';
import { LogCleaner } from '../../../state/log/cleaner.ts';
import { ATTRIBUTE_DELETE_HORIZON, deleteHorizonOf } from '../../../state/log/compaction.ts';
import type { LogConfig } from '../../../state/log/config.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { ManualClock, cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';
import { type KeyedRecord, keyedBatch, readAll } from './keyed.ts';
import { transactionalBatch } from './transactional.ts';

let root: string;
let directories = 0;
beforeAll(() => {
  root = temporaryDirectory('runnel-cleaner-');
});
afterAll(() => cleanup(root));

const START_MS = 1_700_000_000_000;

function compactConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  return smallConfig({ cleanupPolicy: ['compact'], minCleanableDirtyRatio: 0, deleteRetentionMs: 60_000, ...overrides });
}

function freshLog(config: LogConfig, clock = new ManualClock(START_MS)): { log: PartitionLog; clock: ManualClock; directory: string } {
  directories += 1;
  const directory = path.join(root, `log${directories}-0`);
  return { log: openLog(directory, config, clock).log, clock, directory };
}

/** Appends one batch per entry of `keys` ("k" = value, "-k" = tombstone). */
function appendAll(log: PartitionLog, clock: ManualClock, keys: readonly string[], valuePrefix = 'v'): void {
  for (const [i, entry] of keys.entries()) {
    const tombstone = entry.startsWith('-');
    const key = tombstone ? entry.slice(1) : entry;
    log.append(keyedBatch([{ key, value: tombstone ? null : `${valuePrefix}${i}` }], clock.nowMs));
  }
}

function visible(log: PartitionLog): string[] {
  return readAll(log).map((record) => `${record.offset}:${record.key}=${record.value ?? '∅'}`);
}

describe('compaction', () => {
  it('keeps the last record per key at its original offset and never touches the active segment', async () => {
    const { log, clock } = freshLog(compactConfig({ segmentBytes: 1024 }));
    const keys = ['a', 'b', 'a', 'c', 'b', 'a', 'a', 'b', 'c', 'a', 'b', 'c', 'a', 'b'];
    appendAll(log, clock, keys.slice(0, 7));
    log.roll();
    for (const [i, key] of keys.slice(7).entries()) log.append(keyedBatch([{ key, value: `v${i + 7}` }], clock.nowMs));
    const activeBase = log.segmentBaseOffsets.at(-1) as bigint;
    expect(log.segmentCount).toBeGreaterThanOrEqual(2);
    expect(activeBase).toBeLessThan(13n);
    const result = await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(result.status).toBe('cleaned');
    const records = readAll(log);
    const sealed = records.filter((record) => record.offset < activeBase);
    const active = records.filter((record) => record.offset >= activeBase);
    // Below the active segment each key appears once, with the offset of its last record there.
    expect(sealed.map((record) => record.key).sort()).toEqual([...new Set(sealed.map((record) => record.key))].sort());
    for (const record of sealed) expect(record.value).toBe(`v${record.offset}`);
    // The active segment still holds every record it was given.
    expect(active.map((record) => record.offset)).toEqual(Array.from({ length: 14 - Number(activeBase) }, (_, i) => activeBase + BigInt(i)));
    expect(result.firstDirtyOffset).toBe(activeBase);
    expect(log.segmentBaseOffsets.at(-1)).toBe(activeBase);
  });

  it('rewrites a batch that loses records with its codec, producer fields and offset deltas', async () => {
    const codecs = [CompressionCodec.None, CompressionCodec.Gzip, CompressionCodec.Snappy, CompressionCodec.Lz4, CompressionCodec.Zstd];
    for (const codec of codecs) {
      const { log, clock } = freshLog(compactConfig());
      const records: KeyedRecord[] = [
        { key: 'a', value: 'first', timestamp: START_MS + 1 },
        { key: 'b', value: 'kept', timestamp: START_MS + 5 },
        { key: 'a', value: 'second', timestamp: START_MS + 3 },
        { key: 'c', value: 'dropped', timestamp: START_MS + 9 },
      ];
      const options = { compression: codec, producerId: 4242n, producerEpoch: 7, baseSequence: 100 };
      log.append(keyedBatch(records, START_MS, options));
      log.append(keyedBatch([{ key: 'c', value: 'later' }], START_MS + 20, options));
      log.roll();
      await new LogCleaner({ nowMs: clock.now }).clean(log);
      const after = readAll(log);
      expect(after.map((record) => [record.offset, record.key, record.value, record.timestamp])).toEqual([
        [1n, 'b', 'kept', BigInt(START_MS + 5)],
        [2n, 'a', 'second', BigInt(START_MS + 3)],
        [4n, 'c', 'later', BigInt(START_MS + 20)],
      ]);
      const rewritten = after[0]!.batch;
      expect(compressionOf(rewritten.attributes), `codec ${codec}`).toBe(codec);
      expect(rewritten).toMatchObject({ baseOffset: 0n, lastOffsetDelta: 2, recordCount: 2, producerId: 4242n, producerEpoch: 7, baseSequence: 100 });
      expect(rewritten.maxTimestamp).toBe(BigInt(START_MS + 5));
      log.close();
    }
  });

  it('keeps the broker append time of a rewritten LogAppendTime batch', async () => {
    const { log, clock } = freshLog(compactConfig({ messageTimestampType: 'LogAppendTime' }));
    log.append(keyedBatch([{ key: 'a', value: 'old' }, { key: 'b', value: 'kept' }], START_MS - 500), { logAppendTimeMs: START_MS + 7 });
    log.append(keyedBatch([{ key: 'a', value: 'new' }], START_MS - 400), { logAppendTimeMs: START_MS + 9 });
    log.roll();
    await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(readAll(log).map((record) => [record.offset, record.value, record.timestamp])).toEqual([
      [1n, 'kept', BigInt(START_MS + 7)],
      [2n, 'new', BigInt(START_MS + 9)],
    ]);
  });

  it('keeps the control batch of a transaction whose data remains as it is', async () => {
    const { log, clock } = freshLog(compactConfig());
    appendAll(log, clock, ['a']);
    log.append(transactionalBatch(9n, [{ key: 'b', value: 'committed' }], 0, clock.nowMs));
    const marker = encodeControlBatch({ type: 'commit', producerId: 9n, producerEpoch: 0, coordinatorEpoch: 3, timestamp: START_MS });
    log.append(marker);
    appendAll(log, clock, ['a']);
    log.roll();
    await new LogCleaner({ nowMs: clock.now }).clean(log);
    const records = readAll(log);
    expect(records.map((record) => record.offset)).toEqual([1n, 2n, 3n]);
    expect(records[1]!.batch.attributes & ATTRIBUTE_CONTROL).toBe(ATTRIBUTE_CONTROL);
    expect(log.read(2n, 1 << 20).records.subarray(0, marker.length).subarray(12)).toEqual(marker.subarray(12));
  });

  it('keeps a tombstone until delete.retention.ms after its first cleaning, then removes it', async () => {
    const deleteRetentionMs = 60_000;
    const { log, clock } = freshLog(compactConfig({ deleteRetentionMs }));
    appendAll(log, clock, ['a', 'b', '-a']);
    log.roll();
    const cleaner = new LogCleaner({ nowMs: clock.now });
    const cleanedAt = clock.nowMs;
    await cleaner.clean(log);
    expect(visible(log)).toEqual(['1:b=v1', '2:a=∅']);
    const tombstoneBatch = readAll(log)[1]!.batch;
    expect(deleteHorizonOf(tombstoneBatch)).toBe(cleanedAt + deleteRetentionMs);
    expect(tombstoneBatch.attributes & ATTRIBUTE_DELETE_HORIZON).toBe(ATTRIBUTE_DELETE_HORIZON);
    // Record timestamps survive the rebased baseTimestamp.
    expect(readAll(log)[1]!.timestamp).toBe(BigInt(START_MS));

    clock.nowMs = cleanedAt + deleteRetentionMs - 1;
    expect(cleaner.plan(log).due).toBe(false);
    await cleaner.clean(log, { force: true });
    expect(visible(log)).toEqual(['1:b=v1', '2:a=∅']);

    clock.nowMs = cleanedAt + deleteRetentionMs;
    const plan = cleaner.plan(log);
    expect(plan).toMatchObject({ tombstonesExpired: true, due: true, dirtyBytes: 0 });
    const result = await cleaner.clean(log);
    expect(result).toMatchObject({ status: 'cleaned', tombstonesRemoved: 1 });
    expect(visible(log)).toEqual(['1:b=v1']);
  });

  it('removes a tombstone the first time only when a newer record supersedes it', async () => {
    const { log, clock } = freshLog(compactConfig());
    appendAll(log, clock, ['a', '-a', 'a']);
    log.roll();
    await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(visible(log)).toEqual(['2:a=v2']);
  });

  it('cleans only when the dirty ratio reaches min.cleanable.dirty.ratio', async () => {
    const { log, clock } = freshLog(compactConfig({ minCleanableDirtyRatio: 0.5, segmentBytes: 1024 }));
    const cleaner = new LogCleaner({ nowMs: clock.now });
    appendAll(log, clock, Array.from({ length: 12 }, (_, i) => `key${i}`));
    log.roll();
    expect(await cleaner.clean(log)).toMatchObject({ status: 'cleaned', firstDirtyOffset: 12n });
    // A few duplicates: dirty bytes are well under half of the cleanable bytes.
    appendAll(log, clock, ['key0', 'key1']);
    log.roll();
    const low = cleaner.plan(log);
    const sealedSizes = sizesOfSealed(log);
    expect(low.dirtyRatio).toBeCloseTo(low.dirtyBytes / (low.cleanBytes + low.dirtyBytes), 10);
    expect(low.cleanBytes + low.dirtyBytes).toBe(sealedSizes);
    expect(low.dirtyRatio).toBeLessThan(0.5);
    const before = visible(log);
    expect(await cleaner.clean(log)).toMatchObject({ status: 'skipped', reason: 'not due' });
    expect(visible(log)).toEqual(before);
    appendAll(log, clock, Array.from({ length: 12 }, (_, i) => `key${i}`), 'w');
    log.roll();
    expect(cleaner.plan(log).dirtyRatio).toBeGreaterThanOrEqual(0.5);
    expect(await cleaner.clean(log)).toMatchObject({ status: 'cleaned' });
    expect(readAll(log).map((record) => record.value)).toEqual(Array.from({ length: 12 }, (_, i) => `w${i}`));
  });

  it('leaves segments younger than min.compaction.lag.ms alone', async () => {
    const { log, clock } = freshLog(compactConfig({ minCompactionLagMs: 10_000, segmentBytes: 1024 }));
    const cleaner = new LogCleaner({ nowMs: clock.now });
    appendAll(log, clock, ['a', 'a', 'a']);
    log.roll();
    clock.nowMs += 20_000;
    appendAll(log, clock, ['a', 'a']);
    log.roll();
    const plan = cleaner.plan(log);
    expect(plan.firstUncleanableOffset).toBe(3n);
    await cleaner.clean(log);
    expect(visible(log)).toEqual(['2:a=v2', '3:a=v0', '4:a=v1']);
    clock.nowMs += 10_000;
    await cleaner.clean(log);
    expect(visible(log)).toEqual(['4:a=v1']);
  });

  it('cleans a log past max.compaction.lag.ms whatever its dirty ratio, and rolls its active segment by then', async () => {
    const maxCompactionLagMs = 30_000;
    const { log, clock } = freshLog(compactConfig({ minCleanableDirtyRatio: 0.99, maxCompactionLagMs, segmentBytes: 1024 }));
    const cleaner = new LogCleaner({ nowMs: clock.now });
    appendAll(log, clock, Array.from({ length: 10 }, (_, i) => `key${i}`));
    log.roll();
    await cleaner.clean(log, { force: true });
    appendAll(log, clock, ['key0']);
    clock.nowMs += maxCompactionLagMs + 1;
    expect(log.segmentCount).toBe(2);
    appendAll(log, clock, ['key1']);
    expect(log.segmentCount, 'the active segment rolled at max.compaction.lag.ms').toBe(3);
    const plan = cleaner.plan(log);
    expect(plan.dirtyRatio).toBeLessThan(0.99);
    expect(plan).toMatchObject({ maxCompactionLagExceeded: true, due: true });
    expect(await cleaner.clean(log)).toMatchObject({ status: 'cleaned', recordsRemoved: 1 });
    expect(readAll(log).filter((record) => record.key === 'key0').map((record) => record.offset)).toEqual([10n]);
  });

  it('applies retention first for compact,delete', async () => {
    const { log, clock } = freshLog(compactConfig({ cleanupPolicy: ['compact', 'delete'], retentionMs: 5_000, segmentBytes: 1024 }));
    const cleaner = new LogCleaner({ nowMs: clock.now });
    appendAll(log, clock, ['old1', 'old2', 'x']);
    log.roll();
    clock.nowMs += 10_000;
    appendAll(log, clock, ['x', 'y', 'x']);
    log.roll();
    const result = await cleaner.clean(log);
    expect(result.retention?.deleted.map((segment) => segment.reason)).toEqual(['retention-ms']);
    expect(log.logStartOffset).toBe(3n);
    expect(visible(log)).toEqual(['4:y=v1', '5:x=v2']);
  });

  it('does not compact a delete-only log, even when forced', async () => {
    const { log, clock } = freshLog(smallConfig({ cleanupPolicy: ['delete'] }));
    appendAll(log, clock, ['a', 'a']);
    log.roll();
    expect(await new LogCleaner({ nowMs: clock.now }).clean(log, { force: true })).toMatchObject({ status: 'skipped' });
    expect(visible(log)).toHaveLength(2);
  });

  it('stops at the cleanable offset limit the broker gives', async () => {
    const { log, clock } = freshLog(compactConfig({ segmentBytes: 1024 }));
    appendAll(log, clock, ['a', 'a', 'a']);
    log.roll();
    appendAll(log, clock, ['a', 'a']);
    log.roll();
    const cleaner = new LogCleaner({ nowMs: clock.now });
    await cleaner.clean(log, { cleanableOffsetLimit: 4n });
    expect(visible(log)).toEqual(['2:a=v2', '3:a=v0', '4:a=v1']);
  });

  it('merges small cleaned segments up to segment.bytes and survives a reopen', async () => {
    const { log, clock, directory } = freshLog(compactConfig({ segmentBytes: 1024 }));
    for (let round = 0; round < 6; round += 1) {
      appendAll(log, clock, Array.from({ length: 6 }, (_, i) => `key${i}`), `r${round}-`);
      log.roll();
    }
    const segmentsBefore = log.segmentCount;
    await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(log.segmentCount).toBeLessThan(segmentsBefore);
    const expected = visible(log);
    expect(expected).toHaveLength(6);
    log.close();
    const reopened = openLog(directory, compactConfig({ segmentBytes: 1024 }), clock).log;
    expect(visible(reopened)).toEqual(expected);
    expect(reopened.firstDirtyOffset).toBe(36n);
    expect(fs.readdirSync(directory).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap'))).toEqual([]);
    reopened.close();
  });

  it('keeps an emptied first segment so that the log start offset survives a restart', async () => {
    // Segments too large to merge: each holds one batch of two 400-byte values.
    const config = compactConfig({ segmentBytes: 1024 });
    const { log, clock, directory } = freshLog(config);
    for (let round = 0; round < 2; round += 1) {
      log.append(keyedBatch([{ key: 'a', value: `a${round}`.padEnd(400) }, { key: 'b', value: `b${round}`.padEnd(400) }], clock.nowMs));
      log.roll();
    }
    const result = await new LogCleaner({ nowMs: clock.now }).clean(log);
    expect(result).toMatchObject({ swaps: 1, recordsRemoved: 2 });
    expect(log.segmentBaseOffsets).toEqual([0n, 2n, 4n]);
    expect(log.sealedSegments()[0]!.sizeBytes).toBe(0);
    log.close();
    const reopened = openLog(directory, config, clock).log;
    expect(reopened.logStartOffset).toBe(0n);
    expect(reopened.read(0n, 1 << 20)).toMatchObject({ status: 'ok', firstOffset: 2n });
    expect(readAll(reopened).map((record) => record.offset)).toEqual([2n, 3n]);
    reopened.close();
  });

  it('recovers a once-compacted log with offset gaps after its policy changed to delete', async () => {
    const { log, clock, directory } = freshLog(compactConfig({ segmentBytes: 1024 }));
    for (let round = 0; round < 4; round += 1) {
      appendAll(log, clock, ['a', 'b', 'a', 'c', 'a'], `r${round}-`);
      log.roll();
    }
    await new LogCleaner({ nowMs: clock.now }).clean(log);
    const expected = visible(log);
    expect(expected.length).toBeLessThan(20);
    log.close();
    // No partition checkpoint and no indexes: every segment is scanned as after a crash.
    for (const name of fs.readdirSync(directory)) {
      if (name === 'partition.checkpoint' || name.endsWith('index')) fs.rmSync(path.join(directory, name));
    }
    const reopened = openLog(directory, smallConfig({ cleanupPolicy: ['delete'], segmentBytes: 1024 }), clock).log;
    expect(reopened.openReport).toMatchObject({ truncatedBytes: 0, deletedSegments: 0 });
    expect(visible(reopened)).toEqual(expected);
    reopened.close();
  });
});

function sizesOfSealed(log: PartitionLog): number {
  return log.sealedSegments().reduce((sum, segment) => sum + segment.sizeBytes, 0);
}
