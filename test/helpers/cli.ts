// Runs the `runnel` command line as a child process, the way a user does, and collects what it
// printed and its exit code.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPOSITORY_ROOT } from './broker.ts';

const CLI = path.join(REPOSITORY_ROOT, 'runtime/cli/main.ts');

export interface CliRun { code: number | null; stdout: string; stderr: string }

export function runnel(args: string[], stdin = '', timeoutMs = 30_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPOSITORY_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`runnel ${args.join(' ')} did not finish:\n${stderr}`)); }, timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(stdin);
  });
}
