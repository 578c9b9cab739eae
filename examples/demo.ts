// The main job (`npm run demo`): an embedded Runnel broker on a data directory, a generator of
// page-view events, the windowed page-views application counting them per page in one-minute
// and five-minute windows (emitted when each window closes), and a live view in the terminal
// that shows the last closed minute from the output topic beside the open minute read from the
// application's store by an interactive query. Event time runs a hundred times faster than the
// clock, so windows close every second or so. At the end every closed window is checked against
// counts computed without streams code, and the run reports its throughput.
//
// RUNNEL_DEMO_DIR (default data/demo) holds the broker and the state; RUNNEL_DEMO_VIEWS (default
// 300000) sets how many views are generated; RUNNEL_DEMO_RATE (default 20000) views per second.
import fs from 'node:fs';
import path from 'node:path';
import { Serdes, serde } from '../dsl/index.ts';
import { Producer } from '../runtime/client/index.ts';
import { StreamsApp } from '../runtime/streams/app/index.ts';
import { startEmbeddedBroker } from '../runtime/streams/app/embedded.ts';
import { closingViews, expectedWindowCounts, generatePageViews, PAGES } from './page-views/generator.ts';
import { startQueryServer } from './page-views/http.ts';
import { MINUTE_STORE, PAGE_VIEWS, PageView, VIEWS_PER_FIVE_MINUTES, VIEWS_PER_MINUTE, WindowCount, pageViewsTopology } from './page-views/topology.ts';
import { ensureTopics, OutputTopic, until, type TypedRecord } from './support.ts';

process.env['RUNNEL_LOG_LEVEL'] ??= 'warn';
const MINUTE = 60_000;
const directory = path.resolve(process.env['RUNNEL_DEMO_DIR'] ?? 'data/demo');
const viewCount = Number(process.env['RUNNEL_DEMO_VIEWS'] ?? 300_000);
const rate = Number(process.env['RUNNEL_DEMO_RATE'] ?? 20_000);
const live = process.stdout.isTTY === true;

fs.rmSync(directory, { recursive: true, force: true });
const broker = await startEmbeddedBroker(path.join(directory, 'broker'));
console.log(`broker up on ${broker.bootstrap}, data in ${directory}`);
await ensureTopics(broker.bootstrap, [{ topic: PAGE_VIEWS, partitions: 3 }, { topic: VIEWS_PER_MINUTE, partitions: 3 }, { topic: VIEWS_PER_FIVE_MINUTES, partitions: 3 }]);

let app: StreamsApp | null = null;
const queries = await startQueryServer('127.0.0.1', 0, () => app as StreamsApp);
app = new StreamsApp(pageViewsTopology(), {
  applicationId: 'page-views-demo', bootstrapServers: broker.bootstrap, stateDir: path.join(directory, 'state'), commitIntervalMs: 500, applicationServer: queries.self, ...(process.env['RUNNEL_DEMO_STORE'] === 'memory' ? { defaultDslStore: 'in_memory' as const } : {}),
});
const running = app;
const perMinute = new OutputTopic(broker.bootstrap, VIEWS_PER_MINUTE, { key: Serdes.string(), value: serde(WindowCount) });
const perFive = new OutputTopic(broker.bootstrap, VIEWS_PER_FIVE_MINUTES, { key: Serdes.string(), value: serde(WindowCount) });
const startMs = Date.UTC(2026, 10, 21, 12);
const views = generatePageViews({ count: viewCount, startMs, stepMs: 5 });
const closeAt = (views.at(-1)?.timestamp ?? startMs) + 10 * MINUTE;
let produced = 0;
let eventTime = startMs;

// Ctrl-C or SIGTERM stops the generator; the application then closes cleanly (stores flushed,
// checkpoints written, the group left) and the broker shuts down.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { interrupted = true; });

try {
  await running.start();
  await running.waitUntilRunning();
  console.log(`page-views application running; interactive queries on http://${queries.self}/views/<page>`);
  const started = performance.now();
  const viewer = setInterval(() => void render(started).catch(() => undefined), live ? 500 : 2_000);
  try {
    await produceAtRate([...views, ...closingViews(closeAt)]);
    if (!interrupted) await finish(started);
    if (interrupted) {
      console.log('\ninterrupted: closing the application and the broker');
      process.exitCode = 130;
    }
  } finally {
    clearInterval(viewer);
  }
} finally {
  await Promise.all([perMinute.close(), perFive.close()]);
  await running.close();
  await queries.close();
  await broker.stop();
}

async function finish(started: number): Promise<void> {
  const expectedPerMinute = expectedWindowCounts(views, MINUTE, MINUTE, closeAt);
  const expectedPerFive = expectedWindowCounts(views, 5 * MINUTE, MINUTE, closeAt);
  await until(async () => {
    await Promise.all([perMinute.poll(), perFive.poll()]);
    return interrupted || (perMinute.table().size >= expectedPerMinute.size && perFive.table().size >= expectedPerFive.size);
  }, 'the application to emit every closed window', 120_000);
  if (interrupted) return;
  const seconds = (performance.now() - started) / 1000;
  await render(started);
  report(seconds, expectedPerMinute, expectedPerFive);
}

async function produceAtRate(records: readonly TypedRecord<string, PageView>[]): Promise<void> {
  const producer = new Producer({ bootstrapServers: broker.bootstrap, clientId: 'demo-generator', lingerMs: 5 });
  const pageViews = producer.typed({ key: Serdes.string(), value: serde(PageView) });
  const chunk = Math.max(1, Math.round(rate / 10));
  const began = performance.now();
  try {
    for (let start = 0; start < records.length && !interrupted; start += chunk) {
      const slice = records.slice(start, start + chunk);
      await pageViews.send({ topic: PAGE_VIEWS, messages: slice });
      produced += slice.length;
      eventTime = Math.max(eventTime, slice.at(-1)?.timestamp ?? eventTime);
      const ahead = (produced / rate) * 1000 - (performance.now() - began);
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
  } finally {
    await producer.close();
  }
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

async function render(started: number): Promise<void> {
  await Promise.all([perMinute.poll(), perFive.poll()]);
  const elapsed = (performance.now() - started) / 1000;
  const lastClosed = new Map<string, WindowCount>();
  for (const record of perMinute.records) if (record.value !== null && (lastClosed.get(record.value.page)?.windowStart ?? -1) < record.value.windowStart) lastClosed.set(record.value.page, record.value);
  const openMinute = Math.floor(eventTime / MINUTE) * MINUTE;
  const store = running.windowStore<string, number>(MINUTE_STORE);
  const lines = [
    `Runnel demo: page views per minute   event time ${clock(eventTime)}   ${produced.toLocaleString('en-US')} produced, ${running.processedRecords.toLocaleString('en-US')} processed (${Math.round(running.processedRecords / Math.max(elapsed, 0.001)).toLocaleString('en-US')}/s)`,
    '',
    `${'page'.padEnd(10)} ${'last closed minute'.padEnd(19)} ${'views'.padStart(6)}   ${'open minute, live query'.padStart(24)}`,
  ];
  for (const page of PAGES) {
    const closed = lastClosed.get(page);
    const open = store.fetch(page, openMinute);
    lines.push(`${page.padEnd(10)} ${(closed === undefined ? '-' : clock(closed.windowStart)).padEnd(19)} ${String(closed?.views ?? '-').padStart(6)}   ${`${clock(openMinute)}: ${open ?? 0}`.padStart(24)}`);
  }
  lines.push('', `${perMinute.records.length} one-minute and ${perFive.records.length} five-minute windows closed so far`);
  process.stdout.write(live ? `\x1b[H\x1b[2J${lines.join('\n')}\n` : `${lines[0]}\n`);
}

function report(seconds: number, expectedPerMinute: Map<string, WindowCount>, expectedPerFive: Map<string, WindowCount>): void {
  const matches = (actual: Map<string, WindowCount>, expected: Map<string, WindowCount>): boolean =>
    actual.size === expected.size && [...expected].every(([key, count]) => actual.get(key)?.views === count.views);
  const ok = matches(perMinute.table(), expectedPerMinute) && matches(perFive.table(), expectedPerFive);
  console.log(`\n${viewCount.toLocaleString('en-US')} page views in ${seconds.toFixed(1)} s; ${perMinute.table().size} one-minute and ${perFive.table().size} five-minute windows emitted on close`);
  console.log(ok ? 'every window matches the counts computed independently of the application' : 'MISMATCH: emitted windows differ from the independently computed counts');
  if (!ok) process.exitCode = 1;
}
