// Orders enriched with customers, two ways. A stream-table join: each order event, re-keyed by
// its customer id, picks up the customer's current row (orders of unknown customers are kept with
// a null customer: a left join). A foreign-key join: the table of orders (keyed by order id) joins
// the customers table through the order's customer id, so a customer's change updates every one
// of their orders without re-keying the orders table.
import { z } from 'zod';
import { Serdes, StreamsBuilder, serde, type Topology } from '../../dsl/index.ts';

export const ORDERS = 'orders';
export const CUSTOMERS = 'customers';
export const ENRICHED_ORDERS = 'orders-enriched';
export const ORDERS_WITH_CUSTOMER = 'orders-with-customer';
export const ORDER_VIEW_STORE = 'orders-with-customer';

export const Order = z.object({ orderId: z.string(), customerId: z.string(), item: z.string(), amount: z.number() });
export type Order = z.infer<typeof Order>;
export const Customer = z.object({ name: z.string(), tier: z.enum(['basic', 'gold']) });
export type Customer = z.infer<typeof Customer>;
export const EnrichedOrder = Order.extend({ customer: Customer.nullable() });
export type EnrichedOrder = z.infer<typeof EnrichedOrder>;

export function ordersTopology(): Topology {
  const builder = new StreamsBuilder({ strictNames: true });
  const customers = builder.table(CUSTOMERS, { key: Serdes.string(), value: serde(Customer) }, { name: 'customers' });
  const orderEvents = builder.stream(ORDERS, { key: Serdes.string(), value: serde(Order) });
  orderEvents
    .selectKey((order) => order.customerId, { name: 'orders-by-customer' })
    .leftJoin(customers, (order, customer): EnrichedOrder => ({ ...order, customer }), { name: 'orders-customers', key: Serdes.string(), value: serde(Order) })
    .selectKey((order) => order.orderId, { name: 'orders-by-id' })
    .to(ENRICHED_ORDERS, { key: Serdes.string(), value: serde(EnrichedOrder) });

  const ordersTable = orderEvents.toTable({ name: 'orders-table', key: Serdes.string(), value: serde(Order) });
  ordersTable
    .join(customers, (order) => order.customerId, (order, customer): EnrichedOrder => ({ ...order, customer }), { name: ORDER_VIEW_STORE, key: Serdes.string(), value: serde(EnrichedOrder) })
    .toStream({ name: 'order-view-updates' })
    .to(ORDERS_WITH_CUSTOMER, { key: Serdes.string(), value: serde(EnrichedOrder) });
  return builder.build();
}
