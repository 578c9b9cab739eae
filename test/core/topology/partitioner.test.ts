import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../../../core/partitioner.ts';
import { murmur2 as clientMurmur2 } from '../../../runtime/client/partitioner.ts';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

describe('core murmur2 partitioner', () => {
  // Values from Kafka's own test of Utils.murmur2, so keys land where Java producers put them.
  it('hashes like the Java client', () => {
    expect(murmur2(text('21'))).toBe(-973932308);
    expect(murmur2(text('foobar'))).toBe(-790332482);
    expect(murmur2(text('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(text('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(text('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(text('abc'))).toBe(479470107);
  });

  it('agrees with the client copy on every tail length and on high bytes', () => {
    for (let length = 0; length < 40; length++) {
      const bytes = Uint8Array.from({ length }, (_, index) => (index * 97 + length * 31 + 200) & 0xff);
      expect(murmur2(bytes)).toBe(clientMurmur2(Buffer.from(bytes)));
    }
  });

  it('masks the sign bit and stays within the partition count', () => {
    for (let index = 0; index < 200; index++) {
      const partition = partitionForKey(text(`key-${index}`), 7);
      expect(partition).toBe((murmur2(text(`key-${index}`)) & 0x7fffffff) % 7);
      expect(partition).toBeGreaterThanOrEqual(0);
      expect(partition).toBeLessThan(7);
    }
    expect(() => partitionForKey(text('k'), 0)).toThrow(RangeError);
  });
});
