// The main job from README (`npm run demo`) runs end to end, twice on the same data directory:
// the second run finds the first run's records and committed offsets and reads only new ones.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, REPOSITORY_ROOT, temporaryDirectory } from '../helpers/broker.ts';

afterAll(cleanup);

function runDemo(dataDirectory: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'examples/demo.ts')], {
    cwd: REPOSITORY_ROOT, env: { ...process.env, RUNNEL_DEMO_DIR: dataDirectory }, encoding: 'utf8', timeout: 90_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('examples/demo.ts', () => {
  it('round-trips orders through an embedded broker and resumes on a second run', () => {
    const dataDirectory = temporaryDirectory();
    const first = runDemo(dataDirectory);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/produced 1000 orders \(the topic held 0 before\)/);
    expect(first.stdout).toMatch(/consumed 1000 new orders .* out of order per customer: 0/);
    const second = runDemo(dataDirectory);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/the topic held 1000 before/);
    expect(second.stdout).toMatch(/consumed 1000 new orders/);
    const committed = /committed offsets: (.*)/.exec(second.stdout)![1]!.split(' ').reduce((sum, entry) => sum + Number(entry.split(':')[1]), 0);
    expect(committed).toBe(2000);
  }, 120_000);
});
