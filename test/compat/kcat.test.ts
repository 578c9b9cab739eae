// kcat (librdkafka 2.0) against a real broker process: metadata, produce with each of the four
// compression codecs, consume from the beginning, and consume as a member of a group.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';
import { kcat } from '../helpers/kcat.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker({ overrides: { 'num.partitions': '2' } }); });
afterAll(cleanup);

describe('kcat (librdkafka)', () => {
  it('lists metadata with -L', async () => {
    await kcat(['-b', broker.bootstrap, '-t', 'metadata-topic', '-P'], 'one\n');
    const run = await kcat(['-b', broker.bootstrap, '-L']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1 brokers');
    expect(run.stdout).toMatch(/topic "metadata-topic" with 2 partitions/);
  });

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    it(`produces with ${codec} and consumes from the beginning`, async () => {
      const topic = `kcat-${codec}`;
      const lines = Array.from({ length: 200 }, (_, index) => `key${index % 7}:${codec}-value-${index}-${'x'.repeat(index % 50)}`);
      const produced = await kcat(['-b', broker.bootstrap, '-t', topic, '-P', '-z', codec, '-K', ':', '-X', 'linger.ms=5'], lines.join('\n') + '\n');
      expect(produced.code, produced.stderr).toBe(0);
      const consumed = await kcat(['-b', broker.bootstrap, '-t', topic, '-C', '-o', 'beginning', '-e', '-f', '%k:%s\n']);
      expect(consumed.code, consumed.stderr).toBe(0);
      const received = consumed.stdout.trim().split('\n');
      expect(received.sort()).toEqual([...lines].sort());
    });
  }

  it('consumes as a member of a group with -G and commits offsets', async () => {
    const topic = 'kcat-group-topic';
    const lines = Array.from({ length: 50 }, (_, index) => `k${index}:group-value-${index}`);
    expect((await kcat(['-b', broker.bootstrap, '-t', topic, '-P', '-K', ':'], lines.join('\n') + '\n')).code).toBe(0);
    const run = await kcat(['-b', broker.bootstrap, '-G', 'kcat-group', '-c', '50', '-f', '%s\n', '-X', 'auto.offset.reset=earliest', '-X', 'enable.auto.commit=true', '-X', 'auto.commit.interval.ms=100', topic], undefined, 45_000);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n').sort()).toEqual(lines.map((l) => l.split(':')[1]).sort());
    // A second member of the same group starts from the committed offsets: nothing left to read.
    const again = await kcat(['-b', broker.bootstrap, '-G', 'kcat-group', '-e', '-f', '%s\n', topic], undefined, 30_000);
    expect(again.stdout.trim()).toBe('');
  }, 90_000);
});
