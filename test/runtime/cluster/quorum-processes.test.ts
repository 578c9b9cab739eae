// Three quorum voters as three processes on loopback: SIGKILL the leader (no clean close, so
// the metadata log recovers from whatever the kill left), elect again, bring it back.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'quorum-process.ts');
const VOTERS = [1, 2, 3];

interface Status {
  status: { nodeId: number; role: string; epoch: number; leaderId: number; highWatermark: string; logEndOffset: string };
  activeLeader: boolean;
  applied: string[];
}

class VoterProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (value: Record<string, unknown>) => void>();
  readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess, readonly port: number, lines: readline.Interface) {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      const resolve = this.waiting.get(message['id'] as number);
      this.waiting.delete(message['id'] as number);
      resolve?.(message);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(id: number, directory: string): Promise<VoterProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, String(id), directory, VOTERS.join(',')], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, RUNNEL_LOG_LEVEL: 'warn' } });
    running.add(child);
    child.stderr!.resume();
    const lines = readline.createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`voter ${id} did not start`)), 30_000);
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      });
    });
    return new VoterProcess(child, port, lines);
  }

  request(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(JSON.stringify({ id, ...command }) + '\n');
    });
  }

  status(): Promise<Status> {
    return this.request({ status: true }) as unknown as Promise<Status>;
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

const running = new Set<ChildProcess>();
const roots: string[] = [];
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

async function connect(voters: Map<number, VoterProcess>): Promise<void> {
  const peers = Object.fromEntries([...voters].map(([id, voter]) => [String(id), voter.port]));
  await Promise.all([...voters.values()].map((voter) => voter.request({ peers })));
}

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function activeLeader(voters: Map<number, VoterProcess>): Promise<number> {
  return waitFor(async () => {
    const statuses = await Promise.all([...voters].map(async ([id, voter]) => [id, await voter.status()] as const));
    const leaders = statuses.filter(([, status]) => status.activeLeader);
    expect(leaders.length).toBeLessThanOrEqual(1);
    return leaders[0]?.[0] ?? null;
  });
}

async function appliedEverywhere(voters: Map<number, VoterProcess>, expected: string[]): Promise<void> {
  await waitFor(async () => {
    const statuses = await Promise.all([...voters.values()].map((voter) => voter.status()));
    return statuses.every((status) => status.applied.length >= expected.length) ? statuses : null;
  }).then((statuses) => {
    for (const status of statuses) expect(status.applied).toEqual(expected);
  });
}

describe('quorum voters in separate processes', () => {
  it('survive a SIGKILL of the leader without losing committed records', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-quorum-processes-'));
    roots.push(root);
    const voters = new Map<number, VoterProcess>();
    for (const id of VOTERS) voters.set(id, await VoterProcess.start(id, path.join(root, `node-${id}`)));
    await connect(voters);
    const first = await activeLeader(voters);
    const before = Array.from({ length: 1_000 }, (_, index) => `a${index}`);
    expect(await voters.get(first)!.request({ append: before })).toMatchObject({ ok: true });
    await appliedEverywhere(voters, before);

    await voters.get(first)!.kill();
    voters.delete(first);
    const second = await activeLeader(voters);
    expect(second).not.toBe(first);
    const after = [...before, 'b0', 'b1'];
    expect(await voters.get(second)!.request({ append: ['b0', 'b1'] })).toMatchObject({ ok: true });
    await appliedEverywhere(voters, after);

    voters.set(first, await VoterProcess.start(first, path.join(root, `node-${first}`)));
    await connect(voters);
    await appliedEverywhere(voters, after);
    const returned = await voters.get(first)!.status();
    expect(returned.status.role).toBe('follower');
    expect(returned.status.leaderId).toBe(second);
  });
});
