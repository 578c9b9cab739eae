// Type-level tests: tsc checks the @ts-expect-error lines and expectTypeOf assertions; vitest
// runs the file so the builders also work at run time.
import { describe as suite, expectTypeOf, it, expect } from 'vitest';
import { z } from 'zod';
import { isMatching, match, P } from 'ts-pattern';
import { StreamsBuilder, Serdes, serde, TimeWindows, JoinWindows, type KStream, type KTable, type Windowed } from '../../dsl/index.ts';

const OrderSchema = z.object({ id: z.string(), status: z.enum(['paid', 'pending']), amount: z.number() });
type Order = z.infer<typeof OrderSchema>;

suite('the DSL is typed end to end', () => {
  it('a zod serde gives the stream its inferred value type', () => {
    const builder = new StreamsBuilder();
    const orders = builder.stream('orders', { key: Serdes.string(), value: serde(OrderSchema) });
    expectTypeOf(orders).toEqualTypeOf<KStream<string, Order>>();
    const amounts = orders.mapValues((order) => order.amount);
    expectTypeOf(amounts).toEqualTypeOf<KStream<string, number>>();
    // @ts-expect-error amount is a number, so toUpperCase does not exist
    orders.mapValues((order) => order.amount.toUpperCase());
    // @ts-expect-error a filter predicate must return a boolean
    orders.filter((order) => order.amount);
    // @ts-expect-error the key is a string
    orders.selectKey((_order, key: number) => key);
    const keyed = orders.map((order) => [order.id.length, order.status] as const);
    expectTypeOf(keyed).toEqualTypeOf<KStream<number, 'paid' | 'pending'>>();
    expect(builder.build().subtopologies).toHaveLength(1);
  });

  it('ts-pattern predicates narrow in filter and work in split', () => {
    const builder = new StreamsBuilder();
    type Event = { kind: 'click'; x: number } | { kind: 'view'; page: string };
    const events = builder.stream('events', { value: Serdes.json<Event>() });
    const clicks = events.filter(isMatching({ kind: 'click' }));
    expectTypeOf(clicks).toEqualTypeOf<KStream<string, Event & { kind: 'click' }>>();
    clicks.mapValues((click) => click.x + 1);
    const views = events.filter((event): event is Extract<Event, { kind: 'view' }> => event.kind === 'view');
    views.mapValues((view) => view.page.length);
    events.filter((event) => match(event).with({ kind: 'view', page: P.string }, () => true).otherwise(() => false));
    const branches = events.split().branch(isMatching({ kind: 'click' })).defaultBranch();
    expectTypeOf(branches).toEqualTypeOf<Record<string, KStream<string, Event>>>();
  });

  it('aggregations, windows and joins carry their types', () => {
    const builder = new StreamsBuilder();
    const orders = builder.stream('orders', { key: Serdes.string(), value: serde(OrderSchema) });
    const counts = orders.groupByKey().count({ name: 'counts' });
    expectTypeOf(counts).toEqualTypeOf<KTable<string, number>>();
    const windowed = orders.groupByKey().windowedBy(TimeWindows.ofSizeWithNoGrace(1000)).aggregate(() => 0, (_key, order, total) => total + order.amount, { name: 'w' });
    expectTypeOf(windowed).toEqualTypeOf<KTable<Windowed<string>, number>>();
    // @ts-expect-error the aggregate is a number, not a string
    orders.groupByKey().aggregate(() => 0, (_key, order, total: string) => total + order.id, { name: 'bad' });
    const users = builder.table('users', { key: Serdes.string(), value: Serdes.json<{ name: string }>() }, { name: 'users' });
    const enriched = orders.leftJoin(users, (order, user) => ({ ...order, name: user?.name ?? null }));
    expectTypeOf(enriched).toEqualTypeOf<KStream<string, { id: string; status: 'paid' | 'pending'; amount: number; name: string | null }>>();
    // @ts-expect-error a left join's row may be null
    orders.leftJoin(users, (_order, user) => user.name);
    const payments = builder.stream('payments', { key: Serdes.string(), value: Serdes.int32() });
    const paid = orders.join(payments, (order, cents) => `${order.id}:${cents}`, JoinWindows.ofTimeDifferenceWithNoGrace(10), { name: 'paid' });
    expectTypeOf(paid).toEqualTypeOf<KStream<string, string>>();
    // @ts-expect-error payments carry numbers, not orders
    orders.join(payments, (order, payment: Order) => order.id + payment.id, JoinWindows.ofTimeDifferenceWithNoGrace(10));
  });
});
