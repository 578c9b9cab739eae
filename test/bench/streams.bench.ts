// Streams applications end to end with a broker process in the same run: input records are
// written first, then a StreamsApp processes them. Three clocks per run: start-up (start() to
// RUNNING: group join, topic checks, restoration), processing (RUNNING until every input record
// has been processed) and end to end (start() until the committed input offsets reach the end,
// so outputs are acknowledged; this includes up to one commit interval of waiting). Scenarios:
// a stateless map/filter chain, a windowed count (RocksDB store, changelog) under at-least-once
// and under exactly-once, the restoration of that count's store from its changelog after the
// local state is deleted, and the same count over page views whose windows each count many
// records (see InputShape), under at-least-once and under exactly-once. Run: npm run bench streams
// (BENCH_RECORDS scales the runs, BENCH_SCENARIOS=stateless,windowed,windowed-eos,restore,
// windowed-pages,windowed-pages-eos,parallel picks some, BENCH_ROUNDS=N runs the chosen app
// scenarios N times in turn, BENCH_PROFILE=<dir> writes a CPU profile of each run's app to that folder,
// BENCH_BROKER_PROFILE=<dir> one of the broker over the whole bench, BENCH_APP_WRAP='perf stat -i
// -e instructions:u -o <file>' starts each app process under that command).
//
// Each app run has a process of its own (this file's `app` mode), so no run starts with code
// that an earlier run compiled or a heap that an earlier run grew: the exactly-once run used to
// follow the at-least-once one in the same process and found the shared code already optimised.
//
// `parallel` asks whether a second instance pays on this machine: the stateless app and the
// windowed count run as one and then as two instance processes of one application (the group
// splits the 4 partitions), each started with this file's `instance` mode. The rate is read
// from the group's committed offsets (commit.interval.ms 100) between 10 % and 90 % of the
// input, so process start-up and the group's rebalances stay out of it; the CPU column adds up
// the instances' CPU.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'luxon';
import { Serdes, StreamsBuilder, TimeWindows, type Topology } from '../../dsl/index.ts';
import { Admin, Producer } from '../../runtime/client/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import RocksDB from 'rocksdb-native';
import { cleanup, startBroker, temporaryDirectory } from '../helpers/broker.ts';
import { processCpuSeconds, threadScheduling } from '../helpers/process-cpu.ts';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 500_000);
const SCENARIOS = new Set((process.env['BENCH_SCENARIOS'] ?? 'stateless,windowed,windowed-eos,restore,windowed-pages,windowed-pages-eos').split(','));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 1);
const PROFILE_DIRECTORY = process.env['BENCH_PROFILE'];
/** A folder for a CPU profile of the broker process over the whole bench (written when it stops). */
const BROKER_PROFILE_DIRECTORY = process.env['BENCH_BROKER_PROFILE'];
/** A command (words split at spaces) each app process is started under, e.g. perf stat. */
const APP_WRAP = process.env['BENCH_APP_WRAP'];
const PARTITIONS = 4;
const KEYS = 10_000;
const COMMIT_INTERVAL_MS = 1000;
const strings = Serdes.string();

/**
 * cpuSeconds is the app's (every thread of the bench process, the RocksDB worker's too) from
 * start() to the end; processCpuMicros the app's CPU while it processed, per record; brokerCpuSeconds
 * the broker process's CPU over the same time as cpuSeconds (NaN where /proc is missing).
 * mainThread splits the processing time of the app's main thread: busy (event loop
 * utilisation: not waiting for I/O or timers), on a CPU, and runnable but waiting in the run
 * queue for a CPU that others held (where the busy share exceeds the on-CPU share, the machine's
 * load, not the app's waiting, held it back); absent where it was not measured.
 */
interface MainThreadShares { busy: number; onCpu: number; runQueue: number }
interface Row { scenario: string; records: number; startSeconds: number; processSeconds: number; seconds: number; cpuSeconds: number; processCpuMicros: number; brokerCpuSeconds: number; mainThread?: MainThreadShares }
const rows: Row[] = [];

/**
 * How the input's keys and timestamps fall: the default gives each of 10,000 keys one record per
 * 100 s, so every (key, 1-minute window) of the windowed count gets exactly one record (every
 * record makes a new window: a store write, a changelog record and an output record each, the
 * cache absorbing nothing). PAGE_VIEWS is a page-view count: 1,000 pages, records 1 ms apart, so
 * each (page, window) counts about 60 records and the cache merges them before the commit.
 */
interface InputShape { readonly keys: number; readonly stepMs: number }
const ONE_RECORD_PER_WINDOW: InputShape = { keys: KEYS, stepMs: 10 };
const PAGE_VIEWS: InputShape = { keys: 1_000, stepMs: 1 };

async function fill(bootstrap: string, topic: string, shape: InputShape = ONE_RECORD_PER_WINDOW): Promise<void> {
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
      return { key: `key-${n % shape.keys}`, value: `${String(n).padStart(12, '0')}|${padding}`, timestamp: base + n * shape.stepMs };
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

/** Profiles the app's work (not the fill) when BENCH_PROFILE names a folder. */
async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (PROFILE_DIRECTORY === undefined) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(PROFILE_DIRECTORY, { recursive: true });
    writeFileSync(path.join(PROFILE_DIRECTORY, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** Runs the app until its committed input offsets cover every record; returns the three clocks and the CPU used. */
async function run(bootstrap: string, scenario: string, topology: Topology, applicationId: string, topic: string, exactlyOnce: boolean): Promise<Row> {
  const processingGuarantee = exactlyOnce ? 'exactly_once_v2' : 'at_least_once';
  const app = new StreamsApp(topology, { applicationId, bootstrapServers: bootstrap, stateDir: temporaryDirectory('runnel-bench-'), commitIntervalMs: COMMIT_INTERVAL_MS, processingGuarantee });
  // Offsets start at 0, so the committed offsets of the input partitions add up to the records committed.
  const committed = new Map<number, bigint>();
  app.onCommit((offsets) => { for (const entry of offsets) if (entry.topic === topic) committed.set(entry.partition, entry.offset); });
  const committedTotal = (): number => [...committed.values()].reduce((sum, offset) => sum + Number(offset), 0);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const clocks = await profiled(applicationId, async () => {
    await app.start();
    await app.waitUntilRunning(600_000);
    const running = performance.now();
    const runningCpu = process.cpuUsage();
    const runningLoop = performance.eventLoopUtilization();
    const runningScheduling = threadScheduling();
    await until(() => app.processedRecords >= RECORDS);
    const processed = performance.now();
    const processingCpu = process.cpuUsage(runningCpu);
    const processingLoop = performance.eventLoopUtilization(runningLoop);
    const processingScheduling = threadScheduling();
    const processingNs = (processed - running) * 1e6;
    const mainThread = {
      busy: processingLoop.utilization,
      onCpu: (processingScheduling.onCpuNs - runningScheduling.onCpuNs) / processingNs,
      runQueue: (processingScheduling.runQueueNs - runningScheduling.runQueueNs) / processingNs,
    };
    await until(() => committedTotal() >= RECORDS);
    return { running, processed, done: performance.now(), processingCpu, mainThread };
  });
  const used = process.cpuUsage(cpu);
  await app.close();
  const row = {
    scenario, records: RECORDS, startSeconds: (clocks.running - started) / 1000, processSeconds: (clocks.processed - clocks.running) / 1000, seconds: (clocks.done - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6,
    processCpuMicros: (clocks.processingCpu.user + clocks.processingCpu.system) / RECORDS, brokerCpuSeconds: Number.NaN, mainThread: clocks.mainThread,
  };
  const percent = (share: number): string => `${(100 * share).toFixed(0)} %`;
  process.stderr.write(`  ${scenario}: ${Math.round(RECORDS / row.processSeconds).toLocaleString('en-US')} records/s processing, ${Math.round(RECORDS / row.seconds).toLocaleString('en-US')} records/s end to end; `
    + `app main thread while processing: busy ${percent(clocks.mainThread.busy)}, on a CPU ${percent(clocks.mainThread.onCpu)}, in the run queue ${percent(clocks.mainThread.runQueue)}; load average ${os.loadavg()[0]?.toFixed(1)}\n`);
  return row;
}

/** Deletes the local state and measures how fast the next start restores the store from its changelog. */
/**
 * Writes `records` records of 16 B keys and 100 B values straight into a fresh rocksdb-native
 * database, in the 10,000-record batches restoration uses, one batch in flight: the binding's
 * own write rate on this machine in this run, the ceiling a restore into RocksDB can approach.
 */
async function bareBindingWrites(records: number): Promise<{ recordsPerSecond: number; cpuMicros: number }> {
  const directory = temporaryDirectory('runnel-bench-bare-');
  const database = new RocksDB(directory, { columnFamilies: ['bare'], writeBufferSize: 8 * 1024 * 1024, maxWriteBufferNumber: 2, maxBackgroundJobs: 2 });
  const store = database.columnFamily('bare');
  await database.ready();
  const value = Buffer.alloc(100, 0x76);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let start = 0; start < records; start += 10_000) {
    const batch = store.write({ capacity: 10_000, autoDestroy: true });
    for (let index = start; index < Math.min(records, start + 10_000); index++) {
      const key = Buffer.allocUnsafe(16);
      key.writeUInt32BE(Math.imul(index, 2654435761) >>> 0, 0);
      key.writeUInt32BE(index, 4);
      key.writeBigUInt64BE(0n, 8);
      batch.tryPut(key, value);
    }
    await batch.flush();
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await database.close();
  return { recordsPerSecond: records / seconds, cpuMicros: (used.user + used.system) / records };
}

async function restore(bootstrap: string, topic: string, applicationId: string): Promise<Row> {
  const stateDir = temporaryDirectory('runnel-bench-restore-');
  const app = new StreamsApp(windowedCount(topic), { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: COMMIT_INTERVAL_MS });
  let restored = 0;
  // The restore time as a Kafka Streams user reads it: from the first task's first changelog
  // fetch to the end of the last task's restoration (its stores hold every record, checkpointed).
  let restoreStartedMs = Number.POSITIVE_INFINITY;
  let restoreEndedMs = 0;
  app.onRestore((report) => {
    restored += report.changelogRecords;
    restoreStartedMs = Math.min(restoreStartedMs, report.restoreStartedMs);
    restoreEndedMs = Math.max(restoreEndedMs, report.restoreEndedMs);
  });
  const cpu = process.cpuUsage();
  const startedMs = Date.now();
  const started = performance.now();
  await profiled(`${applicationId}-restore`, async () => {
    await app.start();
    await app.waitUntilRunning(600_000);
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await app.close();
  const restoreSeconds = (restoreEndedMs - restoreStartedMs) / 1000;
  const bare = await bareBindingWrites(restored);
  const perSecond = (value: number): string => Math.round(value).toLocaleString('en-US');
  console.log(`restoration: ${restored.toLocaleString('en-US')} records restored in ${restoreSeconds.toFixed(2)} s from the first restore fetch to the last task's restore end: ${perSecond(restored / restoreSeconds)} records/s; start to RUNNING ${seconds.toFixed(2)} s (${perSecond(restored / seconds)} records/s; ${((restoreStartedMs - startedMs) / 1000).toFixed(2)} s of it before the first restore fetch: group join, topics, worker start); app CPU ${((used.user + used.system) / restored).toFixed(2)} us/record (all threads; window records past the retention are read but not written)`);
  console.log(`bare rocksdb-native writes in this run (10,000-record batches, 16 B keys, 100 B values): ${perSecond(bare.recordsPerSecond)} records/s, ${bare.cpuMicros.toFixed(2)} us CPU/record; restoration ran at ${(restored / restoreSeconds / bare.recordsPerSecond).toFixed(2)}x the bare binding; load average ${os.loadavg()[0]?.toFixed(1)}`);
  // The clock includes joining the group: restoration runs between the assignment and RUNNING.
  return { scenario: 'restore the windowed count store from its changelog (start to RUNNING)', records: restored, startSeconds: seconds, processSeconds: Number.NaN, seconds, cpuSeconds: (used.user + used.system) / 1e6, processCpuMicros: Number.NaN, brokerCpuSeconds: Number.NaN };
}

/** One instance of a parallel run: runs the app until SIGTERM, then prints its CPU seconds. */
async function instance(bootstrap: string, kind: string, applicationId: string): Promise<void> {
  const topology = kind === 'stateless' ? stateless('bench-stateless') : windowedCount('bench-windowed');
  const app = new StreamsApp(topology, { applicationId, bootstrapServers: bootstrap, stateDir: temporaryDirectory('runnel-bench-instance-'), commitIntervalMs: 100 });
  await app.start();
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  const used = process.cpuUsage();
  await app.close();
  await cleanup();
  process.stdout.write(`CPU ${(used.user + used.system) / 1e6}\n`);
}

/** Runs `count` instance processes of one application; the rate is taken from the group's committed offsets. */
async function parallel(bootstrap: string, kind: string, count: number): Promise<void> {
  const topic = kind === 'stateless' ? 'bench-stateless' : 'bench-windowed';
  const applicationId = `bench-parallel-${kind}-${count}`;
  const admin = new Admin({ bootstrapServers: bootstrap });
  const started = performance.now();
  const children = Array.from({ length: count }, () => spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'instance', bootstrap, kind, applicationId], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const outputs = children.map((child) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString(); });
    return new Promise<string>((resolve) => child.once('exit', () => resolve(text)));
  });
  let at10: number | null = null;
  let at90: number | null = null;
  try {
    for (;;) {
      const offsets = await admin.fetchGroupOffsets(applicationId, [topic]).catch(() => []);
      const total = offsets.reduce((sum, entry) => sum + Math.max(0, Number(entry.offset)), 0);
      const now = performance.now();
      if (at10 === null && total >= RECORDS * 0.1) at10 = now;
      if (at90 === null && total >= RECORDS * 0.9) at90 = now;
      if (total >= RECORDS) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    const done = performance.now();
    for (const child of children) child.kill('SIGTERM');
    const cpuSeconds = (await Promise.all(outputs)).reduce((sum, text) => sum + Number(/CPU ([0-9.]+)/.exec(text)?.[1] ?? Number.NaN), 0);
    await admin.close();
    const middleSeconds = at10 !== null && at90 !== null ? (at90 - at10) / 1000 : Number.NaN;
    rows.push({ scenario: `${kind}, ${count} instance process${count === 1 ? '' : 'es'} (rate between 10 % and 90 % committed)`, records: RECORDS, startSeconds: Number.NaN, processSeconds: middleSeconds / 0.8, seconds: (done - started) / 1000, cpuSeconds, processCpuMicros: Number.NaN, brokerCpuSeconds: Number.NaN });
  }
}

/** An app run of one scenario, made in a process of its own (`app` mode). */
interface AppRun { readonly name: string; readonly scenario: string; readonly kind: 'stateless' | 'windowed' | 'restore'; readonly topic: string; readonly applicationId: string; readonly exactlyOnce: boolean }

const APP_RUNS: readonly AppRun[] = [
  { name: 'stateless', scenario: 'stateless map/filter, at-least-once', kind: 'stateless', topic: 'bench-stateless', applicationId: 'bench-stateless-app', exactlyOnce: false },
  { name: 'windowed', scenario: 'windowed count (RocksDB, changelog), at-least-once', kind: 'windowed', topic: 'bench-windowed', applicationId: 'bench-windowed-app', exactlyOnce: false },
  { name: 'windowed-eos', scenario: 'windowed count (RocksDB, changelog), exactly-once', kind: 'windowed', topic: 'bench-windowed', applicationId: 'bench-windowed-eos-app', exactlyOnce: true },
  // Restores the store that the at-least-once windowed run wrote (its changelog), into a fresh state directory.
  { name: 'restore', scenario: 'restore', kind: 'restore', topic: 'bench-windowed', applicationId: 'bench-windowed-app', exactlyOnce: false },
  { name: 'windowed-pages', scenario: 'windowed count of page views (1,000 keys, ~60 records per key and window), at-least-once', kind: 'windowed', topic: 'bench-pages', applicationId: 'bench-pages-app', exactlyOnce: false },
  { name: 'windowed-pages-eos', scenario: 'windowed count of page views (1,000 keys, ~60 records per key and window), exactly-once', kind: 'windowed', topic: 'bench-pages', applicationId: 'bench-pages-eos-app', exactlyOnce: true },
];

/** The `app` mode: one run in this process, its row printed as JSON on stdout for the parent. */
async function appMode(bootstrap: string, spec: AppRun): Promise<void> {
  const row = spec.kind === 'restore'
    ? await restore(bootstrap, spec.topic, spec.applicationId)
    : await run(bootstrap, spec.scenario, spec.kind === 'stateless' ? stateless(spec.topic) : windowedCount(spec.topic), spec.applicationId, spec.topic, spec.exactlyOnce);
  await cleanup();
  process.stdout.write(`ROW ${JSON.stringify(row)}\n`);
}

/** Runs one app run in a fresh process; the broker's CPU is counted over that process's life. */
async function inProcessOfItsOwn(bootstrap: string, brokerPid: number | undefined, spec: AppRun): Promise<Row> {
  const brokerBefore = brokerPid === undefined ? Number.NaN : processCpuSeconds(brokerPid);
  const command = [process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), 'app', bootstrap, JSON.stringify(spec)];
  // BENCH_APP_WRAP puts a command in front of each app process, e.g. `perf stat -i -e instructions:u -o <file>`.
  const wrapped = [...(APP_WRAP?.split(' ').filter((word) => word !== '') ?? []), ...command];
  const child = spawn(wrapped[0] as string, wrapped.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  let rowLine = '';
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    // Everything but the row (the restore scenario's lines) goes on to this process's output.
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('ROW ')) rowLine = line; else console.log(line);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  if (text.startsWith('ROW ')) rowLine = text;
  if (code !== 0 || rowLine === '') throw new Error(`the ${spec.name} run's process exited with ${code} and no result`);
  // JSON writes NaN (a figure a scenario does not measure) as null.
  const row = JSON.parse(rowLine.slice(4), (_key, value: unknown) => (value === null ? Number.NaN : value)) as Row;
  return { ...row, brokerCpuSeconds: brokerPid === undefined ? Number.NaN : processCpuSeconds(brokerPid) - brokerBefore };
}

if (process.argv[2] === 'instance') {
  await instance(process.argv[3] as string, process.argv[4] as string, process.argv[5] as string);
  process.exit(0);
}
if (process.argv[2] === 'app') {
  await appMode(process.argv[3] as string, JSON.parse(process.argv[4] as string) as AppRun);
  process.exit(0);
}

const broker = await startBroker(BROKER_PROFILE_DIRECTORY === undefined ? {} : { nodeArguments: ['--cpu-prof', `--cpu-prof-dir=${BROKER_PROFILE_DIRECTORY}`] });
try {
  const needs = (...names: string[]): boolean => names.some((name) => SCENARIOS.has(name));
  if (needs('stateless', 'parallel')) await fill(broker.bootstrap, 'bench-stateless');
  if (needs('windowed', 'windowed-eos', 'restore', 'parallel')) await fill(broker.bootstrap, 'bench-windowed');
  if (needs('windowed-pages', 'windowed-pages-eos')) await fill(broker.bootstrap, 'bench-pages', PAGE_VIEWS);
  // The restore scenario needs the at-least-once count's changelog, so that run goes first.
  const chosen = APP_RUNS.filter((spec) => SCENARIOS.has(spec.name) || (spec.name === 'windowed' && SCENARIOS.has('restore')));
  for (let round = 0; round < ROUNDS; round++) {
    for (const spec of chosen) {
      // Later rounds run as new applications, so each starts from the input's beginning.
      const suffix = round === 0 ? '' : `-round-${round + 1}`;
      rows.push(await inProcessOfItsOwn(broker.bootstrap, broker.process.pid, { ...spec, applicationId: spec.applicationId + suffix }));
    }
  }
  if (SCENARIOS.has('parallel')) {
    for (const kind of ['stateless', 'windowed']) for (const count of [1, 2]) await parallel(broker.bootstrap, kind, count);
  }
} finally {
  // A profiled broker writes its profile only when it exits of itself.
  if (BROKER_PROFILE_DIRECTORY !== undefined) await broker.stop();
  await cleanup();
}

const rate = (records: number, seconds: number): string => (Number.isNaN(seconds) ? '-' : Math.round(records / seconds).toLocaleString('en-US'));
console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)}; ${RECORDS.toLocaleString('en-US')} input records of about 100 B over ${PARTITIONS} partitions, ${KEYS.toLocaleString('en-US')} keys unless the scenario says otherwise; broker in its own process; commit.interval.ms ${COMMIT_INTERVAL_MS}`);
const fixed = (value: number, digits: number): string => (Number.isNaN(value) ? '-' : value.toFixed(digits));
const shares = (main: MainThreadShares | undefined): string => (main === undefined ? '-' : [main.busy, main.onCpu, main.runQueue].map((share) => fixed(100 * share, 0)).join(' / '));
console.log('| scenario | records | start-up s | processing s | processing records/s | end-to-end s | end-to-end records/s | app CPU s | records per CPU s | app CPU µs per record processing | app main thread busy / on CPU / run queue % processing | broker CPU s |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const cells = [row.scenario, row.records.toLocaleString('en-US'), fixed(row.startSeconds, 2), fixed(row.processSeconds, 2), rate(row.records, row.processSeconds), row.seconds.toFixed(2), rate(row.records, row.seconds), row.cpuSeconds.toFixed(2), rate(row.records, row.cpuSeconds), fixed(row.processCpuMicros, 2), shares(row.mainThread), fixed(row.brokerCpuSeconds, 2)];
  console.log(`| ${cells.join(' | ')} |`);
}
// Exactly-once against at-least-once, per round, for each input shape run both ways.
for (const [shape, prefix] of [['the windowed count', 'windowed count (RocksDB'], ['the page-view count', 'windowed count of page views']] as const) {
  const of = (suffix: string): Row[] => rows.filter((row) => row.scenario.startsWith(prefix) && row.scenario.endsWith(suffix));
  const [atLeastOnce, exactlyOnce] = [of('at-least-once'), of('exactly-once')];
  const overhead = (base: number, other: number): string => `${(100 * (other / base - 1)).toFixed(0)} %`;
  for (let index = 0; index < Math.min(atLeastOnce.length, exactlyOnce.length); index++) {
    const [base, other] = [atLeastOnce[index] as Row, exactlyOnce[index] as Row];
    console.log(`exactly-once overhead on ${shape}${atLeastOnce.length > 1 ? ` (round ${index + 1})` : ''}: processing ${overhead(base.processSeconds, other.processSeconds)}, end to end ${overhead(base.seconds, other.seconds)}, CPU ${overhead(base.cpuSeconds, other.cpuSeconds)}`);
  }
}
