import { describe, expect, it } from 'vitest';
import { Duration } from 'luxon';
import { JoinWindows, SessionWindows, TimeWindows } from '../../../core/topology/windows.ts';
import { checkCompatibility } from '../../../core/topology/compatibility.ts';
import { StreamsBuilder, Serdes, describeData } from '../../../dsl/index.ts';

describe('window math', () => {
  it('tumbling windows are aligned to the epoch and half-open', () => {
    const windows = TimeWindows.ofSizeWithNoGrace(Duration.fromObject({ seconds: 10 }));
    expect(windows.windowsFor(0)).toEqual([{ startMs: 0, endMs: 10_000 }]);
    expect(windows.windowsFor(9_999)).toEqual([{ startMs: 0, endMs: 10_000 }]);
    expect(windows.windowsFor(10_000)).toEqual([{ startMs: 10_000, endMs: 20_000 }]);
  });

  it('hopping windows cover a timestamp size/advance times', () => {
    const windows = TimeWindows.ofSizeAndGrace(10, 3).advanceBy(2);
    const found = windows.windowsFor(11);
    expect(found.map((window) => window.startMs)).toEqual([2, 4, 6, 8, 10]);
    for (const window of found) expect(window.startMs <= 11 && 11 < window.endMs).toBe(true);
    expect(windows.retentionMs()).toBe(13);
  });

  it('rejects nonsense durations', () => {
    expect(() => TimeWindows.ofSizeWithNoGrace(0)).toThrow();
    expect(() => TimeWindows.ofSizeWithNoGrace(10).advanceBy(11)).toThrow();
    expect(() => TimeWindows.ofSizeWithNoGrace(1_000_000).advanceBy(1)).toThrow(/more than 10000 hopping windows/);
    expect(() => SessionWindows.ofInactivityGapWithNoGrace(-1)).toThrow();
    expect(() => JoinWindows.ofTimeDifferenceWithNoGrace(1.5)).toThrow();
    expect(JoinWindows.ofTimeDifferenceAndGrace(Duration.fromObject({ minutes: 1 }), 0).before(0).sizeMs()).toBe(60_000);
  });
});

describe('checkCompatibility', () => {
  const build = (storeName: string, extraRepartition: boolean) => {
    const builder = new StreamsBuilder();
    const stream = builder.stream('in', { key: Serdes.string(), value: Serdes.string() });
    stream.groupByKey().count({ name: storeName });
    if (extraRepartition) stream.selectKey((value) => value).groupByKey({ name: 'by-value' }).count({ name: 'by-value-count' });
    return describeData(builder.build());
  };

  it('accepts the same names and reports orphaned stores and internal topics', () => {
    expect(checkCompatibility(build('counts', true), build('counts', true))).toEqual({ compatible: true, problems: [] });
    const report = checkCompatibility(build('counts', true), build('totals', false));
    expect(report.compatible).toBe(false);
    expect(report.problems).toEqual([
      'store counts is gone: its state and changelog would be orphaned',
      'store by-value-count is gone: its state and changelog would be orphaned',
      'internal topic by-value-repartition is gone: records in it would be orphaned',
      'internal topic counts-changelog is gone: records in it would be orphaned',
      'internal topic by-value-count-changelog is gone: records in it would be orphaned',
    ]);
    // The data form survives JSON, so a previous topology can be read back from a file.
    expect(checkCompatibility(JSON.parse(JSON.stringify(build('counts', false))), build('counts', false)).compatible).toBe(true);
  });
});
