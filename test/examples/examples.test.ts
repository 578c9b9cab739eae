// Every example end to end on a real broker process: known inputs in, and the outputs (topics,
// queryable stores, the HTTP endpoint) equal what is computed here without streams code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedAttributions, generateTraffic, runAdClicks } from '../../examples/ad-clicks/main.ts';
import { generateShop, runOrders } from '../../examples/orders/main.ts';
import { generatePageViews } from '../../examples/page-views/generator.ts';
import { runPageViews } from '../../examples/page-views/main.ts';
import { GRACE_MS } from '../../examples/page-views/topology.ts';
import { expectedStats, runReplay } from '../../examples/replay/main.ts';
import { countWords, runWordCount } from '../../examples/word-count/main.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../helpers/broker.ts';

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
});

afterAll(async () => {
  await cleanup();
});

describe('examples on a broker', () => {
  it('word count: the output topic and the store hold the count of every word', async () => {
    const lines = Array.from({ length: 200 }, (_, index) => `Stream ${index % 3 === 0 ? 'tables' : 'logs'} and the log, number ${index % 11}`);
    const result = await runWordCount(broker.bootstrap, temporaryDirectory('runnel-example-wc-'), lines);
    const expected = countWords(lines);
    expect(result.topic).toEqual(expected);
    expect(result.store).toEqual(expected);
  });

  it('page views: every closed window emitted once with the right count, and the HTTP endpoint answers from the store', async () => {
    const views = generatePageViews({ count: 12_000, startMs: Date.UTC(2026, 10, 21, 12), stepMs: 50 });
    const run = await runPageViews(broker.bootstrap, temporaryDirectory('runnel-example-pv-'), views);
    expect(run.expectedPerMinute.size).toBeGreaterThan(20);
    expect([...run.perMinute].sort()).toEqual([...run.expectedPerMinute].sort());
    expect([...run.perFiveMinutes].sort()).toEqual([...run.expectedPerFiveMinutes].sort());
    // The views the generator made too late were dropped: the windows hold fewer than were sent.
    const counted = [...run.perMinute.values()].reduce((sum, count) => sum + count.views, 0);
    expect(counted).toBeLessThan(views.length);
    const page = run.query.page;
    const closeAt = Math.max(...views.map((view) => view.timestamp)) + 10 * 60_000;
    const answered = run.query.minutes.filter((minute) => minute.windowEnd + GRACE_MS <= closeAt).map((minute) => [minute.windowStart, minute.views]);
    const expected = [...run.expectedPerMinute.values()].filter((count) => count.page === page).map((count) => [count.windowStart, count.views]);
    expect(answered).toEqual(expected.sort((a, b) => (a[0] as number) - (b[0] as number)));
  });

  it('ad clicks: each click is attributed to exactly the impressions of its ad in the 10 s before it', async () => {
    const traffic = generateTraffic(300, Date.UTC(2026, 10, 21, 12));
    const pairs = await runAdClicks(broker.bootstrap, temporaryDirectory('runnel-example-ads-'), traffic);
    const expected = expectedAttributions(traffic);
    expect(expected.size).toBeGreaterThan(100);
    expect([...pairs].sort()).toEqual([...expected].sort());
  });

  it('orders: events carry the customer current when they were processed; the foreign-key view follows later changes', async () => {
    const shop = generateShop(20, 200, Date.UTC(2026, 10, 21, 12));
    const run = await runOrders(broker.bootstrap, temporaryDirectory('runnel-example-orders-'), shop);
    const customers = new Map(shop.customers.map((customer) => [customer.key, customer.value]));
    const upgraded = new Map(shop.upgrades.map((customer) => [customer.key, customer.value]));
    expect(run.enriched.size).toBe(shop.orders.length);
    for (const { key, value: order } of shop.orders) {
      expect(run.enriched.get(key as string)).toEqual({ ...order, customer: customers.get(order!.customerId) ?? null });
      const current = upgraded.get(order!.customerId) ?? customers.get(order!.customerId);
      if (current === undefined) expect(run.view.has(key as string)).toBe(false);
      else expect(run.view.get(key as string)).toEqual({ ...order, customer: current });
    }
  });

  it('replay: a changed aggregation recomputes the whole history after a reset, and from a date-time after another', async () => {
    const views = generatePageViews({ count: 2_000, startMs: Date.UTC(2026, 10, 21, 12), stepMs: 200 });
    const run = await runReplay(broker.bootstrap, temporaryDirectory('runnel-example-replay-'), views);
    expect(run.v1).toEqual(expectedStats(views, false));
    expect(run.v2).toEqual(expectedStats(views, true));
    expect(run.v2FromTime).toEqual(expectedStats(views, true, run.fromMs));
    const total = (stats: Map<string, { views: number }>): number => [...stats.values()].reduce((sum, entry) => sum + entry.views, 0);
    expect(total(run.v2)).toBe(views.length);
    expect(total(run.v2FromTime)).toBeGreaterThan(views.length / 3);
    expect(total(run.v2FromTime)).toBeLessThan(views.length * 2 / 3);
  });
});
