// Replay for recomputation: version 1 of `page-stats` counts views per page; then the
// aggregation changes (version 2 also sums the time spent), the application is reset (input
// offsets to the beginning, internal topics and local state deleted) and version 2 recomputes
// every page from the whole history; finally it is reset to a date-time and recomputes from
// there. Each result is compared with stats computed here from the input.
// Run: npx tsx examples/replay/main.ts
import path from 'node:path';
import type { Topology } from '../../core/topology/topology.ts';
import { partitionForKey } from '../../core/partitioner.ts';
import { Serdes, serde } from '../../dsl/index.ts';
import { Admin } from '../../runtime/client/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { resetApplication } from '../../runtime/streams/reset.ts';
import { generatePageViews } from '../page-views/generator.ts';
import { PageView } from '../page-views/topology.ts';
import { ensureTopics, exampleBroker, exampleDirectory, exampleProducer, isMain, OutputTopic, until, type TypedRecord } from '../support.ts';
import { PAGE_STATS, PageStats, VISITS, pageStatsV1, pageStatsV2 } from './topology.ts';

const APPLICATION_ID = 'page-stats';
const PARTITIONS = 3;

/** Stats per page over the views each partition holds from its first view at or after `fromMs`. */
export function expectedStats(views: readonly TypedRecord<string, PageView>[], withDurations: boolean, fromMs = -Infinity): Map<string, PageStats> {
  const started = new Set<number>();
  const stats = new Map<string, PageStats>();
  for (const view of views) {
    const partition = partitionForKey(Buffer.from(view.key as string), PARTITIONS);
    if (!started.has(partition) && view.timestamp >= fromMs) started.add(partition);
    if (!started.has(partition) || view.value === null) continue;
    const current = stats.get(view.value.page) ?? { views: 0, totalDurationMs: 0 };
    stats.set(view.value.page, { views: current.views + 1, totalDurationMs: current.totalDurationMs + (withDurations ? view.value.durationMs : 0) });
  }
  return stats;
}

function equalStats(actual: Map<string, PageStats>, expected: Map<string, PageStats>): boolean {
  return actual.size === expected.size && [...expected].every(([page, stats]) => actual.get(page)?.views === stats.views && actual.get(page)?.totalDurationMs === stats.totalDurationMs);
}

/** Runs one version until the page-stats table equals `expected` (or times out), then closes it. */
async function runVersion(bootstrap: string, stateDir: string, topology: Topology, expected: Map<string, PageStats>, output: OutputTopic<string, PageStats>): Promise<Map<string, PageStats>> {
  const app = new StreamsApp(topology, { applicationId: APPLICATION_ID, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 200 });
  try {
    await app.start();
    await until(async () => { await output.poll(); return equalStats(output.table(), expected); }, 'the page-stats table to reach the expected stats');
    return output.table();
  } finally {
    await app.close();
  }
}

export interface ReplayRun {
  readonly v1: Map<string, PageStats>;
  readonly v2: Map<string, PageStats>;
  readonly v2FromTime: Map<string, PageStats>;
  readonly fromMs: number;
}

export async function runReplay(bootstrap: string, stateDir: string, views: readonly TypedRecord<string, PageView>[], log: (line: string) => void = () => undefined): Promise<ReplayRun> {
  await ensureTopics(bootstrap, [{ topic: VISITS, partitions: PARTITIONS }, { topic: PAGE_STATS, partitions: PARTITIONS }]);
  const producer = exampleProducer(bootstrap);
  await producer.typed({ key: Serdes.string(), value: serde(PageView) }).send({ topic: VISITS, messages: views }).finally(() => producer.close());
  const output = new OutputTopic(bootstrap, PAGE_STATS, { key: Serdes.string(), value: serde(PageStats) });
  const admin = new Admin({ bootstrapServers: bootstrap, clientId: 'replay-example' });
  try {
    const v1 = await runVersion(bootstrap, stateDir, pageStatsV1(), expectedStats(views, false), output);
    log(`version 1 counted ${[...v1.values()].reduce((sum, stats) => sum + stats.views, 0)} views`);
    log(`runnel streams reset --application-id ${APPLICATION_ID} --input-topics ${VISITS} --to-earliest --state-dir ${stateDir}`);
    await resetApplication(admin, { applicationId: APPLICATION_ID, inputTopics: [VISITS], target: 'earliest', stateDir });
    const v2 = await runVersion(bootstrap, stateDir, pageStatsV2(), expectedStats(views, true), output);
    log(`version 2 recomputed ${v2.size} pages from the whole history`);
    const timestamps = views.map((view) => view.timestamp);
    const fromMs = Math.round((Math.min(...timestamps) + Math.max(...timestamps)) / 2);
    log(`runnel streams reset --application-id ${APPLICATION_ID} --input-topics ${VISITS} --to-datetime ${new Date(fromMs).toISOString()} --state-dir ${stateDir}`);
    await resetApplication(admin, { applicationId: APPLICATION_ID, inputTopics: [VISITS], target: { timestamp: fromMs }, stateDir });
    const v2FromTime = await runVersion(bootstrap, stateDir, pageStatsV2(), expectedStats(views, true, fromMs), output);
    log(`version 2 recomputed from ${new Date(fromMs).toISOString()}: ${[...v2FromTime.values()].reduce((sum, stats) => sum + stats.views, 0)} views`);
    return { v1, v2, v2FromTime, fromMs };
  } finally {
    await output.close();
    await admin.close();
  }
}

if (isMain(import.meta.url)) {
  const directory = exampleDirectory('replay');
  const broker = await exampleBroker(directory);
  try {
    const views = generatePageViews({ count: 5_000, startMs: Date.UTC(2026, 10, 21, 12), stepMs: 200 });
    const run = await runReplay(broker.bootstrap, path.join(directory, 'state'), views, (line) => console.log(line));
    for (const [page, stats] of [...run.v2].sort()) {
      console.log(`${page.padEnd(9)} v1 ${String(run.v1.get(page)?.views).padStart(5)} views | v2 ${String(stats.views).padStart(5)} views, ${(stats.totalDurationMs / 1000).toFixed(0).padStart(6)} s | v2 from ${new Date(run.fromMs).toISOString().slice(11, 19)}: ${run.v2FromTime.get(page)?.views ?? 0} views`);
    }
    console.log('every version matches the stats computed from the input');
  } finally {
    await broker.stop();
  }
}
