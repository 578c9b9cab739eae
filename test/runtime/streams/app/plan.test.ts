// The pieces of the streams runtime that need no broker: the task-aware assignor, the physical
// plan of a topology (tasks, internal topics, co-partitioning) and the config parser.
import { describe, expect, it } from 'vitest';
import { JoinWindows, Serdes, StreamsBuilder, TimeWindows } from '../../../../dsl/index.ts';
import { assignTasks, parseStreamsConfig, planTopology, StreamsConfigError, TopologyPlanError } from '../../../../runtime/streams/app/index.ts';
import { decodeAssignmentInfo, decodeSubscriptionInfo, encodeInfo } from '../../../../runtime/streams/app/assignment-info.ts';

const tasks = (count: number, stateful = true) => Array.from({ length: count }, (_, index) => ({ id: `0_${index}`, stateful }));

describe('assignTasks', () => {
  it('balances tasks over members and places every task exactly once', () => {
    const result = assignTasks(tasks(7), [{ memberId: 'b', previousActive: [], localState: [] }, { memberId: 'a', previousActive: [], localState: [] }, { memberId: 'c', previousActive: [], localState: [] }]);
    const placed = [...result.values()].flatMap((entry) => entry.active).sort();
    expect(placed).toEqual(tasks(7).map((task) => task.id).sort());
    const loads = [...result.values()].map((entry) => entry.active.length).sort();
    expect(loads).toEqual([2, 2, 3]);
  });

  it('keeps tasks with their previous owner and moves only what balance requires', () => {
    const before = [{ memberId: 'a', previousActive: ['0_0', '0_1', '0_2', '0_3'], localState: ['0_0', '0_1', '0_2', '0_3'] }];
    const result = assignTasks(tasks(4), [...before, { memberId: 'b', previousActive: [], localState: [] }]);
    expect(result.get('a')?.active).toHaveLength(2);
    expect(result.get('b')?.active).toHaveLength(2);
    // The tasks a keeps are ones it had; a new member never takes more than its share.
    for (const id of result.get('a')?.active ?? []) expect(before[0]?.previousActive).toContain(id);
  });

  it('sends a stateful task that must move to a member that has its state on disk', () => {
    const result = assignTasks(tasks(2), [
      { memberId: 'a', previousActive: [], localState: [] },
      { memberId: 'b', previousActive: [], localState: ['0_1'] },
    ]);
    expect(result.get('b')?.active).toEqual(['0_1']);
    expect(result.get('a')?.active).toEqual(['0_0']);
  });

  it('computes the same plan whatever order members are listed in', () => {
    const members = [
      { memberId: 'x', previousActive: ['0_2'], localState: ['0_2', '0_4'] },
      { memberId: 'y', previousActive: [], localState: ['0_0'] },
      { memberId: 'z', previousActive: ['0_1'], localState: [] },
    ];
    const forward = assignTasks(tasks(6), members, 1);
    const backward = assignTasks(tasks(6), [...members].reverse(), 1);
    expect(Object.fromEntries(backward)).toEqual(Object.fromEntries(forward));
  });

  it('puts standbys on members other than the active one, one copy per member', () => {
    const result = assignTasks(tasks(3), [{ memberId: 'a', previousActive: [], localState: [] }, { memberId: 'b', previousActive: [], localState: [] }], 3);
    for (const entry of result.values()) for (const id of entry.standby) expect(entry.active).not.toContain(id);
    // Two members: each task can have one standby only.
    expect([...result.values()].flatMap((entry) => entry.standby).sort()).toEqual(['0_0', '0_1', '0_2']);
  });
});

describe('planTopology', () => {
  it('plans tasks per sub-topology and partition and names the internal topics with the application id', () => {
    const builder = new StreamsBuilder();
    builder
      .stream('lines', { key: Serdes.string(), value: Serdes.string() })
      .groupBy((line) => line, { name: 'by-line', key: Serdes.string(), value: Serdes.string() })
      .windowedBy(TimeWindows.ofSizeWithNoGrace(60_000))
      .count({ name: 'per-minute' });
    const plan = planTopology(builder.build(), 'app', new Map([['lines', 3]]));
    expect(plan.tasks.map((task) => task.id)).toEqual(['0_0', '0_1', '0_2', '1_0', '1_1', '1_2']);
    expect(plan.tasks.find((task) => task.id === '1_2')?.inputs).toEqual([{ topic: 'app-by-line-repartition', partition: 2 }]);
    const changelog = plan.internalTopics.find((topic) => topic.kind === 'changelog');
    expect(changelog?.name).toBe('app-per-minute-changelog');
    expect(changelog?.partitions).toBe(3);
    expect(changelog?.config['cleanup.policy']).toBe('compact,delete');
    expect(Number(changelog?.config['retention.ms'])).toBeGreaterThanOrEqual(86_400_000 + 60_000);
  });

  it('refuses co-partitioned join inputs with different partition counts, naming them', () => {
    const builder = new StreamsBuilder();
    const left = builder.stream('left', { key: Serdes.string(), value: Serdes.string() });
    const right = builder.stream('right', { key: Serdes.string(), value: Serdes.string() });
    left.join(right, (a, b) => `${a}${b}`, JoinWindows.ofTimeDifferenceWithNoGrace(5_000)).to('joined');
    const topology = builder.build();
    expect(() => planTopology(topology, 'app', new Map([['left', 2], ['right', 3]]))).toThrow(TopologyPlanError);
    expect(() => planTopology(topology, 'app', new Map([['left', 2], ['right', 3]]))).toThrow(/left.*right.*different partition counts/);
    expect(planTopology(topology, 'app', new Map([['left', 2], ['right', 2]])).tasks).toHaveLength(2);
  });

  it('refuses to start without its source topics', () => {
    const builder = new StreamsBuilder();
    builder.stream('missing', { key: Serdes.string(), value: Serdes.string() }).to('out');
    expect(() => planTopology(builder.build(), 'app', new Map())).toThrow(/source topic missing does not exist/);
  });
});

describe('streams config', () => {
  it('accepts Kafka Streams names and applies the guarantee-dependent commit interval', () => {
    const config = parseStreamsConfig({ 'application.id': 'shop', 'bootstrap.servers': 'a:1,b:2', 'num.standby.replicas': '1' });
    expect(config.bootstrapServers).toEqual(['a:1', 'b:2']);
    expect(config.commitIntervalMs).toBe(30_000);
    expect(config.numStandbyReplicas).toBe(1);
    expect(parseStreamsConfig({ applicationId: 'shop', bootstrap: 'embedded', processingGuarantee: 'exactly_once_v2' }).commitIntervalMs).toBe(100);
  });

  it('names the bad option', () => {
    expect(() => parseStreamsConfig({ 'application.id': 'shop', 'bootstrap.servers': 'nohostport' })).toThrow(StreamsConfigError);
    expect(() => parseStreamsConfig({ 'application.id': 'shop', 'bootstrap.servers': 'a:1', 'commit.interval.msx': 5 })).toThrow(/commit\.interval\.msx/);
    expect(() => parseStreamsConfig({ 'application.id': 'shop', applicationId: 'x', 'bootstrap.servers': 'a:1' })).toThrow(/given twice/);
    expect(() => parseStreamsConfig({ 'application.id': 'shop', 'bootstrap.servers': 'a:1', 'processing.guarantee': 'exactly_once_v2', 'commit.interval.ms': 30_000 })).toThrow(/transaction timeout/);
  });
});

describe('group user data', () => {
  it('round-trips subscription and assignment info and rejects foreign bytes', () => {
    const subscription = { version: 1 as const, endpoint: 'h:1', previousActive: ['0_1'], localState: ['0_1', '1_0'] };
    expect(decodeSubscriptionInfo(encodeInfo(subscription))).toEqual(subscription);
    const assignment = { version: 1 as const, active: ['0_0'], standby: [], endpoints: { 'h:1': ['0_0'] } };
    expect(decodeAssignmentInfo(encodeInfo(assignment))).toEqual(assignment);
    expect(decodeAssignmentInfo(Buffer.from([0, 1, 2]))).toBeNull();
    expect(decodeSubscriptionInfo(Buffer.from(JSON.stringify({ version: 2 })))).toBeNull();
  });
});
