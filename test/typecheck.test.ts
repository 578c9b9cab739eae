// The whole tree type-checks under the strict settings of tsconfig.json. The DSL's promise that
// a wrong lambda does not compile rests on this: its type tests use @ts-expect-error.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPOSITORY_ROOT } from './helpers/broker.ts';

describe('typescript', () => {
  it('type-checks the whole tree', () => {
    const tsc = path.join(REPOSITORY_ROOT, 'node_modules/typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '--noEmit', '-p', REPOSITORY_ROOT], { encoding: 'utf8', timeout: 300_000 });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 320_000);
});
