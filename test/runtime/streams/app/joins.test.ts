// Joins on a real broker, which exercise several sub-topologies, repartition topics and
// co-partitioned tables: orders re-keyed by customer and joined with the customers table, and
// an orders table joined to the customers table by foreign key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Serdes, StreamsBuilder } from '../../../../dsl/index.ts';
import { StreamsApp } from '../../../../runtime/streams/app/index.ts';
import { cleanup, startBroker, temporaryDirectory, type BrokerProcess } from '../../../helpers/broker.ts';
import { createTopics, produceRecords, TopicReader, waitFor } from '../../../helpers/streams.ts';

interface Order {
  readonly customer: string;
  readonly amount: number;
}

let broker: BrokerProcess;

beforeAll(async () => {
  broker = await startBroker();
  await createTopics(broker.bootstrap, [
    { topic: 'orders', partitions: 3 }, { topic: 'order-rows', partitions: 3 }, { topic: 'customers', partitions: 2 }, { topic: 'orders-enriched', partitions: 3 }, { topic: 'orders-by-fk', partitions: 3 },
    { topic: 'regions', partitions: 2 }, { topic: 'orders-for-regions', partitions: 3 }, { topic: 'orders-with-regions', partitions: 3 },
  ]);
  await produceRecords(broker.bootstrap, 'regions', [{ key: 'alice', value: 'EU' }, { key: 'bob', value: 'EU' }, { key: 'carol', value: 'SA' }]);
  await produceRecords(broker.bootstrap, 'customers', [{ key: 'alice', value: 'Paris' }, { key: 'bob', value: 'Oslo' }, { key: 'carol', value: 'Lima' }]);
});

afterAll(async () => {
  await cleanup();
});

const orders = Array.from({ length: 30 }, (_, index) => ({ key: `order-${index}`, order: { customer: ['alice', 'bob', 'carol'][index % 3] as string, amount: index } }));
const city = (customer: string): string => ({ alice: 'Paris', bob: 'Oslo', carol: 'Lima' })[customer] ?? '?';

async function readUntil(topic: string, expected: Map<string, string>): Promise<Map<string, unknown>> {
  const reader = new TopicReader(broker.bootstrap, topic, 3);
  try {
    await waitFor(async () => {
      await reader.poll();
      const latest = reader.latest();
      return [...expected].every(([key, value]) => latest.get(key) === value);
    }, `every joined record on ${topic}`);
    return reader.latest();
  } finally {
    await reader.close();
  }
}

describe('StreamsApp joins', () => {
  it('joins re-keyed orders with the customers table, and an orders table with customers by foreign key', async () => {
    const builder = new StreamsBuilder();
    const customers = builder.table('customers', { key: Serdes.string(), value: Serdes.string() }, { name: 'customers-store' });
    builder
      .stream('orders', { key: Serdes.string(), value: Serdes.json<Order>() })
      .selectKey((order) => order.customer)
      // The repartition topic must carry string keys, like the customers topic, or keys would
      // hash to other partitions than the table's and miss it.
      .join(customers, (order, town) => `${order.amount}@${town}`, { name: 'orders-with-customers', key: Serdes.string(), value: Serdes.json<Order>() })
      .to('orders-enriched', { key: Serdes.string(), value: Serdes.string() });
    builder
      .table('order-rows', { key: Serdes.string(), value: Serdes.json<Order>() }, { name: 'orders-table' })
      .join(customers, (order) => order.customer, (order, town) => `${order.customer}:${order.amount}@${town}`, { name: 'orders-fk' })
      .toStream()
      .to('orders-by-fk', { key: Serdes.string(), value: Serdes.string() });
    const app = new StreamsApp(builder.build(), { 'application.id': 'joins-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-joins-'), 'commit.interval.ms': 100 });
    try {
      await app.start();
      await app.waitUntilRunning();
      await produceRecords(broker.bootstrap, 'orders', orders.map(({ key, order }) => ({ key, value: JSON.stringify(order) })));
      await produceRecords(broker.bootstrap, 'order-rows', orders.map(({ key, order }) => ({ key, value: JSON.stringify(order) })));
      const byFk = new Map(orders.map(({ key, order }) => [key, `${order.customer}:${order.amount}@${city(order.customer)}`]));
      expect(await readUntil('orders-by-fk', byFk)).toEqual(byFk);
      const enriched = new TopicReader(broker.bootstrap, 'orders-enriched', 3);
      try {
        await waitFor(async () => (await enriched.poll()).length >= orders.length, 'every order on orders-enriched');
        const values = enriched.records.map((record) => `${record.key?.toString()}=${record.value?.toString()}`).sort();
        expect(values).toEqual(orders.map(({ order }) => `${order.customer}=${order.amount}@${city(order.customer)}`).sort());
      } finally {
        await enriched.close();
      }
    } finally {
      await app.close();
    }
  });

  it('joins orders with a global table loaded before processing, and queries the global store', async () => {
    const builder = new StreamsBuilder();
    const regions = builder.globalTable('regions', { key: Serdes.string(), value: Serdes.string() }, { name: 'regions-store' });
    builder
      .stream('orders-for-regions', { key: Serdes.string(), value: Serdes.json<Order>() })
      .join(regions, (order) => order.customer, (order, region) => `${order.customer}:${order.amount}@${region}`)
      .to('orders-with-regions', { key: Serdes.string(), value: Serdes.string() });
    const app = new StreamsApp(builder.build(), { 'application.id': 'regions-app', 'bootstrap.servers': broker.bootstrap, 'state.dir': temporaryDirectory('runnel-streams-global-'), 'commit.interval.ms': 100 });
    try {
      await app.start();
      // The global table is loaded during start(), before any task runs.
      expect(app.keyValueStore<string, string>('regions-store').get('carol')).toBe('SA');
      await produceRecords(broker.bootstrap, 'orders-for-regions', orders.map(({ key, order }) => ({ key, value: JSON.stringify(order) })));
      const region = (customer: string): string => (customer === 'carol' ? 'SA' : 'EU');
      const expected = new Map(orders.map(({ key, order }) => [key, `${order.customer}:${order.amount}@${region(order.customer)}`]));
      expect(await readUntil('orders-with-regions', expected)).toEqual(expected);
      // Updates to the global topic reach the store while the application runs.
      await produceRecords(broker.bootstrap, 'regions', [{ key: 'dave', value: 'AS' }]);
      await waitFor(() => app.keyValueStore<string, string>('regions-store').get('dave') === 'AS', 'the global store to follow its topic');
    } finally {
      await app.close();
    }
  });
});
