import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { makeBatch } from './batches.ts';
import { cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';

let directory: string;

beforeEach(() => {
  directory = temporaryDirectory();
});
afterEach(() => cleanup(directory));

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('offsetForTimestamp', () => {
  it('finds the first record at or after every timestamp, across segments, with timestamps out of order', () => {
    const config = smallConfig();
    const opened = openLog(path.join(directory, 'clicks-0'), config);
    const random = sequence(7);
    const timestamps: bigint[] = [];
    for (let i = 0; i < 150; i += 1) {
      const count = 1 + Math.floor(random() * 4);
      const records = Array.from({ length: count }, () => {
        // Mostly rising with jitter, so some records are older than ones before them.
        const timestamp = BigInt(10_000 + i * 10 + Math.floor(random() * 40) - 20);
        timestamps.push(timestamp);
        return { timestamp, value: Buffer.from('v') };
      });
      opened.log.append(makeBatch(records));
    }
    expect(opened.log.segmentCount).toBeGreaterThan(5);
    const check = (log: PartitionLog) => {
      for (let target = 9_970n; target <= 11_540n; target += 3n) {
        const index = timestamps.findIndex((timestamp) => timestamp >= target);
        const found = log.offsetForTimestamp(target);
        if (index < 0) expect(found).toBeNull();
        else expect(found, `target ${target}`).toEqual({ offset: BigInt(index), timestamp: timestamps[index] });
      }
    };
    check(opened.log);
    opened.log.close();
    // The same answers from index files read back from disk.
    const reopened = openLog(path.join(directory, 'clicks-0'), config);
    check(reopened.log);
    reopened.log.close();
  });

  it('never answers below the log start offset', () => {
    const opened = openLog(path.join(directory, 'clicks-0'), smallConfig());
    for (let i = 0; i < 10; i += 1) opened.log.append(makeBatch([{ timestamp: BigInt(100 + i), value: Buffer.from('x') }]));
    opened.log.deleteRecordsBefore(4n);
    expect(opened.log.offsetForTimestamp(0n)).toEqual({ offset: 4n, timestamp: 104n });
    expect(opened.log.offsetForTimestamp(107n)).toEqual({ offset: 7n, timestamp: 107n });
    // A batch that straddles the log start offset answers with a record at or above it.
    opened.log.append(makeBatch([300n, 100n, 301n].map((timestamp) => ({ timestamp, value: Buffer.from('s') }))));
    opened.log.deleteRecordsBefore(11n);
    expect(opened.log.offsetForTimestamp(50n)).toEqual({ offset: 11n, timestamp: 100n });
    expect(opened.log.offsetForTimestamp(302n)).toBeNull();
    opened.log.close();
  });

  it('answers compressed batches at batch granularity and LogAppendTime batches with the stamped time', () => {
    const opened = openLog(path.join(directory, 'clicks-0'), smallConfig());
    const records = [10n, 20n, 30n].map((timestamp) => ({ timestamp, value: Buffer.from('z') }));
    opened.log.append(makeBatch(records, { attributes: 4 }));
    expect(opened.log.offsetForTimestamp(25n)).toEqual({ offset: 0n, timestamp: 30n });
    opened.log.close();
    const stamped = openLog(path.join(directory, 'stamped-0'), smallConfig({ messageTimestampType: 'LogAppendTime' }));
    stamped.log.append(makeBatch(records), { logAppendTimeMs: 500 });
    expect(stamped.log.offsetForTimestamp(400n)).toEqual({ offset: 0n, timestamp: 500n });
    stamped.log.close();
  });
});

describe('maxTimestampOffset', () => {
  it('names the record with the largest timestamp, and nothing for an empty log', () => {
    const opened = openLog(path.join(directory, 'clicks-0'), smallConfig());
    expect(opened.log.maxTimestampOffset()).toBeNull();
    const values = [5n, 90n, 40n, 70n, 90n, 10n];
    for (let i = 0; i < 30; i += 1) {
      opened.log.append(makeBatch(values.map((timestamp) => ({ timestamp: timestamp + BigInt(i === 17 ? 1000 : 0), value: Buffer.from('m') }))));
    }
    expect(opened.log.maxTimestampOffset()).toEqual({ offset: 17n * 6n + 1n, timestamp: 1090n });
    opened.log.close();
  });
});
