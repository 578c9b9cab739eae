// The consumer protocol's subscription and assignment bytes, and the two assignors.
import { describe, expect, it } from 'vitest';
import { Writer } from '../../../core/protocol/index.ts';
import {
  cooperativeStickyAssignor,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssignor,
  roundRobinAssignor,
  stickyAssignor,
} from '../../../runtime/client/group-protocol.ts';

describe('consumer protocol encoding', () => {
  it('writes subscription v0 byte for byte', () => {
    const bytes = encodeSubscription(['ab', 'c']);
    expect(bytes.toString('hex')).toBe('0000' + '00000002' + '0002' + '6162' + '0001' + '63' + 'ffffffff');
    expect(decodeSubscription(bytes)).toEqual({ version: 0, topics: ['ab', 'c'], userData: null, ownedPartitions: [] });
  });

  it('reads a v3 subscription as the Java client writes it, ignoring the fields it does not use', () => {
    const writer = new Writer(64).int16(3).int32(1).string('orders').nullableBytes(Buffer.from('u'));
    writer.int32(1).string('orders').int32(2).int32(0).int32(1); // ownedPartitions
    writer.int32(7).nullableString('rack-a'); // generationId, rackId
    expect(decodeSubscription(writer.finish())).toEqual({ version: 3, topics: ['orders'], userData: Buffer.from('u'), ownedPartitions: [{ topic: 'orders', partitions: [0, 1] }] });
  });

  it('round-trips an assignment and reads an empty one as nothing assigned', () => {
    const partitions = [{ topic: 'a', partitions: [0, 2] }, { topic: 'b', partitions: [1] }];
    const bytes = encodeAssignment(partitions, Buffer.from([1, 2]));
    expect(decodeAssignment(bytes)).toEqual({ version: 0, partitions, userData: Buffer.from([1, 2]) });
    expect(decodeAssignment(Buffer.alloc(0)).partitions).toEqual([]);
  });

  it('rejects an assignment whose array count cannot fit its bytes', () => {
    const forged = new Writer(16).int16(0).int32(1_000_000).finish();
    expect(() => decodeAssignment(forged)).toThrow();
  });
});

describe('assignors', () => {
  const counts = new Map([['a', 5], ['b', 2]]);

  it('range gives consecutive ranges, the first members one extra', () => {
    const plan = rangeAssignor([{ memberId: 'm2', topics: ['a'] }, { memberId: 'm1', topics: ['a', 'b'] }], counts);
    expect(plan.get('m1')).toEqual([{ topic: 'a', partitions: [0, 1, 2] }, { topic: 'b', partitions: [0, 1] }]);
    expect(plan.get('m2')).toEqual([{ topic: 'a', partitions: [3, 4] }]);
  });

  it('round robin deals partitions in turn to members subscribed to the topic', () => {
    const plan = roundRobinAssignor([{ memberId: 'x', topics: ['a', 'b'] }, { memberId: 'y', topics: ['a', 'b'] }], counts);
    expect(plan.get('x')).toEqual([{ topic: 'a', partitions: [0, 2, 4] }, { topic: 'b', partitions: [1] }]);
    expect(plan.get('y')).toEqual([{ topic: 'a', partitions: [1, 3] }, { topic: 'b', partitions: [0] }]);
  });

  it('both assign every partition exactly once, and members without topics get an empty list', () => {
    const members = [{ memberId: 'p', topics: ['a'] }, { memberId: 'q', topics: ['b'] }, { memberId: 'r', topics: [] }];
    for (const assignor of [rangeAssignor, roundRobinAssignor]) {
      const plan = assignor(members, counts);
      const all = [...plan.values()].flat().flatMap((entry) => entry.partitions.map((partition) => `${entry.topic}-${partition}`)).sort();
      expect(all).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4', 'b-0', 'b-1']);
      expect(plan.get('r')).toEqual([]);
      expect(plan.get('q')?.every((entry) => entry.topic === 'b')).toBe(true);
    }
  });
});

describe('sticky assignors', () => {
  const counts = new Map([['t', 6]]);
  const owned = (memberId: string, partitions: number[]) => ({ memberId, topics: ['t'], ownedPartitions: [{ topic: 't', partitions }] });

  it('sticky keeps what members own up to a fair share and balances the rest', () => {
    const plan = stickyAssignor([owned('a', [0, 1, 2, 3, 4, 5]), owned('b', []), owned('c', [])], counts);
    expect(plan.get('a')?.[0]?.partitions).toHaveLength(2);
    expect(plan.get('a')?.[0]?.partitions.every((partition) => partition <= 5)).toBe(true);
    const all = ['a', 'b', 'c'].flatMap((member) => plan.get(member)?.[0]?.partitions ?? []).sort();
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
    expect(['b', 'c'].map((member) => plan.get(member)?.[0]?.partitions.length)).toEqual([2, 2]);
    // A member that leaves gives up only its own partitions.
    const after = stickyAssignor([owned('a', [0, 1]), owned('c', [4, 5])], counts);
    expect(after.get('a')?.[0]?.partitions.slice(0, 2)).toEqual([0, 1]);
    expect(after.get('c')?.[0]?.partitions).toEqual(expect.arrayContaining([4, 5]));
  });

  it('cooperative sticky holds back partitions that move between live members for a second round', () => {
    const first = cooperativeStickyAssignor([owned('a', [0, 1, 2, 3, 4, 5]), owned('b', [])], counts);
    expect(first.get('a')?.[0]?.partitions).toEqual([0, 1, 2]);
    expect(first.get('b')).toEqual([]);
    const second = cooperativeStickyAssignor([owned('a', [0, 1, 2]), owned('b', [])], counts);
    expect(second.get('a')?.[0]?.partitions).toEqual([0, 1, 2]);
    expect(second.get('b')?.[0]?.partitions).toEqual([3, 4, 5]);
  });

  it('writes subscription v1 with the owned partitions when given them', () => {
    const bytes = encodeSubscription(['t'], null, [{ topic: 't', partitions: [1, 3] }]);
    expect(decodeSubscription(bytes)).toEqual({ version: 1, topics: ['t'], userData: null, ownedPartitions: [{ topic: 't', partitions: [1, 3] }] });
  });
});
