import { describe as suite, expect, it, expectTypeOf } from 'vitest';
import { StreamsBuilder, Serdes, describe, type KTable } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();
type Order = { customer: string; item: string };

function build(mode: 'join' | 'leftJoin') {
  const builder = new StreamsBuilder();
  const orders = builder.table('orders', { key: strings, value: Serdes.json<Order>() }, { name: 'orders' });
  const customers = builder.table('customers', { key: strings, value: strings }, { name: 'customers' });
  const joined =
    mode === 'join'
      ? orders.join(customers, (order) => order.customer, (order, name) => `${order.item} for ${name}`, { name: 'orders-with-customers' })
      : orders.leftJoin(customers, (order) => order.customer, (order, name) => `${order.item} for ${name ?? '?'}`, { name: 'orders-with-customers' });
  expectTypeOf(joined).toEqualTypeOf<KTable<string, string>>();
  joined.toStream().to('out', { key: strings, value: strings });
  const topology = builder.build();
  const driver = new TopologyTestDriver(topology);
  return {
    topology,
    driver,
    orders: driver.createInputTopic('orders', strings, Serdes.json<Order>()),
    customers: driver.createInputTopic('customers', strings, strings),
    out: driver.createOutputTopic('out', strings, strings),
  };
}

suite('foreign-key table join', () => {
  it('updates from both sides, follows a changed foreign key and deletes', () => {
    const { driver, orders, customers, out } = build('join');
    customers.pipeInput('c1', 'Ada', 1);
    orders.pipeInput('o1', { customer: 'c1', item: 'book' }, 2);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'o1', value: 'book for Ada' }]);
    customers.pipeInput('c1', 'Ada L.', 3); // right-side change reaches every subscribed order
    expect(out.readKeyValuesToList()).toEqual([{ key: 'o1', value: 'book for Ada L.' }]);
    orders.pipeInput('o1', { customer: 'c2', item: 'book' }, 4); // no customer c2 yet: inner join removes the row
    expect(out.readKeyValuesToList()).toEqual([{ key: 'o1', value: null }]);
    customers.pipeInput('c1', 'ignored', 5); // o1 no longer subscribes to c1
    expect(out.isEmpty()).toBe(true);
    customers.pipeInput('c2', 'Grace', 6);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'o1', value: 'book for Grace' }]);
    orders.pipeInput('o1', null, 7);
    expect(out.readKeyValuesToList()).toEqual([{ key: 'o1', value: null }]);
    expect(driver.getKeyValueStore('orders-with-customers').get('o1')).toBeNull();
  });

  it('left join keeps rows without a match', () => {
    const { orders, customers, out } = build('leftJoin');
    orders.pipeInput('o1', { customer: 'c9', item: 'pen' }, 1);
    customers.pipeInput('c9', 'Linus', 2);
    expect(out.readValuesToList()).toEqual(['pen for ?', 'pen for Linus']);
  });

  it('uses subscription and response topics that co-partition with each table', () => {
    const { topology } = build('join');
    const topics = topology.internalTopics.filter((topic) => topic.kind === 'repartition').map((topic) => topic.name);
    expect(topics).toHaveLength(2);
    expect(topics[0]).toMatch(/^KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-\d{10}-topic$/);
    expect(topics[1]).toMatch(/^KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-\d{10}-topic$/);
    expect(topology.copartitionGroups).toEqual([[topics[0], 'customers'].sort(), [topics[1], 'orders'].sort()]);
    expect(topology.subtopologies).toHaveLength(2);
    expect(describe(topology)).toContain('(stores: [orders-with-customers-subscription-store, customers])');
  });
});
