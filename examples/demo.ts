// The main job: start an embedded Runnel broker on a data directory, create a topic, produce
// keyed orders with Runnel's client, read them back in a consumer group, and show that every
// record arrived in per-key order. Run it with `npm run demo`; run it twice to see the
// committed offsets and the data survive a restart.
import path from 'node:path';
import { Broker } from '../runtime/broker/broker.ts';
import { resolveBrokerConfig } from '../runtime/broker/config.ts';
import { Admin, Consumer, Producer } from '../runtime/client/index.ts';

// The broker's own log lines would interleave with the demo's story; warnings still show.
process.env['RUNNEL_LOG_LEVEL'] ??= 'warn';
const dataDirectory = path.resolve(process.env['RUNNEL_DEMO_DIR'] ?? 'data/demo');
const topic = 'demo-orders';
const orderCount = 1_000;

const broker = await Broker.start(resolveBrokerConfig({
  'log.dirs': dataDirectory,
  listeners: 'PLAINTEXT://127.0.0.1:0',
  'group.initial.rebalance.delay.ms': 0,
}));
const bootstrapServers = `127.0.0.1:${broker.port}`;
console.log(`broker up on ${bootstrapServers}, data in ${dataDirectory}`);

try {
  const admin = new Admin({ bootstrapServers, clientId: 'demo-admin' });
  await admin.connect();
  if (!(await admin.listTopics()).includes(topic)) await admin.createTopics([{ topic, numPartitions: 3 }]);
  const before = await admin.listOffsets(topic, 'latest');
  const alreadyStored = before.reduce((sum, p) => sum + Number(p.offset), 0);

  const producer = new Producer({ bootstrapServers, clientId: 'demo-producer', compression: 'lz4', lingerMs: 5 });
  await producer.connect();
  const customers = ['ada', 'grace', 'linus', 'barbara', 'ken'];
  const sends = [];
  for (let index = 0; index < orderCount; index++) {
    const customer = customers[index % customers.length]!;
    sends.push(producer.send({ topic, messages: [{ key: customer, value: JSON.stringify({ order: alreadyStored + index, customer, amount: (index * 7) % 100 }) }] }));
  }
  await Promise.all(sends);
  await producer.close();
  console.log(`produced ${orderCount} orders (the topic held ${alreadyStored} before)`);

  const consumer = new Consumer({ bootstrapServers, clientId: 'demo-consumer', groupId: 'demo-readers', autoOffsetReset: 'earliest', autoCommit: false });
  consumer.subscribe({ topics: [topic] });
  const totals = new Map<string, { orders: number; amount: number; lastOrder: number }>();
  let read = 0;
  let outOfOrder = 0;
  const deadline = Date.now() + 30_000;
  while (read < orderCount && Date.now() < deadline) {
    for (const record of await consumer.poll({ timeoutMs: 1000 })) {
      const order = JSON.parse(record.value!.toString()) as { order: number; customer: string; amount: number };
      const total = totals.get(order.customer) ?? { orders: 0, amount: 0, lastOrder: -1 };
      if (order.order < total.lastOrder) outOfOrder += 1;
      totals.set(order.customer, { orders: total.orders + 1, amount: total.amount + order.amount, lastOrder: order.order });
      read += 1;
    }
    await consumer.commit();
  }
  await consumer.close();

  console.log(`consumed ${read} new orders in group demo-readers; out of order per customer: ${outOfOrder}`);
  for (const [customer, total] of [...totals].sort()) console.log(`  ${customer.padEnd(8)} ${String(total.orders).padStart(4)} orders, amount ${total.amount}`);
  const committed = await admin.fetchGroupOffsets('demo-readers', [topic]);
  console.log(`committed offsets: ${committed.map((p) => `${p.partition}:${p.offset}`).join(' ')}`);
  await admin.close();
  if (read !== orderCount || outOfOrder !== 0) {
    console.error('demo failed: not every order came back in order');
    process.exitCode = 1;
  } else {
    console.log('round trip complete');
  }
} finally {
  await broker.stop();
}
