// The `runnel` client commands, run as child processes against a real broker process.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { runnel } from '../../helpers/cli.ts';

let broker: BrokerProcess;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker();
  admin = new Admin({ bootstrapServers: broker.bootstrap });
});

afterAll(async () => {
  await admin.close();
  await cleanup();
});

const at = (): string[] => ['--bootstrap-server', broker.bootstrap];

describe('runnel topics', () => {
  it('creates, lists and describes a topic', async () => {
    const created = await runnel(['topics', 'create', ...at(), '--topic', 'cli-orders', '--partitions', '3', '--config', 'retention.ms=7200000']);
    expect(created).toMatchObject({ code: 0, stdout: 'Created topic cli-orders.\n' });
    const listed = await runnel(['topics', 'list', ...at()]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')).toContain('cli-orders');
    const described = await runnel(['topics', 'describe', ...at(), '--topic', 'cli-orders']);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^Topic: cli-orders\tTopicId: \S+\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=7200000$/m);
    expect(described.stdout.match(/\tPartition: \d\tLeader: 1\tReplicas: 1\tIsr: 1/g)).toHaveLength(3);
  });

  it('alters partitions and configs, and deletes', async () => {
    await admin.createTopics([{ topic: 'cli-alter', numPartitions: 1 }]);
    const altered = await runnel(['topics', 'alter', ...at(), '--topic', 'cli-alter', '--partitions', '2', '--config', 'cleanup.policy=compact']);
    expect(altered.code).toBe(0);
    const [description] = await admin.describeTopics(['cli-alter']);
    expect(description?.partitions).toHaveLength(2);
    const configs = await admin.describeConfigs({ type: 'topic', name: 'cli-alter', keys: ['cleanup.policy'] });
    expect(configs[0]?.value).toBe('compact');
    expect((await runnel(['topics', 'delete', ...at(), '--topic', 'cli-alter'])).code).toBe(0);
    expect(await admin.listTopics()).not.toContain('cli-alter');
  });
});

describe('runnel produce and consume', () => {
  it('produces keyed lines with headers from stdin and consumes them from the beginning', async () => {
    await admin.createTopics([{ topic: 'cli-lines', numPartitions: 1 }]);
    const produced = await runnel(['produce', ...at(), '--topic', 'cli-lines', '--key-separator', ':', '--header', 'source=cli'], 'k1:first\nk2:second:with-colon\nk3:third\n');
    expect(produced).toMatchObject({ code: 0, stdout: '' });
    expect((await admin.listOffsets('cli-lines', 'latest'))[0]?.offset).toBe(3n);
    const consumed = await runnel(['consume', ...at(), '--topic', 'cli-lines', '--from-beginning', '--max-messages', '2', '--print-key', '--print-headers', '--print-offset']);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout).toBe('Offset:0\tsource:cli\tk1\tfirst\nOffset:1\tsource:cli\tk2\tsecond:with-colon\n');
    expect(consumed.stderr).toContain('Processed a total of 2 messages');
  });

  it('reads one partition from an offset, and from a date-time', async () => {
    await admin.createTopics([{ topic: 'cli-positions', numPartitions: 2 }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap });
    await producer.send({ topic: 'cli-positions', messages: [0, 1, 2, 3].map((index) => ({ value: `p1-${index}`, partition: 1, timestamp: Date.UTC(2026, 0, 1, index) })) });
    await producer.close();
    const fromOffset = await runnel(['consume', ...at(), '--topic', 'cli-positions', '--partition', '1', '--offset', '2', '--max-messages', '2']);
    expect(fromOffset.stdout).toBe('p1-2\np1-3\n');
    const fromTime = await runnel(['consume', ...at(), '--topic', 'cli-positions', '--from-datetime', '2026-01-01T01:00:00Z', '--timeout-ms', '1500']);
    expect(fromTime.code).toBe(0);
    expect(fromTime.stdout).toBe('p1-1\np1-2\np1-3\n');
  });

  it('refuses a line without the key separator, naming the line', async () => {
    const result = await runnel(['produce', ...at(), '--topic', 'cli-lines', '--key-separator', '='], 'a=1\nno separator here\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("line 2 has no key separator '='");
    expect(result.stderr).toContain('hint:');
  });
});

describe('runnel groups', () => {
  it('describes a group and resets its offsets, dry run first', async () => {
    await admin.createTopics([{ topic: 'cli-grouped', numPartitions: 2 }]);
    const producer = new Producer({ bootstrapServers: broker.bootstrap });
    await producer.send({ topic: 'cli-grouped', messages: Array.from({ length: 6 }, (_, index) => ({ value: `v${index}`, partition: index % 2 })) });
    await producer.close();
    const consumed = await runnel(['consume', ...at(), '--topic', 'cli-grouped', '--group', 'cli-group', '--from-beginning', '--max-messages', '6']);
    expect(consumed.stdout.trim().split('\n').sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    expect((await runnel(['groups', 'list', ...at()])).stdout.split('\n')).toContain('cli-group');
    const described = await runnel(['groups', 'describe', ...at(), '--group', 'cli-group']);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG/);
    expect(described.stdout).toMatch(/cli-group\s+cli-grouped\s+0\s+3\s+3\s+0/);
    expect(described.stdout).toMatch(/cli-group\s+cli-grouped\s+1\s+3\s+3\s+0/);

    const dryRun = await runnel(['groups', 'reset-offsets', ...at(), '--group', 'cli-group', '--topic', 'cli-grouped', '--to-offset', '1']);
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(/cli-group\s+cli-grouped\s+0\s+1\n/);
    expect((await admin.fetchGroupOffsets('cli-group')).map((entry) => entry.offset)).toEqual([3n, 3n]);
    const executed = await runnel(['groups', 'reset-offsets', ...at(), '--group', 'cli-group', '--topic', 'cli-grouped:1', '--to-earliest', '--execute']);
    expect(executed.code).toBe(0);
    expect((await admin.fetchGroupOffsets('cli-group')).map((entry) => entry.offset)).toEqual([3n, 0n]);
  });
});

describe('runnel bad input', () => {
  it('answers a bad flag, a bad address, a missing topic and a bad date with exit 2 and a hint', async () => {
    const cases = await Promise.all([
      runnel(['topics', 'create', '--topik', 'x']),
      runnel(['topics', 'list', '--bootstrap-server', 'localhost']),
      runnel(['produce']),
      runnel(['groups', 'reset-offsets', '--group', 'g', '--topic', 't', '--to-datetime', 'yesterday']),
    ]);
    for (const result of cases) {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/\nhint: /);
    }
    expect(cases[0]?.stderr).toContain("Unknown option '--topik'");
    expect(cases[1]?.stderr).toContain("--bootstrap-server 'localhost' is not host:port");
    expect(cases[2]?.stderr).toContain('--topic is required');
    expect(cases[3]?.stderr).toContain("--to-datetime 'yesterday' is not an ISO-8601 date-time");
  });

  it('names the address it tried and how to fix it when no broker answers', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address() as AddressInfo;
        server.close(() => resolve(address.port));
      });
    });
    const result = await runnel(['topics', 'list', '--bootstrap-server', `127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no broker reachable (tried 127.0.0.1:${port})`);
    expect(result.stderr).toMatch(/\nhint: start a broker .*--bootstrap-server host:port/);
  });

  it('prints help with exit 0 and lists the commands', async () => {
    const help = await runnel(['consume', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--from-datetime');
    const usage = await runnel(['--help']);
    expect(usage.stdout).toMatch(/topics[\s\S]*produce[\s\S]*consume[\s\S]*groups/);
  });
});
