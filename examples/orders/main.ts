// Orders enriched with customers, end to end: customers are loaded into the application's table
// (the example waits until an interactive query sees all of them), then orders stream in and
// leave enriched with the customer's current row (a stream-table join); later some customers
// change tier, and the foreign-key view of every order follows while the enriched order events
// already written stay as they were. Run: npx tsx examples/orders/main.ts
import path from 'node:path';
import { Serdes, serde } from '../../dsl/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { ensureTopics, exampleBroker, exampleDirectory, exampleProducer, isMain, OutputTopic, until, type TypedRecord } from '../support.ts';
import { CUSTOMERS, Customer, ENRICHED_ORDERS, EnrichedOrder, ORDERS, ORDERS_WITH_CUSTOMER, Order, ordersTopology } from './topology.ts';

export interface Shop {
  readonly customers: TypedRecord<string, Customer>[];
  readonly orders: TypedRecord<string, Order>[];
  /** Tier changes applied after the orders. */
  readonly upgrades: TypedRecord<string, Customer>[];
}

export function generateShop(customerCount: number, orderCount: number, startMs: number): Shop {
  const customers = Array.from({ length: customerCount }, (_, index) => ({ key: `c${index}`, value: { name: `Customer ${index}`, tier: 'basic' as const }, timestamp: startMs }));
  // One order in ten names a customer that does not exist: the left join keeps it with null.
  const orders = Array.from({ length: orderCount }, (_, index) => {
    const customerId = index % 10 === 9 ? `ghost-${index}` : `c${(index * 7) % customerCount}`;
    return { key: `o${index}`, value: { orderId: `o${index}`, customerId, item: `item-${index % 13}`, amount: (index * 17) % 200 }, timestamp: startMs + 1_000 + index };
  });
  const upgrades = customers.filter((_, index) => index % 4 === 0).map((customer) => ({ ...customer, value: { name: customer.value.name, tier: 'gold' as const }, timestamp: startMs + 1_000_000 }));
  return { customers, orders, upgrades };
}

export interface OrdersRun {
  readonly enriched: Map<string, EnrichedOrder>;
  readonly view: Map<string, EnrichedOrder>;
}

export async function runOrders(bootstrap: string, stateDir: string, shop: Shop, applicationId = 'orders'): Promise<OrdersRun> {
  await ensureTopics(bootstrap, [CUSTOMERS, ORDERS, ENRICHED_ORDERS, ORDERS_WITH_CUSTOMER].map((topic) => ({ topic, partitions: 3 })));
  const app = new StreamsApp(ordersTopology(), { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 200 });
  const enriched = new OutputTopic(bootstrap, ENRICHED_ORDERS, { key: Serdes.string(), value: serde(EnrichedOrder) });
  const view = new OutputTopic(bootstrap, ORDERS_WITH_CUSTOMER, { key: Serdes.string(), value: serde(EnrichedOrder) });
  const producer = exampleProducer(bootstrap);
  const customers = producer.typed({ key: Serdes.string(), value: serde(Customer) });
  const orders = producer.typed({ key: Serdes.string(), value: serde(Order) });
  try {
    await app.start();
    await customers.send({ topic: CUSTOMERS, messages: shop.customers });
    const table = app.keyValueStore<string, Customer>('customers');
    await until(() => app.state === 'RUNNING' && table.approximateNumEntries() >= shop.customers.length, 'every customer in the table');
    await orders.send({ topic: ORDERS, messages: shop.orders });
    const known = shop.orders.filter((order) => !order.value?.customerId.startsWith('ghost-')).length;
    await until(async () => {
      await Promise.all([enriched.poll(), view.poll()]);
      return enriched.table().size >= shop.orders.length && view.table().size >= known;
    }, 'every order enriched and in the view');
    await customers.send({ topic: CUSTOMERS, messages: shop.upgrades });
    const upgraded = new Set(shop.upgrades.map((customer) => customer.key));
    await until(async () => {
      await view.poll();
      return [...view.table().values()].every((order) => !upgraded.has(order.customerId) || order.customer?.tier === 'gold');
    }, 'the view to follow the tier changes');
    await enriched.poll();
    return { enriched: enriched.table(), view: view.table() };
  } finally {
    await producer.close();
    await Promise.all([enriched.close(), view.close()]);
    await app.close();
  }
}

if (isMain(import.meta.url)) {
  const directory = exampleDirectory('orders');
  const broker = await exampleBroker(directory);
  try {
    const shop = generateShop(40, 500, Date.UTC(2026, 10, 21, 12));
    const run = await runOrders(broker.bootstrap, path.join(directory, 'state'), shop);
    const withCustomer = [...run.enriched.values()].filter((order) => order.customer !== null).length;
    const gold = [...run.view.values()].filter((order) => order.customer?.tier === 'gold').length;
    console.log(`${run.enriched.size} orders enriched (${withCustomer} with a customer, ${run.enriched.size - withCustomer} unknown customers kept)`);
    console.log(`${run.view.size} orders in the foreign-key view, ${gold} of them now with a gold customer`);
  } finally {
    await broker.stop();
  }
}
