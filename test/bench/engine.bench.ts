// Engine overhead: records per second through a StreamTask with no broker, for a stateless
// map/filter chain and for a windowed count over in-memory stores (caching and change logging on,
// the changelog writer discarding). Input bytes are prepared up front; output is discarded.
// Run: npx tsx test/bench/engine.bench.ts [records]
import os from 'node:os';
import { Serdes, StreamsBuilder, TimeWindows, type Topology } from '../../dsl/index.ts';
import type { TopicRecord } from '../../core/topology/record.ts';
import { StreamTask } from '../../runtime/streams/task.ts';

const recordCount = Number(process.argv[2] ?? 300_000);
const strings = Serdes.string();

function prepare(count: number, keyCount: number): TopicRecord[] {
  const records: TopicRecord[] = [];
  for (let index = 0; index < count; index++) {
    records.push({ key: strings.serialize(`key-${index % keyCount}`, 'in'), value: strings.serialize(`value-${index}`, 'in'), timestamp: index, headers: [], partition: 0, offset: BigInt(index) });
  }
  return records;
}

function run(name: string, topology: Topology, records: readonly TopicRecord[]): void {
  let produced = 0;
  const task = new StreamTask({
    applicationId: 'bench',
    topology,
    subtopologyId: 0,
    partition: 0,
    collector: { send: () => void produced++ },
    changelogWriter: { send: () => undefined },
    clock: () => 0,
    deserializationErrorHandler: 'fail',
    globalStores: new Map(),
    log: () => undefined,
  });
  task.init();
  const started = process.hrtime.bigint();
  for (const [index, record] of records.entries()) {
    task.process('in', record);
    if (index % 10_000 === 9_999) task.commit();
  }
  task.commit();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = Math.round(records.length / seconds);
  console.log(`${name.padEnd(34)} ${String(records.length).padStart(8)} records  ${seconds.toFixed(3)} s  ${rate.toLocaleString('en-US').padStart(11)} records/s  (${produced} out)`);
}

function statelessTopology(): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream('in', { key: strings, value: strings })
    .mapValues((value) => value.length)
    .filter((length) => length % 2 === 0)
    .map((length, key) => [key.toUpperCase(), length * 2] as const)
    .filterNot((doubled) => doubled === 0)
    .to('out', { key: strings, value: Serdes.int32() });
  return builder.build();
}

function windowedCountTopology(): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream('in', { key: strings, value: strings })
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeAndGrace(1_000, 100))
    .count({ name: 'counts' })
    .toStream()
    .to('out', { key: Serdes.json(), value: Serdes.long() });
  return builder.build();
}

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`machine: ${cpu}, ${os.cpus().length} cores, node ${process.version}`);
const records = prepare(recordCount, 1_000);
run('warm-up (stateless)', statelessTopology(), records.slice(0, 20_000));
run('stateless map/filter chain', statelessTopology(), records);
run('windowed count (in-memory stores)', windowedCountTopology(), records);
