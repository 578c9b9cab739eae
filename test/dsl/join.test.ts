import { describe as suite, expect, it } from 'vitest';
import { StreamsBuilder, Serdes, JoinWindows } from '../../dsl/index.ts';
import { TopologyTestDriver } from '../../runtime/streams/index.ts';

const strings = Serdes.string();

function streamJoin(mode: 'join' | 'leftJoin' | 'outerJoin', windows: JoinWindows) {
  const builder = new StreamsBuilder();
  const left = builder.stream('left', { key: strings, value: strings });
  const right = builder.stream('right', { key: strings, value: strings });
  const joiner = (l: string | null, r: string | null) => `${l ?? 'null'}+${r ?? 'null'}`;
  const joined = mode === 'join' ? left.join(right, joiner, windows) : mode === 'leftJoin' ? left.leftJoin(right, joiner, windows) : left.outerJoin(right, joiner, windows);
  joined.to('out', { key: strings, value: strings });
  const driver = new TopologyTestDriver(builder.build());
  return {
    driver,
    left: driver.createInputTopic('left', strings, strings),
    right: driver.createInputTopic('right', strings, strings),
    out: driver.createOutputTopic('out', strings, strings),
  };
}

suite('stream-stream joins', () => {
  it('joins records within the window and not outside it', () => {
    const { left, right, out } = streamJoin('join', JoinWindows.ofTimeDifferenceAndGrace(10, 100));
    left.pipeInput('k', 'L1', 100);
    right.pipeInput('k', 'R1', 105); // 5 after L1: joins
    right.pipeInput('k', 'R2', 111); // 11 after L1: outside
    right.pipeInput('other', 'R3', 100); // different key
    left.pipeInput('k', 'L2', 95); // 10 before R1 and 16 before R2
    expect(out.readRecordsToList().map((record) => [record.value, record.timestamp])).toEqual([
      ['L1+R1', 105],
      ['L2+R1', 105],
    ]);
  });

  it('respects asymmetric before/after windows', () => {
    const { left, right, out } = streamJoin('join', JoinWindows.ofTimeDifferenceAndGrace(0, 100).after(10));
    left.pipeInput('k', 'L1', 100);
    right.pipeInput('k', 'R-before', 95); // right earlier than left: outside (before = 0)
    right.pipeInput('k', 'R-after', 110);
    expect(out.readValuesToList()).toEqual(['L1+R-after']);
  });

  it('left join emits the null result only after the window closes, and not for matched records', () => {
    const { left, right, out } = streamJoin('leftJoin', JoinWindows.ofTimeDifferenceAndGrace(10, 0));
    left.pipeInput('a', 'La', 0);
    left.pipeInput('b', 'Lb', 1);
    right.pipeInput('b', 'Rb', 5);
    expect(out.readValuesToList()).toEqual(['Lb+Rb']);
    left.pipeInput('c', 'Lc', 11); // stream time 11 passes La's window end 10
    expect(out.readRecordsToList().map((record) => [record.key, record.value, record.timestamp])).toEqual([['a', 'La+null', 0]]);
    left.pipeInput('d', 'Ld', 100);
    expect(out.readValuesToList()).toEqual(['Lc+null']);
  });

  it('outer join emits unmatched records of both sides', () => {
    const { left, right, out } = streamJoin('outerJoin', JoinWindows.ofTimeDifferenceAndGrace(5, 0));
    left.pipeInput('a', 'La', 0);
    right.pipeInput('b', 'Rb', 1);
    right.pipeInput('a', 'Ra', 3);
    left.pipeInput('z', 'Lz', 50);
    expect(out.readValuesToList()).toEqual(['La+Ra', 'null+Rb']);
  });

  it('drops records that arrive after their join window closed', () => {
    const { driver, left, right, out } = streamJoin('join', JoinWindows.ofTimeDifferenceAndGrace(5, 5));
    left.pipeInput('k', 'L1', 100);
    right.pipeInput('k', 'R-late', 80); // 80 + 5 + 5 < 100
    expect(out.isEmpty()).toBe(true);
    expect(driver.metrics().droppedLateRecords).toBe(1);
  });

  it('repartitions a re-keyed side before joining', () => {
    const builder = new StreamsBuilder();
    const orders = builder.stream('orders', { key: strings, value: strings }).selectKey((value) => value.split(':')[0] ?? '');
    const payments = builder.stream('payments', { key: strings, value: strings });
    orders.join(payments, (order, payment) => `${order}/${payment}`, JoinWindows.ofTimeDifferenceWithNoGrace(100), { name: 'order-payments' }).to('paid', { key: strings, value: strings });
    const topology = builder.build();
    expect(topology.internalTopics.filter((topic) => topic.kind === 'repartition').map((topic) => topic.name)).toEqual(['order-payments-left-repartition']);
    expect(topology.copartitionGroups).toEqual([['order-payments-left-repartition', 'payments']]);
    const driver = new TopologyTestDriver(topology);
    driver.createInputTopic('orders', strings, strings).pipeInput('o1', 'alice:book', 10);
    driver.createInputTopic('payments', strings, strings).pipeInput('alice', '12 EUR', 20);
    expect(driver.createOutputTopic('paid', strings, strings).readKeyValuesToList()).toEqual([{ key: 'alice', value: 'alice:book/12 EUR' }]);
  });
});

suite('stream-table and stream-global-table joins', () => {
  it('inner join drops records without a row; left join passes null', () => {
    const builder = new StreamsBuilder();
    const users = builder.table('users', { key: strings, value: strings }, { name: 'users' });
    const clicks = builder.stream('clicks', { key: strings, value: strings });
    clicks.join(users, (click, region) => `${click}@${region}`).to('inner', { value: strings });
    clicks.leftJoin(users, (click, region) => `${click}@${region ?? 'unknown'}`).to('left', { value: strings });
    const driver = new TopologyTestDriver(builder.build());
    const userInput = driver.createInputTopic('users', strings, strings);
    const clickInput = driver.createInputTopic('clicks', strings, strings);
    clickInput.pipeInput('alice', 'c1', 1);
    userInput.pipeInput('alice', 'eu', 2);
    clickInput.pipeInput('alice', 'c2', 3);
    userInput.pipeInput('alice', null, 4);
    clickInput.pipeInput('alice', 'c3', 5);
    expect(driver.createOutputTopic('inner', strings, strings).readValuesToList()).toEqual(['c2@eu']);
    expect(driver.createOutputTopic('left', strings, strings).readValuesToList()).toEqual(['c1@unknown', 'c2@eu', 'c3@unknown']);
  });

  it('global table join looks rows up by a key selected from the record', () => {
    const builder = new StreamsBuilder();
    const products = builder.globalTable('products', { key: strings, value: strings }, { name: 'products' });
    builder
      .stream('orders', { key: strings, value: Serdes.json<{ product: string; quantity: number }>() })
      .join(products, (order) => order.product, (order, name) => `${order.quantity} x ${name}`)
      .to('described', { value: strings });
    builder
      .stream('orders2', { key: strings, value: strings })
      .leftJoin(products, (product) => product, (product, name) => `${product}:${name ?? 'missing'}`)
      .to('described2', { value: strings });
    const topology = builder.build();
    expect(topology.globalStores).toHaveLength(1);
    const driver = new TopologyTestDriver(topology);
    driver.createInputTopic('products', strings, strings).pipeInput('p1', 'teapot', 1);
    driver.createInputTopic('orders', strings, Serdes.json<{ product: string; quantity: number }>()).pipeInput('o1', { product: 'p1', quantity: 2 }, 2);
    driver.createInputTopic('orders', strings, Serdes.json<{ product: string; quantity: number }>()).pipeInput('o2', { product: 'p9', quantity: 1 }, 3);
    driver.createInputTopic('orders2', strings, strings).pipeInput('o3', 'p9', 4);
    expect(driver.createOutputTopic('described', strings, strings).readValuesToList()).toEqual(['2 x teapot']);
    expect(driver.createOutputTopic('described2', strings, strings).readValuesToList()).toEqual(['p9:missing']);
    expect(driver.getKeyValueStore('products').get('p1')).toBe('teapot');
  });
});

suite('table-table joins', () => {
  function tables(mode: 'join' | 'leftJoin' | 'outerJoin') {
    const builder = new StreamsBuilder();
    const left = builder.table('left', { key: strings, value: strings }, { name: 'left' });
    const right = builder.table('right', { key: strings, value: strings }, { name: 'right' });
    const joiner = (l: string | null, r: string | null) => `${l ?? 'null'}+${r ?? 'null'}`;
    const joined = mode === 'join' ? left.join(right, joiner, { name: 'joined' }) : mode === 'leftJoin' ? left.leftJoin(right, joiner) : left.outerJoin(right, joiner);
    joined.toStream().to('out', { key: strings, value: strings });
    const driver = new TopologyTestDriver(builder.build());
    return { driver, left: driver.createInputTopic('left', strings, strings), right: driver.createInputTopic('right', strings, strings), out: driver.createOutputTopic('out', strings, strings) };
  }

  it('inner join updates on both sides and deletes when a side goes away', () => {
    const { driver, left, right, out } = tables('join');
    left.pipeInput('k', 'L1', 1);
    right.pipeInput('k', 'R1', 2);
    left.pipeInput('k', 'L2', 3);
    right.pipeInput('k', 'R2', 4);
    right.pipeInput('k', null, 5);
    expect(out.readRecordsToList().map((record) => [record.value, record.timestamp])).toEqual([
      ['L1+R1', 2],
      ['L2+R1', 3],
      ['L2+R2', 4],
      [null, 5],
    ]);
    expect(driver.getKeyValueStore('joined').get('k')).toBeNull();
  });

  it('left join emits with a null right side; outer join with either side null', () => {
    const leftJoin = tables('leftJoin');
    leftJoin.right.pipeInput('k', 'R1', 1);
    leftJoin.left.pipeInput('k', 'L1', 2);
    leftJoin.right.pipeInput('k', null, 3);
    expect(leftJoin.out.readValuesToList()).toEqual(['L1+R1', 'L1+null']);
    const outer = tables('outerJoin');
    outer.right.pipeInput('k', 'R1', 1);
    outer.left.pipeInput('k', 'L1', 2);
    outer.left.pipeInput('k', null, 3);
    outer.right.pipeInput('k', null, 4);
    expect(outer.out.readValuesToList()).toEqual(['null+R1', 'L1+R1', 'null+R1', null]);
  });
});
