// Runs kcat (librdkafka's command-line client) as a child process with the given input and
// collects its output and exit code; a run that hangs is killed after the timeout.
import { spawn } from 'node:child_process';

export interface KcatRun { code: number | null; stdout: string; stderr: string }

export function kcat(args: string[], input = '', timeoutMs = 30_000): Promise<KcatRun> {
  return new Promise((resolve) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.on('error', () => { /* kcat may exit before reading its input */ });
    child.stdin.end(input);
  });
}
