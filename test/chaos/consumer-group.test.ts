// A consumer group of Runnel members in child processes (cooperative-sticky assignor, manual
// commits after processing) while records flow in: members join, one is SIGKILLed, one leaves
// cleanly, another joins late.
//
// What is asserted, exactly:
// - every record produced is processed by some member at least once;
// - no record is committed twice: a record counts as committed by a member when that member
//   processed it and then a commit of its own covering it succeeded. A crashed member's
//   processed but uncommitted records may be processed again by the next owner (at-least-once),
//   but once a commit covering a record has succeeded, no member commits it again;
// - in the end the group's committed offsets equal the end offsets of every partition.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Admin } from '../../runtime/client/admin.ts';
import { Producer } from '../../runtime/client/producer.ts';
import { REPOSITORY_ROOT, cleanup, startBroker } from '../helpers/broker.ts';

const MEMBER = path.join(REPOSITORY_ROOT, 'test/chaos/group-member.ts');
const TOPIC = 'jobs';
const PARTITIONS = 6;
const SENDS = 80;
const PER_SEND = 50;
const children = new Set<ChildProcess>();

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await cleanup();
});

interface Member {
  name: string;
  child: ChildProcess;
  lines: string[];
  exited: Promise<void>;
}

function startMember(bootstrap: string, name: string): Member {
  const child = spawn(process.execPath, ['--import', 'tsx', MEMBER, bootstrap, TOPIC, 'chaos-group', name], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => { if (process.env['CHAOS_DEBUG'] !== undefined) process.stderr.write(`[${name}] ${chunk.toString()}`); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { children.delete(child); resolve(); }));
  return { name, child, lines, exited };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the group to get there');
    await sleep(50);
  }
}

function pairs(members: readonly Member[], kind: string): { member: string; key: string }[] {
  return members.flatMap((member) => member.lines
    .filter((line) => line.startsWith(`${kind} `))
    .flatMap((line) => (JSON.parse(line.slice(kind.length + 1)) as [number, string][]).map(([partition, offset]) => ({ member: member.name, key: `${partition}:${offset}` }))));
}

describe('consumer group under crashes', () => {
  it('processes every record and commits none twice while members join, crash and leave', async () => {
    const broker = await startBroker();
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic: TOPIC, numPartitions: PARTITIONS }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 1 });
    const producing = (async () => {
      for (let send = 0; send < SENDS; send++) {
        await producer.send({ topic: TOPIC, messages: Array.from({ length: PER_SEND }, (_, index) => ({ key: `k${send}-${index}`, value: String(send * PER_SEND + index) })) });
        await sleep(150);
      }
    })();

    // Members take seconds to start on a loaded machine, so each step waits for what it needs.
    const members = [startMember(broker.bootstrap, 'a'), startMember(broker.bootstrap, 'b')];
    const crashed = members[1] as Member;
    await waitFor(() => pairs([crashed], 'processed').length > 0);
    members.push(startMember(broker.bootstrap, 'c'));
    const leaving = members[2] as Member;
    await waitFor(() => pairs([leaving], 'processed').length > 0);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    members.push(startMember(broker.bootstrap, 'd'));
    await waitFor(() => (members[3] as Member).lines.some((line) => line.startsWith('owns')));
    leaving.child.kill('SIGTERM');
    await leaving.exited;
    await producing;
    await producer.close();

    const ends = await admin.listOffsets(TOPIC, 'latest');
    const total = ends.reduce((sum, entry) => sum + Number(entry.offset), 0);
    expect(total).toBe(SENDS * PER_SEND);
    const deadline = Date.now() + 40_000;
    let caughtUp = false;
    while (!caughtUp && Date.now() < deadline) {
      const committed = await admin.fetchGroupOffsets('chaos-group', [TOPIC]);
      caughtUp = ends.every((end) => committed.find((entry) => entry.partition === end.partition)?.offset === end.offset);
      if (!caughtUp) await sleep(250);
    }
    for (const member of members) if (member.child.exitCode === null && member.child.signalCode === null) member.child.kill('SIGTERM');
    await Promise.all(members.map((member) => member.exited));
    await admin.close();

    if (process.env['CHAOS_DEBUG'] !== undefined) console.log(broker.logText().split('\n').filter((line) => /group|member|rebalance/i.test(line)).slice(0, 60).join('\n'));
    if (process.env['CHAOS_DEBUG'] !== undefined) for (const member of members) console.log(member.name, member.lines.filter((line) => !line.startsWith('processed') && !line.startsWith('committed')));
    expect(caughtUp).toBe(true);
    expect(leaving.lines).toContain('closed');
    const processed = new Set(pairs(members, 'processed').map((entry) => entry.key));
    const everyRecord = ends.flatMap((end) => Array.from({ length: Number(end.offset) }, (_, offset) => `${end.partition}:${offset}`));
    expect(everyRecord.filter((key) => !processed.has(key))).toEqual([]);
    const commits = new Map<string, string[]>();
    for (const { member, key } of pairs(members, 'committed')) commits.set(key, [...(commits.get(key) ?? []), member]);
    const twice = [...commits].filter(([, by]) => by.length > 1);
    expect(twice).toEqual([]);
    // The crashed member did real work before it died, and someone took its partitions over.
    expect(pairs([crashed], 'processed').length).toBeGreaterThan(0);
    expect(pairs(members.filter((member) => member !== crashed), 'processed').length).toBeGreaterThan(0);
  });
});
