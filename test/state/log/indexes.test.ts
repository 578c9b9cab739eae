import { describe, expect, it } from 'vitest';
import { OffsetIndex } from '../../../state/log/offset-index.ts';
import { TimeIndex } from '../../../state/log/time-index.ts';

describe('OffsetIndex', () => {
  it('finds the entry at or below each offset and round-trips through its file format', () => {
    const index = new OffsetIndex(1024);
    for (let i = 1; i <= 50; i += 1) index.append(i * 10, i * 4096);
    expect(index.lookup(0)).toEqual({ relativeOffset: 0, position: 0 });
    expect(index.lookup(9)).toEqual({ relativeOffset: 0, position: 0 });
    expect(index.lookup(10)).toEqual({ relativeOffset: 10, position: 4096 });
    expect(index.lookup(255)).toEqual({ relativeOffset: 250, position: 25 * 4096 });
    expect(index.lookup(10_000)).toEqual({ relativeOffset: 500, position: 50 * 4096 });
    const loaded = OffsetIndex.fromBuffer(index.toBuffer(), 1024, 51 * 4096);
    expect(loaded?.toBuffer().equals(index.toBuffer())).toBe(true);
    expect(() => index.append(500, 60 * 4096)).toThrow(/does not follow/);
  });

  it('rejects files that cannot belong to the log', () => {
    const index = new OffsetIndex(1024);
    index.append(5, 100);
    index.append(9, 200);
    const bytes = index.toBuffer();
    expect(OffsetIndex.fromBuffer(bytes.subarray(0, 12), 1024, 1000)).toBeNull();
    expect(OffsetIndex.fromBuffer(bytes, 1024, 200)).toBeNull();
    const swapped = Buffer.concat([bytes.subarray(8), bytes.subarray(0, 8)]);
    expect(OffsetIndex.fromBuffer(swapped, 1024, 1000)).toBeNull();
    expect(OffsetIndex.fromBuffer(Buffer.alloc(8), 1024, 1000)).toBeNull();
  });

  it('reports full at segment.index.bytes', () => {
    const index = new OffsetIndex(24);
    for (let i = 1; i <= 3; i += 1) index.append(i, i);
    expect(index.isFull).toBe(true);
    expect(() => index.append(4, 4)).toThrow(/full/);
  });
});

describe('TimeIndex', () => {
  it('keeps only rising timestamps and finds the last entry strictly before a target', () => {
    const index = new TimeIndex();
    index.maybeAppend(100n, 0);
    index.maybeAppend(100n, 5);
    index.maybeAppend(90n, 6);
    index.maybeAppend(200n, 10);
    expect(index.entryCount).toBe(2);
    expect(index.lookupBefore(100n)).toBeNull();
    expect(index.lookupBefore(101n)).toEqual({ timestamp: 100n, relativeOffset: 0 });
    expect(index.lookupBefore(10_000n)).toEqual({ timestamp: 200n, relativeOffset: 10 });
    expect(TimeIndex.fromBuffer(index.toBuffer(), 10)?.lastEntry()).toEqual({ timestamp: 200n, relativeOffset: 10 });
    expect(TimeIndex.fromBuffer(index.toBuffer(), 9)).toBeNull();
    const swapped = Buffer.concat([index.toBuffer().subarray(12), index.toBuffer().subarray(0, 12)]);
    expect(TimeIndex.fromBuffer(swapped, 100)).toBeNull();
  });
});
