// The example topologies on known inputs, without a broker (TopologyTestDriver). The end-to-end
// tests run the same topologies on a broker process.
import { describe, expect, it } from 'vitest';
import { Serdes, serde } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';
import { ATTRIBUTED_CLICKS, AttributedClick, CLICKS, Click, IMPRESSIONS, Impression, adClicksTopology } from '../../examples/ad-clicks/topology.ts';
import { CUSTOMERS, Customer, ENRICHED_ORDERS, EnrichedOrder, ORDERS, ORDERS_WITH_CUSTOMER, Order, ordersTopology } from '../../examples/orders/topology.ts';
import { MINUTE_STORE, PAGE_VIEWS, PageView, VIEWS_PER_FIVE_MINUTES, VIEWS_PER_MINUTE, WindowCount, pageViewsTopology } from '../../examples/page-views/topology.ts';
import { TEXT_LINES, WORD_COUNTS, wordCountTopology, wordsOf } from '../../examples/word-count/topology.ts';

const strings = Serdes.string();
const MINUTE = 60_000;

/** Closed windows of one step come out in store order; the tests compare them page by page, /home first. */
function byPage(counts: readonly (WindowCount | null)[]): WindowCount[] {
  return counts.filter((count): count is WindowCount => count !== null).sort((a, b) => b.page.localeCompare(a.page) || a.windowStart - b.windowStart);
}

describe('word count', () => {
  it('splits lines into lower-cased words and keeps a running count', () => {
    expect(wordsOf("It's the end -- of the World, as we know it!")).toEqual(["it's", 'the', 'end', 'of', 'the', 'world', 'as', 'we', 'know', 'it']);
    const driver = new TopologyTestDriver(wordCountTopology(), { applicationId: 'wc' });
    const lines = driver.createInputTopic(TEXT_LINES, strings, strings);
    const counts = driver.createOutputTopic(WORD_COUNTS, strings, Serdes.long());
    lines.pipeValue('the quick brown fox', 0);
    lines.pipeValue('The lazy dog and the fox', 1);
    expect(Object.fromEntries(counts.readKeyValuesToMap())).toEqual({ the: 3, quick: 1, brown: 1, fox: 2, lazy: 1, dog: 1, and: 1 });
    expect(driver.getKeyValueStore<string, number>('word-counts').get('the')).toBe(3);
    driver.close();
  });
});

describe('page views per window', () => {
  it('emits each closed window once, with late views inside the grace counted and later ones dropped', () => {
    const driver = new TopologyTestDriver(pageViewsTopology(), { applicationId: 'pv' });
    const views = driver.createInputTopic(PAGE_VIEWS, strings, serde(PageView));
    const perMinute = driver.createOutputTopic(VIEWS_PER_MINUTE, strings, serde(WindowCount));
    const perFive = driver.createOutputTopic(VIEWS_PER_FIVE_MINUTES, strings, serde(WindowCount));
    const view = (page: string, at: number): void => views.pipeInput(page, { page, user: 'u', durationMs: 100 }, at);
    view('/home', 5_000);
    view('/home', 30_000);
    view('/docs', 50_000);
    view('/home', MINUTE + 1_000); // stream time 61 s: minute 0 is over but within grace
    view('/home', 59_000); // late, inside the 10 s grace: still counted in minute 0
    expect(perMinute.isEmpty()).toBe(true);
    view('/docs', MINUTE + 10_000); // stream time 70 s = end of minute 0 + grace: it closes
    expect(byPage(perMinute.readValuesToList())).toEqual([
      { page: '/home', windowStart: 0, windowEnd: MINUTE, views: 3 },
      { page: '/docs', windowStart: 0, windowEnd: MINUTE, views: 1 },
    ]);
    // The store answers queries for windows still within retention (size plus grace).
    const store = driver.getWindowStore<string, number>(MINUTE_STORE);
    expect(store.fetchRange('/home', 0, 2 * MINUTE).map((entry) => entry.value)).toEqual([3, 1]);
    view('/home', 20_000); // too late for minute 0: dropped
    view('/home', 6 * MINUTE); // closes minute 1 and the hopping windows that end by 5 min 50 s
    expect(byPage(perMinute.readValuesToList())).toEqual([
      { page: '/home', windowStart: MINUTE, windowEnd: 2 * MINUTE, views: 1 },
      { page: '/docs', windowStart: MINUTE, windowEnd: 2 * MINUTE, views: 1 },
    ]);
    // The view at 20 s was too late for minute 0 but not for the five minutes from 0, still open then.
    const five = byPage(perFive.readValuesToList()).filter((count) => count.windowStart === 0);
    expect(five).toEqual([
      { page: '/home', windowStart: 0, windowEnd: 5 * MINUTE, views: 5 },
      { page: '/docs', windowStart: 0, windowEnd: 5 * MINUTE, views: 2 },
    ]);
    driver.close();
  });
});

describe('clicks joined with impressions', () => {
  it('attributes a click to an impression of the same ad up to 10 s before it, never after', () => {
    const driver = new TopologyTestDriver(adClicksTopology(), { applicationId: 'ads' });
    const impressions = driver.createInputTopic(IMPRESSIONS, strings, serde(Impression));
    const clicks = driver.createInputTopic(CLICKS, strings, serde(Click));
    const out = driver.createOutputTopic(ATTRIBUTED_CLICKS, strings, serde(AttributedClick));
    impressions.pipeInput('ad-1', { impressionId: 'i1', user: 'ada', at: 1_000 }, 1_000);
    impressions.pipeInput('ad-2', { impressionId: 'i2', user: 'ken', at: 2_000 }, 2_000);
    clicks.pipeInput('ad-1', { clickId: 'c1', user: 'ada', at: 4_000 }, 4_000); // 3 s after i1
    clicks.pipeInput('ad-2', { clickId: 'c2', user: 'ken', at: 15_000 }, 15_000); // 13 s after i2: too late
    clicks.pipeInput('ad-3', { clickId: 'c3', user: 'bob', at: 15_500 }, 15_500); // no impression
    impressions.pipeInput('ad-3', { impressionId: 'i3', user: 'bob', at: 16_000 }, 16_000); // after the click: no match
    expect(out.readKeyValuesToList()).toEqual([
      { key: 'ad-1', value: { adId: 'ad-1', impressionId: 'i1', clickId: 'c1', user: 'ada', secondsToClick: 3 } },
    ]);
    driver.close();
  });
});

describe('orders enriched with customers', () => {
  it('joins order events with the current customer and keeps a foreign-key view that follows customer changes', () => {
    const driver = new TopologyTestDriver(ordersTopology(), { applicationId: 'shop' });
    const customers = driver.createInputTopic(CUSTOMERS, strings, serde(Customer));
    const orders = driver.createInputTopic(ORDERS, strings, serde(Order));
    const enriched = driver.createOutputTopic(ENRICHED_ORDERS, strings, serde(EnrichedOrder));
    const view = driver.createOutputTopic(ORDERS_WITH_CUSTOMER, strings, serde(EnrichedOrder));
    customers.pipeInput('c1', { name: 'Ada', tier: 'gold' }, 1);
    orders.pipeInput('o1', { orderId: 'o1', customerId: 'c1', item: 'book', amount: 12 }, 2);
    orders.pipeInput('o2', { orderId: 'o2', customerId: 'c9', item: 'pen', amount: 2 }, 3);
    expect(enriched.readKeyValuesToList()).toEqual([
      { key: 'o1', value: { orderId: 'o1', customerId: 'c1', item: 'book', amount: 12, customer: { name: 'Ada', tier: 'gold' } } },
      { key: 'o2', value: { orderId: 'o2', customerId: 'c9', item: 'pen', amount: 2, customer: null } },
    ]);
    expect(view.readKeyValuesToList()).toEqual([
      { key: 'o1', value: { orderId: 'o1', customerId: 'c1', item: 'book', amount: 12, customer: { name: 'Ada', tier: 'gold' } } },
    ]);
    customers.pipeInput('c1', { name: 'Ada', tier: 'basic' }, 4); // the view follows; past order events do not
    expect(enriched.isEmpty()).toBe(true);
    expect(view.readKeyValuesToList()).toEqual([
      { key: 'o1', value: { orderId: 'o1', customerId: 'c1', item: 'book', amount: 12, customer: { name: 'Ada', tier: 'basic' } } },
    ]);
    customers.pipeInput('c9', { name: 'Nine', tier: 'basic' }, 5); // o2 now has a customer in the view
    expect(view.readKeyValuesToList().map((entry) => entry.key)).toEqual(['o2']);
    driver.close();
  });
});
