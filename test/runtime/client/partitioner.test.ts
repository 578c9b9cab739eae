// The murmur2 partitioner must put keys where the Java client and kafkajs's default partitioner
// put them; kafkajs (a client this project did not write) is the reference here.
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { StickyPartitions, murmur2, partitionForKey } from '../../../runtime/client/partitioner.ts';

const kafkajsPartitioner = Partitioners.DefaultPartitioner();

function kafkajsPartition(key: Buffer, partitionCount: number): number {
  const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }));
  return kafkajsPartitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

describe('murmur2 partitioner', () => {
  it('agrees with kafkajs DefaultPartitioner for 10,000 keys of every tail length', () => {
    for (const partitionCount of [1, 3, 7, 12]) {
      for (let index = 0; index < 10_000; index++) {
        const key = Buffer.from(`key-${index}-${'x'.repeat(index % 5)}`);
        expect(partitionForKey(key, partitionCount)).toBe(kafkajsPartition(key, partitionCount));
      }
    }
  });

  it('agrees on binary keys with high bytes and the empty key', () => {
    for (let index = 0; index < 2_000; index++) {
      const key = Buffer.from(Array.from({ length: index % 17 }, (_, at) => (index * 31 + at * 97) & 0xff));
      expect(partitionForKey(key, 10)).toBe(kafkajsPartition(key, 10));
    }
  });

  it('matches hashes the Java client computes', () => {
    // Utils.murmur2 values of the Java client for these UTF-8 strings.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from(''))).toBe(275646681);
  });

  it('rejects a partition count below one', () => {
    expect(() => partitionForKey(Buffer.from('k'), 0)).toThrow(RangeError);
  });
});

describe('sticky partitions', () => {
  it('stays on one partition until told to move, then moves to a different one', () => {
    const sticky = new StickyPartitions();
    const first = sticky.partition('t', 4);
    for (let index = 0; index < 20; index++) expect(sticky.partition('t', 4)).toBe(first);
    for (let index = 0; index < 20; index++) {
      const previous = sticky.partition('t', 4);
      expect(sticky.next('t', 4)).not.toBe(previous);
    }
  });
});
