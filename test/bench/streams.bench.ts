// Streams applications end to end with a broker process in the same run: input records are
// written first, then a StreamsApp processes them and the clock runs from start() until every
// input record has been processed and its output acknowledged (the committed input offsets reach
// the end). Scenarios: a stateless map/filter chain, a windowed count (RocksDB store, changelog)
// under at-least-once, and the restoration of that count's store from its changelog after the
// local state is deleted. Run: npm run bench streams   (BENCH_RECORDS scales the runs)
import os from 'node:os';
import { Duration } from 'luxon';
import { Serdes, StreamsBuilder, TimeWindows, type Topology } from '../../dsl/index.ts';
import { Admin, Producer } from '../../runtime/client/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory } from '../helpers/broker.ts';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 500_000);
const PARTITIONS = 4;
const KEYS = 10_000;
const strings = Serdes.string();

interface Row { scenario: string; records: number; seconds: number; cpuSeconds: number }
const rows: Row[] = [];

async function fill(bootstrap: string, topic: string): Promise<void> {
  const admin = new Admin({ bootstrapServers: bootstrap });
  await admin.createTopics([{ topic, numPartitions: PARTITIONS }, { topic: `${topic}-out`, numPartitions: PARTITIONS }]);
  await admin.close();
  const producer = new Producer({ bootstrapServers: bootstrap, lingerMs: 5, batchSize: 256 * 1024 });
  const base = Date.UTC(2026, 10, 21);
  // 100-byte values: a JSON-free payload so the figures are the runtime's, not a codec's.
  const padding = 'x'.repeat(80);
  for (let start = 0; start < RECORDS; start += 1000) {
    const messages = Array.from({ length: Math.min(1000, RECORDS - start) }, (_, index) => {
      const n = start + index;
      return { key: `key-${n % KEYS}`, value: `${String(n).padStart(12, '0')}|${padding}`, timestamp: base + n * 10 };
    });
    await producer.send({ topic, messages });
  }
  await producer.close();
}

function stateless(topic: string): Topology {
  const builder = new StreamsBuilder();
  builder.stream(topic, { key: strings, value: strings })
    .filter((value) => !value.startsWith('9'))
    .mapValues((value) => value.slice(0, 12))
    .to(`${topic}-out`, { key: strings, value: strings });
  return builder.build();
}

function windowedCount(topic: string): Topology {
  const builder = new StreamsBuilder();
  builder.stream(topic, { key: strings, value: strings })
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.fromObject({ minutes: 1 }), Duration.fromObject({ seconds: 10 })))
    .count({ name: 'counts' })
    .toStream()
    .map((count, windowed) => [windowed.key, count] as const)
    .to(`${topic}-out`, { key: strings, value: Serdes.long() });
  return builder.build();
}

async function committedTotal(admin: Admin, group: string, topic: string): Promise<number> {
  const offsets = await admin.fetchGroupOffsets(group, [topic]);
  return offsets.reduce((sum, entry) => sum + Math.max(0, Number(entry.offset)), 0);
}

/** Runs the app until its committed input offsets cover every record; returns wall and CPU seconds. */
async function run(bootstrap: string, scenario: string, topology: Topology, applicationId: string, topic: string, stateDir: string): Promise<void> {
  const admin = new Admin({ bootstrapServers: bootstrap });
  const app = new StreamsApp(topology, { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 1000 });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await app.start();
  while (await committedTotal(admin, applicationId, topic) < RECORDS) await new Promise((resolve) => setTimeout(resolve, 100));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await app.close();
  await admin.close();
  rows.push({ scenario, records: RECORDS, seconds, cpuSeconds: (used.user + used.system) / 1e6 });
  process.stderr.write(`  ${scenario}: ${Math.round(RECORDS / seconds).toLocaleString('en-US')} records/s\n`);
}

/** Deletes the local state and measures how fast the next start restores the store from its changelog. */
async function restore(bootstrap: string, topic: string, applicationId: string): Promise<void> {
  const stateDir = temporaryDirectory('runnel-bench-restore-');
  const app = new StreamsApp(windowedCount(topic), { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 1000 });
  let restored = 0;
  app.onRestore((report) => { restored += report.changelogRecords; });
  const started = performance.now();
  await app.start();
  await app.waitUntilRunning(600_000);
  const seconds = (performance.now() - started) / 1000;
  await app.close();
  // The clock includes joining the group: restoration runs between the assignment and RUNNING.
  rows.push({ scenario: 'restore the windowed count store from its changelog (start to RUNNING)', records: restored, seconds, cpuSeconds: Number.NaN });
}

const broker = await startBroker();
try {
  await fill(broker.bootstrap, 'bench-stateless');
  await run(broker.bootstrap, 'stateless map/filter, at-least-once', stateless('bench-stateless'), 'bench-stateless-app', 'bench-stateless', temporaryDirectory('runnel-bench-'));
  await fill(broker.bootstrap, 'bench-windowed');
  await run(broker.bootstrap, 'windowed count (RocksDB, changelog), at-least-once', windowedCount('bench-windowed'), 'bench-windowed-app', 'bench-windowed', temporaryDirectory('runnel-bench-'));
  await restore(broker.bootstrap, 'bench-windowed', 'bench-windowed-app');
} finally {
  await cleanup();
}

console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)}; ${RECORDS.toLocaleString('en-US')} input records of about 100 B over ${PARTITIONS} partitions, ${KEYS.toLocaleString('en-US')} keys; broker in its own process`);
console.log('| scenario | records | seconds | records/s | app CPU s |');
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) console.log(`| ${row.scenario} | ${row.records.toLocaleString('en-US')} | ${row.seconds.toFixed(2)} | ${Math.round(row.records / row.seconds).toLocaleString('en-US')} | ${Number.isNaN(row.cpuSeconds) ? '-' : row.cpuSeconds.toFixed(2)} |`);
