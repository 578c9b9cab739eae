// Interactive queries across instances: two instances of the page-views application share the
// partitions; each answers GET /views/<page> for every page, from its own store when it holds
// the page and by forwarding to the other instance when it does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, serde } from '../../dsl/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { closingViews, expectedWindowCounts, generatePageViews, PAGES } from '../../examples/page-views/generator.ts';
import { startQueryServer, type QueryServer, type ViewsAnswer } from '../../examples/page-views/http.ts';
import { PAGE_VIEWS, PageView, VIEWS_PER_FIVE_MINUTES, VIEWS_PER_MINUTE, pageViewsTopology } from '../../examples/page-views/topology.ts';
import { ensureTopics, exampleProducer, until } from '../../examples/support.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../helpers/broker.ts';

const MINUTE = 60_000;
let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

interface Instance { app: StreamsApp; server: QueryServer }

async function startInstance(bootstrap: string): Promise<Instance> {
  let app: StreamsApp | null = null;
  const server = await startQueryServer('127.0.0.1', 0, () => app as StreamsApp);
  app = new StreamsApp(pageViewsTopology(), { applicationId: 'page-views-routing', bootstrapServers: bootstrap, stateDir: temporaryDirectory('runnel-routing-'), commitIntervalMs: 200, applicationServer: server.self });
  await app.start();
  return { app, server };
}

async function ask(instance: Instance, page: string): Promise<ViewsAnswer> {
  const response = await fetch(`http://${instance.server.self}/views/${encodeURIComponent(page)}?from=0&to=${Number.MAX_SAFE_INTEGER}`);
  expect(response.status).toBe(200);
  return await response.json() as ViewsAnswer;
}

describe('page-views HTTP queries over two instances', () => {
  it('answers every page from either instance, forwarding to the one that holds it', async () => {
    await ensureTopics(broker.bootstrap, [{ topic: PAGE_VIEWS, partitions: 3 }, { topic: VIEWS_PER_MINUTE, partitions: 3 }, { topic: VIEWS_PER_FIVE_MINUTES, partitions: 3 }]);
    const instances = [await startInstance(broker.bootstrap), await startInstance(broker.bootstrap)];
    try {
      await until(() => instances.every((instance) => instance.app.state === 'RUNNING' && instance.app.activeTaskIds().length > 0), 'both instances running with tasks');
      const views = generatePageViews({ count: 3_000, startMs: Date.UTC(2026, 10, 21, 12), stepMs: 50 });
      const closeAt = Math.max(...views.map((view) => view.timestamp)) + 10 * MINUTE;
      const producer = exampleProducer(broker.bootstrap);
      await producer.typed({ key: Serdes.string(), value: serde(PageView) }).send({ topic: PAGE_VIEWS, messages: [...views, ...closingViews(closeAt)] }).finally(() => producer.close());
      const expected = expectedWindowCounts(views, MINUTE, MINUTE, closeAt);
      const closedMinutes = (answer: ViewsAnswer): [number, number][] => answer.minutes.filter((minute) => minute.windowEnd + 10_000 <= closeAt).map((minute) => [minute.windowStart, minute.views]);
      const expectedMinutes = (page: string): [number, number][] => [...expected.values()].filter((count) => count.page === page).map((count) => [count.windowStart, count.views] as [number, number]).sort((a, b) => a[0] - b[0]);
      // Every closed window of every page must be in the stores before the answers are compared.
      await until(async () => {
        for (const page of PAGES) if (JSON.stringify(closedMinutes(await ask(instances[0]!, page))) !== JSON.stringify(expectedMinutes(page))) return false;
        return true;
      }, 'the stores to hold every closed minute');
      const servers = new Set<string>();
      for (const page of PAGES) {
        const owner = instances[0]!.app.metadataForKey('views-per-minute', page, (key) => Serdes.string().serialize(key, PAGE_VIEWS)).activeHost;
        for (const instance of instances) {
          const answer = await ask(instance, page);
          expect(answer.servedBy).toBe(owner);
          expect(closedMinutes(answer)).toEqual(expectedMinutes(page));
        }
        servers.add(owner as string);
      }
      // The pages are spread over both instances, so some answers were forwarded each way.
      expect(servers).toEqual(new Set(instances.map((instance) => instance.server.self)));
    } finally {
      for (const instance of instances) {
        await instance.app.close();
        await instance.server.close();
      }
    }
  });
});
