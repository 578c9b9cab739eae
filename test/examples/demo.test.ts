// The main job from README (`npm run demo`) runs end to end: an embedded broker, the generator,
// the windowed page-views application and its live view; every window it emits must match the
// counts computed independently, and the run must end by itself with exit code 0.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, REPOSITORY_ROOT, temporaryDirectory } from '../helpers/broker.ts';

afterAll(cleanup);

describe('examples/demo.ts', () => {
  it('counts generated page views per window on an embedded broker and checks every window', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'examples/demo.ts')], {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, RUNNEL_DEMO_DIR: temporaryDirectory('runnel-demo-'), RUNNEL_DEMO_VIEWS: '30000', RUNNEL_DEMO_RATE: '30000' },
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/broker up on 127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/Runnel demo: page views per minute/);
    const summary = /30,000 page views in [\d.]+ s; (\d+) one-minute and (\d+) five-minute windows emitted on close/.exec(run.stdout);
    expect(summary).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(5);
    expect(run.stdout).toContain('every window matches the counts computed independently of the application');
  }, 180_000);

  it('stops cleanly on SIGTERM: the application closes and the broker shuts down', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'examples/demo.ts')], {
      cwd: REPOSITORY_ROOT, env: { ...process.env, RUNNEL_DEMO_DIR: temporaryDirectory('runnel-demo-'), RUNNEL_DEMO_VIEWS: '1000000', RUNNEL_DEMO_RATE: '5000' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (!stdout.includes('Runnel demo: page views per minute') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 60_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(130);
    expect(stdout).toContain('interrupted: closing the application and the broker');
  }, 180_000);
});
