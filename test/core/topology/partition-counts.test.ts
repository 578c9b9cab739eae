import { describe, expect, it } from 'vitest';
import { resolvePartitionCounts } from '../../../core/topology/partition-counts.ts';
import { JoinWindows, Serdes, StreamsBuilder } from '../../../dsl/index.ts';

const strings = Serdes.string();

describe('resolvePartitionCounts', () => {
  it('a join of two re-keyed streams co-partitions both repartition topics at the larger count', () => {
    const builder = new StreamsBuilder();
    const left = builder.stream('left', { key: strings, value: strings }).selectKey((value) => value);
    const right = builder.stream('right', { key: strings, value: strings }).selectKey((value) => value);
    left.join(right, (a, b) => a + b, JoinWindows.ofTimeDifferenceWithNoGrace(10), { name: 'j', key: strings, value: strings, otherValue: strings }).to('out');
    const topology = builder.build();
    const counts = resolvePartitionCounts(topology, (topic) => (topic === 'left' ? 2 : topic === 'right' ? 6 : 1));
    expect(counts.topics.get('j-left-repartition')).toBe(6);
    expect(counts.topics.get('j-right-repartition')).toBe(6);
    const joinSubtopology = topology.subtopologies.find((subtopology) => subtopology.nodes.some((node) => node.kind === 'source' && node.topics.includes('j-left-repartition')));
    expect(counts.tasks.get(joinSubtopology?.id ?? -1)).toBe(6);
    expect(counts.topics.get('j-this-join-store-changelog')).toBe(6);
  });

  it('a fixed repartition count wins over the writer, and zero partitions are refused', () => {
    const builder = new StreamsBuilder();
    builder.stream('in', { key: strings, value: strings }).repartition({ name: 'r', partitions: 3 }).to('out');
    const topology = builder.build();
    expect(resolvePartitionCounts(topology, () => 8).topics.get('r-repartition')).toBe(3);
    expect(() => resolvePartitionCounts(topology, () => 0)).toThrow(/needs at least one/);
  });
});
