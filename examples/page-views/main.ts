// Page views per page in one-minute and five-minute windows, end to end: a generator writes a
// deterministic stream of views (some late), the StreamsApp counts them and emits each window
// when it closes, an HTTP endpoint answers per-minute counts from the live store, and the
// example checks the emitted windows against counts computed without streams code.
// Run: npx tsx examples/page-views/main.ts   (then, while it runs: curl 127.0.0.1:<port>/views/%2Fhome)
import path from 'node:path';
import { Serdes, serde } from '../../dsl/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { ensureTopics, exampleBroker, exampleDirectory, exampleProducer, isMain, OutputTopic, until, type TypedRecord } from '../support.ts';
import { closingViews, expectedWindowCounts, generatePageViews } from './generator.ts';
import { startQueryServer, type ViewsAnswer } from './http.ts';
import { PAGE_VIEWS, PageView, VIEWS_PER_FIVE_MINUTES, VIEWS_PER_MINUTE, WindowCount, pageViewsTopology } from './topology.ts';

const MINUTE = 60_000;

export interface PageViewsRun {
  readonly perMinute: Map<string, WindowCount>;
  readonly perFiveMinutes: Map<string, WindowCount>;
  readonly expectedPerMinute: Map<string, WindowCount>;
  readonly expectedPerFiveMinutes: Map<string, WindowCount>;
  /** The endpoint's answer for one page over the whole run. */
  readonly query: ViewsAnswer;
}

/** Runs the application on `views` until every window they close is out, then queries it over HTTP. */
export async function runPageViews(bootstrap: string, stateDir: string, views: readonly TypedRecord<string, PageView>[], applicationId = 'page-views'): Promise<PageViewsRun> {
  await ensureTopics(bootstrap, [{ topic: PAGE_VIEWS, partitions: 3 }, { topic: VIEWS_PER_MINUTE, partitions: 3 }, { topic: VIEWS_PER_FIVE_MINUTES, partitions: 3 }]);
  const closeAt = Math.max(...views.map((view) => view.timestamp)) + 10 * MINUTE;
  const expectedPerMinute = expectedWindowCounts(views, MINUTE, MINUTE, closeAt);
  const expectedPerFiveMinutes = expectedWindowCounts(views, 5 * MINUTE, MINUTE, closeAt);
  let app: StreamsApp | null = null;
  const queries = await startQueryServer('127.0.0.1', 0, () => app as StreamsApp);
  app = new StreamsApp(pageViewsTopology(), { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 200, applicationServer: queries.self });
  const serdes = { key: Serdes.string(), value: serde(WindowCount) };
  const perMinute = new OutputTopic(bootstrap, VIEWS_PER_MINUTE, serdes);
  const perFive = new OutputTopic(bootstrap, VIEWS_PER_FIVE_MINUTES, serdes);
  const producer = exampleProducer(bootstrap);
  try {
    await app.start();
    await producer.typed({ key: Serdes.string(), value: serde(PageView) }).send({ topic: PAGE_VIEWS, messages: [...views, ...closingViews(closeAt)] });
    await until(async () => {
      await Promise.all([perMinute.poll(), perFive.poll()]);
      return perMinute.table().size >= expectedPerMinute.size && perFive.table().size >= expectedPerFiveMinutes.size;
    }, 'every closed window on the output topics');
    const firstPage = views[0]?.key ?? '/home';
    const response = await fetch(`http://${queries.self}/views/${encodeURIComponent(firstPage)}?from=0&to=${closeAt}`);
    const query = await response.json() as ViewsAnswer;
    return { perMinute: perMinute.table(), perFiveMinutes: perFive.table(), expectedPerMinute, expectedPerFiveMinutes, query };
  } finally {
    await producer.close();
    await Promise.all([perMinute.close(), perFive.close()]);
    await app.close();
    await queries.close();
  }
}

function sameCounts(actual: Map<string, WindowCount>, expected: Map<string, WindowCount>): boolean {
  return actual.size === expected.size && [...expected].every(([key, count]) => actual.get(key)?.views === count.views);
}

if (isMain(import.meta.url)) {
  const directory = exampleDirectory('page-views');
  const broker = await exampleBroker(directory);
  try {
    const views = generatePageViews({ count: 20_000, startMs: Date.UTC(2026, 10, 21, 12), stepMs: 50 });
    const run = await runPageViews(broker.bootstrap, path.join(directory, 'state'), views);
    const recent = [...run.perMinute.values()].sort((a, b) => b.windowStart - a.windowStart || a.page.localeCompare(b.page)).slice(0, 10);
    console.log('latest closed one-minute windows:');
    for (const count of recent) console.log(`  ${new Date(count.windowStart).toISOString()}  ${count.page.padEnd(9)} ${count.views}`);
    console.log(`HTTP /views/${run.query.page} (served by ${run.query.servedBy}): ${run.query.minutes.length} minutes in the store`);
    const ok = sameCounts(run.perMinute, run.expectedPerMinute) && sameCounts(run.perFiveMinutes, run.expectedPerFiveMinutes);
    console.log(ok ? `all ${run.perMinute.size} one-minute and ${run.perFiveMinutes.size} five-minute windows match the expected counts` : 'MISMATCH between emitted and expected window counts');
    if (!ok) process.exitCode = 1;
  } finally {
    await broker.stop();
  }
}
