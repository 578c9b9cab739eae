// Engine overhead: records per second through a StreamTask with no broker, for a stateless
// map/filter chain, windowed counts, a count per key, a reduce and a stream-table join over
// in-memory stores (caching and change logging on, the changelog writer discarding). Input bytes
// are prepared up front; output is discarded. The machine is shared, so each scenario runs a few
// times and reports its best run, by wall time and by CPU time of this process (the CPU rate is
// the steadier figure when other processes compete for the cores).
// Run: npx tsx test/bench/engine.bench.ts [records] [runs]
//
// Measured 2026-11-21 at load ~4 (wall records/s, before the engine work at 9c7b27f -> after):
// stateless 645k -> 2,053k; windowed count 1 record/key/window with JSON keys 70k -> 253k, with
// windowed-serde keys 83k -> 329k; 100 records/key/window 204k -> 827k; count per key 242k ->
// 1,200k; reduce 234k -> 1,093k; stream-table join 343k -> 896k. Where time goes in the window
// case (perf, instructions): young-generation GC ~20% (cache entries live until commit), Map
// lookups ~13%, JSON output keys ~9%, string and typed-array creation ~15%.
import os from 'node:os';
import { Serdes, StreamsBuilder, TimeWindows, windowedSerde, type Topology } from '../../dsl/index.ts';
import type { TopicRecord } from '../../core/topology/record.ts';
import { StreamTask } from '../../runtime/streams/task.ts';

const recordCount = Number(process.argv[2] ?? 300_000);
const runs = Number(process.argv[3] ?? 3);
const strings = Serdes.string();
const COMMIT_EVERY_RECORDS = 10_000;

/**
 * Event times start at a real date: timestamps beyond 2^31 are doubles to V8, not small
 * integers, which changes what every record object costs, so the bench uses the real kind.
 */
const START_MS = Date.UTC(2026, 0, 1);

/** Records keyed key-0..key-(keyCount-1) in turn, timestamps advancing by msPerRecord. */
function prepare(count: number, keyCount: number, msPerRecord = 1): TopicRecord[] {
  const records: TopicRecord[] = [];
  for (let index = 0; index < count; index++) {
    const timestamp = START_MS + Math.floor(index * msPerRecord);
    records.push({ key: strings.serialize(`key-${index % keyCount}`, 'in'), value: strings.serialize(`value-${index}`, 'in'), timestamp, headers: [], partition: 0, offset: BigInt(index) });
  }
  return records;
}

interface Run {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly produced: number;
}

function runOnce(topology: Topology, records: readonly TopicRecord[], setup: readonly { topic: string; records: readonly TopicRecord[] }[]): Run {
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
  for (const { topic, records: setupRecords } of setup) for (const record of setupRecords) task.process(topic, record);
  task.commit();
  produced = 0;
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let index = 0; index < records.length; index++) {
    task.process('in', records[index] as TopicRecord);
    if (index % COMMIT_EVERY_RECORDS === COMMIT_EVERY_RECORDS - 1) task.commit();
  }
  task.commit();
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  task.close();
  return { wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, produced };
}

function run(name: string, topology: () => Topology, records: readonly TopicRecord[], setup: readonly { topic: string; records: readonly TopicRecord[] }[] = []): void {
  const results: Run[] = [];
  for (let attempt = 0; attempt < runs; attempt++) results.push(runOnce(topology(), records, setup));
  const bestWall = Math.min(...results.map((result) => result.wallSeconds));
  const bestCpu = Math.min(...results.map((result) => result.cpuSeconds));
  const rate = (seconds: number): string => Math.round(records.length / seconds).toLocaleString('en-US').padStart(11);
  console.log(`${name.padEnd(44)} ${String(records.length).padStart(8)} records  wall ${rate(bestWall)} records/s  cpu ${rate(bestCpu)} records/s  (${results[0]?.produced ?? 0} out)`);
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

/** The windowed count of the benchmark; output keys as JSON (the original scenario) or windowed bytes. */
function windowedCountTopology(outputKeys: 'json' | 'windowed'): () => Topology {
  return () => {
    const builder = new StreamsBuilder();
    const counts = builder
      .stream('in', { key: strings, value: strings })
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeAndGrace(1_000, 100))
      .count({ name: 'counts' })
      .toStream();
    if (outputKeys === 'json') counts.to('out', { key: Serdes.json(), value: Serdes.long() });
    else counts.to('out', { key: windowedSerde(strings), value: Serdes.long() });
    return builder.build();
  };
}

function countPerKeyTopology(): Topology {
  const builder = new StreamsBuilder();
  builder.stream('in', { key: strings, value: strings }).groupByKey().count({ name: 'counts' }).toStream().to('out', { key: strings, value: Serdes.long() });
  return builder.build();
}

function reduceTopology(): Topology {
  const builder = new StreamsBuilder();
  builder
    .stream('in', { key: strings, value: strings })
    .mapValues((value) => value.length)
    .groupByKey({ value: Serdes.int32() })
    .reduce((total, length) => total + length, { name: 'lengths', value: Serdes.int32() })
    .toStream()
    .to('out', { key: strings, value: Serdes.int32() });
  return builder.build();
}

function streamTableJoinTopology(): Topology {
  const builder = new StreamsBuilder();
  const table = builder.table('table', { key: strings, value: strings }, { name: 'rows' });
  builder
    .stream('in', { key: strings, value: strings })
    .join(table, (value, row) => `${value}/${row}`)
    .to('out', { key: strings, value: strings });
  return builder.build();
}

const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
console.log(`machine: ${cpu}, ${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(1)}, node ${process.version}, best of ${runs} runs`);
const records = prepare(recordCount, 1_000);
const denseRecords = prepare(recordCount, 1_000, 0.1);
const tableRows = prepare(1_000, 1_000).map((record) => ({ ...record, value: strings.serialize('row', 'table') }));
run('warm-up (stateless)', statelessTopology, records.slice(0, 20_000));
run('stateless map/filter chain', statelessTopology, records);
run('windowed count, 1 record/key/window, json', windowedCountTopology('json'), records);
run('windowed count, 1 record/key/window', windowedCountTopology('windowed'), records);
run('windowed count, 100 records/key/window', windowedCountTopology('windowed'), denseRecords);
run('count per key (1,000 keys)', countPerKeyTopology, records);
run('reduce per key (1,000 keys)', reduceTopology, records);
run('stream-table join (1,000 rows)', streamTableJoinTopology, records, [{ topic: 'table', records: tableRows }]);
