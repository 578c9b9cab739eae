// `runnel cluster start --nodes 3 --data-dir DIR`: three node processes on ports chosen at run
// time, their addresses printed; a client sees all three brokers; SIGTERM stops them all.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, REPOSITORY_ROOT, temporaryDirectory } from '../helpers/broker.ts';
import { eventually } from '../helpers/cluster.ts';

afterAll(cleanup);

describe('runnel cluster start', () => {
  it('starts three nodes, prints their addresses and stops them on SIGTERM', async () => {
    const dataDirectory = temporaryDirectory('runnel-cluster-cli-');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPOSITORY_ROOT, 'runtime/cli/main.ts'), 'cluster', 'start', '--nodes', '3', '--data-dir', dataDirectory,
      '--override', 'controller.quorum.election.timeout.ms=500', '--override', 'controller.quorum.fetch.timeout.ms=1500'], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let stdout = '';
      child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
      const bootstrap = await eventually('the bootstrap line', () => /bootstrap servers: (\S+)/.exec(stdout)?.[1], 60_000);
      expect(stdout.match(/^node \d: broker 127\.0\.0\.1:\d+ controller 127\.0\.0\.1:\d+$/gm)).toHaveLength(3);
      const admin = new Kafka({ clientId: 'cli-test', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const brokers = await eventually('three live brokers', async () => {
          const described = await admin.describeCluster();
          return described.brokers.length === 3 ? described.brokers : undefined;
        });
        expect(brokers.map((broker) => `127.0.0.1:${broker.port}`).sort()).toEqual(bootstrap.split(',').sort());
      } finally {
        await admin.disconnect();
      }
      for (const id of [1, 2, 3]) expect(existsSync(path.join(dataDirectory, `node-${id}`, 'metadata-quorum'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      // The command and the nodes it started share a process group; none may outlive the test.
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }
  });
});
