// RocksDB store benchmark for 16 B keys and 100 B values: the raw asynchronous store (staged puts,
// single awaited gets, getMany, range scan), the full layer stack the synchronous engine uses
// (Metered(Caching(ChangeLogging(Prefetched(RocksDB)))), one prefetch and one commit per batch of
// 1,000 records), changelog restoration (the target is >= 500,000 records/s) and a
// standby replica following a changelog; then the streams runtime's own path, RocksDB in the
// worker thread: restoration handed over in packed chunks, and the disk-backed stack; last, a
// restore after a kill through TaskState with a broker process holding the changelog (the
// runtime's whole restoration path: fetch, pack, worker, RocksDB). Run with `npx tsx test/bench/stores.bench.ts`.
// Rates are wall-clock on a shared 2-core machine, so restoration also reports CPU microseconds
// per record (all threads), which the machine's load disturbs far less; compare runs, not values.
// `npx tsx test/bench/stores.bench.ts restore` measures restoration alone, `... kill` the restore after a kill alone,
// `... tasks` four tasks restored after a kill, task after task and all together through one restorer,
// through write batches and in bulk (a RocksDB log replayed by the open; modes `sequential-bulk`, `together-bulk`);
// `... tasks updates` the same with every key written ten times (a count's changelog before compaction).
// BENCH_RECORDS sets the restoration scenarios' record count (default 500,000; a multiple of 40,000).
// With PERF_CTL naming a `perf record --control fifo:...` FIFO, the tasks scenario enables perf only
// while its clock runs, so `perf record -D -1` measures restoration alone, thread by thread.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import RocksDB from 'rocksdb-native';
import { Serdes } from '../../core/serdes/serde.ts';
import type { ChangelogRecord, StateStoreContext } from '../../core/topology/processor.ts';
import { buildKeyValueStore } from '../../state/stores/builders.ts';
import { renderRestoreProgress } from '../../state/stores/progress-bar.ts';
import { RocksDbMemoryBudget } from '../../state/stores/rocksdb/budget.ts';
import type { RocksDbKeyValueStore } from '../../state/stores/rocksdb/key-value.ts';
import { PrefetchedKeyValueStore } from '../../state/stores/rocksdb/prefetch.ts';
import { restoreChangelog } from '../../state/stores/rocksdb/restore.ts';
import type { ChangelogChunk } from '../../state/stores/rocksdb/restore.ts';
import { StandbyUpdater } from '../../state/stores/rocksdb/standby.ts';
import { RocksDbTask } from '../../state/stores/rocksdb/task.ts';
import { DiskBackedBytesStore } from '../../state/stores/rocksdb/disk-backed.ts';
import { RemoteRocksDbTask } from '../../state/stores/rocksdb/worker/client.ts';
import { Admin, Consumer, Producer } from '../../runtime/client/index.ts';
import { restoreIntoRocksDb } from '../../runtime/streams/app/active-task.ts';
import { ChangelogRestorer, endOffsets, readChangelogs } from '../../runtime/streams/app/changelog-reader.ts';
import { restoreConsumerFetch } from '../../runtime/streams/app/clients.ts';
import { STREAMS_APP_LIMITS } from '../../runtime/streams/app/limits.ts';
import { TaskState } from '../../runtime/streams/app/task-state.ts';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';
import { processCpuSeconds, threadCpuSeconds } from '../helpers/process-cpu.ts';

const PUTS = 300_000;
const SINGLE_GETS = 20_000;
const MANY_GETS = 200_000;
const GET_MANY_SIZE = 1_000;
const STACK_RECORDS = 200_000;
const STACK_BATCH = 1_000;
const RESTORE_RECORDS = Number(process.env['BENCH_RECORDS'] ?? 500_000);
const CHUNK_RECORDS = 10_000;
const VALUE = Buffer.alloc(100, 0x76);

/** Keys spread over the key space in a scrambled order, as hashed user ids would be. */
function keyOf(index: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(Math.imul(index, 2654435761) >>> 0, 0);
  key.writeUInt32BE(index, 4);
  return key;
}

function secondsSince(startedNs: bigint): number {
  return Number(process.hrtime.bigint() - startedNs) / 1e9;
}

function rate(count: number, startedNs: bigint): string {
  const seconds = secondsSince(startedNs);
  return `${Math.round(count / seconds).toLocaleString('en-US')}/s (${count.toLocaleString('en-US')} in ${seconds.toFixed(2)} s)`;
}

function cpuMicrosPerRecord(since: NodeJS.CpuUsage, count: number): string {
  const used = process.cpuUsage(since);
  return `${((used.user + used.system) / count).toFixed(2)} us CPU/record`;
}

/**
 * CPU microseconds per record of each kind of thread since `before`: the main thread, RocksDB's
 * flush (rocksdb:high) and compaction (rocksdb:low) threads, the threads started after
 * `known` was listed (the RocksDB worker thread, its JavaScript and the binding's calls), and
 * the other threads of the process (libuv's pool, where the binding's writes insert into the
 * memtables, and V8's helpers). /proc counts in 10 ms ticks, so runs of a few seconds at least.
 */
function threadSplit(before: Map<number, { seconds: number }>, known: ReadonlySet<number>, count: number): string {
  const sums = new Map<string, number>();
  for (const [tid, thread] of threadCpuSeconds()) {
    const used = thread.seconds - (before.get(tid)?.seconds ?? 0);
    const kind = tid === process.pid ? 'main' : thread.name.startsWith('rocksdb:') ? thread.name : known.has(tid) ? 'pool+v8' : 'worker';
    sums.set(kind, (sums.get(kind) ?? 0) + used);
  }
  return [...sums].sort().map(([kind, seconds]) => `${kind} ${((seconds * 1e6) / count).toFixed(2)}`).join(', ');
}

/** Resolves once RocksDB's background threads have used no CPU for a second. */
async function rocksDbThreadsIdle(): Promise<void> {
  const busy = (): number => [...threadCpuSeconds().values()].filter((thread) => thread.name.startsWith('rocksdb:')).reduce((sum, thread) => sum + thread.seconds, 0);
  let last = busy();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = busy();
    if (now === last) return;
    last = now;
  }
}

async function rawStore(store: RocksDbKeyValueStore): Promise<void> {
  let started = process.hrtime.bigint();
  for (let index = 0; index < PUTS; index++) store.put(keyOf(index), VALUE);
  await store.writeStaged();
  console.log(`raw staged puts, batched:          ${rate(PUTS, started)}`);
  await store.flush();
  started = process.hrtime.bigint();
  for (let index = 0; index < SINGLE_GETS; index++) await store.get(keyOf((index * 7919) % PUTS));
  console.log(`raw single awaited gets:           ${rate(SINGLE_GETS, started)}`);
  started = process.hrtime.bigint();
  for (let offset = 0; offset < MANY_GETS; offset += GET_MANY_SIZE) {
    await store.getMany(Array.from({ length: GET_MANY_SIZE }, (_, index) => keyOf(((offset + index) * 7919) % PUTS)));
  }
  console.log(`raw getMany (${GET_MANY_SIZE} keys per call):      ${rate(MANY_GETS, started)}`);
  started = process.hrtime.bigint();
  let scanned = 0;
  for await (const _entry of store.entries(null, null)) scanned++;
  console.log(`raw range scan (all entries):      ${rate(scanned, started)}`);
}

/** A count aggregation's access pattern through every layer: prefetch a batch, read-modify-write, commit. */
async function fullStack(store: RocksDbKeyValueStore): Promise<void> {
  const prefetched = new PrefetchedKeyValueStore('stack', store);
  const stack = buildKeyValueStore({ name: 'stack', logging: true, caching: true, supplier: () => prefetched }, Serdes.bytes(), Serdes.bytes());
  let changelogRecords = 0;
  const context: StateStoreContext = {
    applicationId: 'bench',
    taskId: '0_0',
    partition: 0,
    changelogTopic: 'bench-stack-changelog',
    changelogWriter: { send: () => void changelogRecords++ },
    recordTimestampMs: () => 0,
  };
  stack.init(context);
  const started = process.hrtime.bigint();
  await countThroughStack(stack, (batch) => prefetched.prefetch(batch), () => prefetched.commit());
  console.log(`full stack get+put, commit/1000:   ${rate(STACK_RECORDS, started)}; ${changelogRecords.toLocaleString('en-US')} changelog records`);
  await prefetched.prefetchRange(null, null);
  const rangeStarted = process.hrtime.bigint();
  const entries = stack.all().length;
  console.log(`full stack all() (prefetched):     ${rate(entries, rangeStarted)}`);
}

/**
 * The per-batch loop both stacks run: STACK_RECORDS updates over a quarter as many keys, in
 * batches of STACK_BATCH: prefetch the batch's keys, get and put each (a count in the first
 * byte), flush the cache, commit.
 */
async function countThroughStack(
  stack: { get(key: Uint8Array): Uint8Array | null | undefined; put(key: Uint8Array, value: Uint8Array): void; flush(): void },
  prefetch: (keys: Uint8Array[]) => Promise<unknown>,
  commit: () => Promise<unknown>,
): Promise<void> {
  const keys = Array.from({ length: STACK_RECORDS }, (_, index) => keyOf(index % (STACK_RECORDS / 4)));
  for (let offset = 0; offset < STACK_RECORDS; offset += STACK_BATCH) {
    const batch = keys.slice(offset, offset + STACK_BATCH);
    await prefetch(batch);
    for (const key of batch) {
      const count = stack.get(key)?.[0] ?? 0;
      const value = new Uint8Array(VALUE);
      value[0] = (count + 1) & 0xff;
      stack.put(key, value);
    }
    stack.flush();
    await commit();
  }
}

function benchContext(onChangelog: () => void): StateStoreContext {
  return { applicationId: 'bench', taskId: '0_0', partition: 0, changelogTopic: 'bench-changelog', changelogWriter: { send: onChangelog }, recordTimestampMs: () => 0 };
}

/**
 * The streams runtime's path: Metered(Caching(ChangeLogging(DiskBacked))) over RocksDB in the
 * worker thread; per batch of 1,000 records one prefetch, get+put each, flush and commit.
 */
async function workerStack(remote: RemoteRocksDbTask): Promise<void> {
  const disk = new DiskBackedBytesStore('stack', remote.store('stack'));
  const stack = buildKeyValueStore({ name: 'stack', logging: true, caching: true, supplier: () => disk }, Serdes.bytes(), Serdes.bytes());
  let changelogRecords = 0;
  stack.init(benchContext(() => void changelogRecords++));
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  await countThroughStack(stack, (batch) => disk.prefetch(batch), () => remote.commit());
  console.log(`worker stack get+put, commit/1000: ${rate(STACK_RECORDS, started)}, ${cpuMicrosPerRecord(cpuStarted, STACK_RECORDS)}; ${disk.reads.waited} reads waited, ${disk.reads.cached.toLocaleString('en-US')} cached`);
  const syncStarted = process.hrtime.bigint();
  const missCount = 2_000;
  const fresh = new DiskBackedBytesStore('stack', remote.store('stack'));
  for (let index = 0; index < missCount; index++) fresh.get(keyOf((index * 7919) % (STACK_RECORDS / 4)));
  console.log(`worker synchronous reads (misses): ${rate(missCount, syncStarted)}`);
  const rangeStarted = process.hrtime.bigint();
  const entries = stack.all().length;
  console.log(`worker stack all() (one range):    ${rate(entries, rangeStarted)}`);
}

/**
 * The streams runtime's restoration: each fetched chunk packed into one buffer and handed to the
 * worker, which writes it while the next is decoded, with at most five chunks in flight beyond a
 * barrier (TaskState.stageRestored).
 */
async function workerRestoration(remote: RemoteRocksDbTask, chunks: readonly ChangelogChunk[]): Promise<void> {
  const store = remote.store('restored');
  const cpuStarted = process.cpuUsage();
  const loopStarted = performance.eventLoopUtilization();
  const started = process.hrtime.bigint();
  let barrier: Promise<void> = Promise.resolve();
  let sinceBarrier = 0;
  for (const chunk of chunks) {
    store.apply(chunk.records);
    sinceBarrier += chunk.records.length;
    if (sinceBarrier < CHUNK_RECORDS * 5) continue;
    sinceBarrier = 0;
    await barrier;
    barrier = remote.commit();
  }
  await barrier;
  await remote.commit();
  // The main thread's share: what restoration costs the thread that also decodes fetches.
  const mainMicros = (performance.eventLoopUtilization(loopStarted).active * 1000) / RESTORE_RECORDS;
  console.log(`worker restoration (100 B values): ${rate(RESTORE_RECORDS, started)}, ${cpuMicrosPerRecord(cpuStarted, RESTORE_RECORDS)} (both threads), main thread ${mainMicros.toFixed(2)} us/record; target >= 500,000/s`);
}

function changelogChunks(): ChangelogChunk[] {
  // Keys are views into one buffer, the way a decoded fetch response hands them over; records
  // are built before any clock starts.
  const keyBytes = Buffer.alloc(RESTORE_RECORDS * 16);
  const chunks: ChangelogChunk[] = [];
  for (let offset = 0; offset < RESTORE_RECORDS; offset += CHUNK_RECORDS) {
    const records: ChangelogRecord[] = [];
    for (let index = offset; index < offset + CHUNK_RECORDS; index++) {
      keyOf(index).copy(keyBytes, index * 16);
      records.push({ key: keyBytes.subarray(index * 16, index * 16 + 16), value: VALUE });
    }
    chunks.push({ records, nextOffset: BigInt(offset + CHUNK_RECORDS) });
  }
  return chunks;
}

async function restoration(task: RocksDbTask, chunks: readonly ChangelogChunk[]): Promise<number> {
  const store = task.store('restored');
  let batches = 0;
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  const progress = await restoreChangelog(store, chunks, {
    startingOffset: 0n,
    endingOffset: BigInt(RESTORE_RECORDS),
    topicPartition: { topic: 'bench-restored-changelog', partition: 0 },
    storeName: 'restored',
    listener: { onBatchRestored: () => void batches++ },
  });
  await store.writeStaged();
  const seconds = secondsSince(started);
  console.log(`restoration (100 B values):        ${rate(progress.restored, started)}, ${cpuMicrosPerRecord(cpuStarted, progress.restored)}, ${batches} batches; target >= 500,000/s`);
  console.log(`  ${renderRestoreProgress(progress, { label: 'restored 0_0' })}`);
  return seconds;
}

/** The binding alone, same records and batch size, in its own database: the ceiling for restoration. */
async function rawBinding(path: string, chunks: readonly ChangelogChunk[], restoreSeconds: number): Promise<void> {
  const database = new RocksDB(path);
  await database.ready();
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let index = 0; index < chunks.length; index += 2) {
    const records = [...(chunks[index]?.records ?? []), ...(chunks[index + 1]?.records ?? [])];
    const batch = database.write({ capacity: records.length, autoDestroy: true });
    for (const record of records) batch.tryPut(record.key, record.value ?? VALUE);
    await batch.flush();
  }
  const seconds = secondsSince(started);
  console.log(`raw rocksdb-native write batches:  ${rate(RESTORE_RECORDS, started)}, ${cpuMicrosPerRecord(cpuStarted, RESTORE_RECORDS)}; restoration runs at ${(seconds / restoreSeconds).toFixed(2)}x the binding`);
  await database.close();
}

async function standby(task: RocksDbTask, chunks: readonly ChangelogChunk[]): Promise<void> {
  const updater = new StandbyUpdater({ topicPartition: { topic: 'bench-standby-changelog', partition: 0 }, storeName: 'standby', target: task.store('standby'), startingOffset: 0n });
  const cpuStarted = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (const [index, chunk] of chunks.entries()) {
    await updater.apply(chunk);
    // A commit every ten fetches, as a commit interval would.
    if (index % 10 === 9) await updater.commit();
  }
  const offset = await updater.commit();
  console.log(`standby updater, commit/100,000:   ${rate(updater.recordsAppliedCount, started)}, ${cpuMicrosPerRecord(cpuStarted, updater.recordsAppliedCount)}; checkpoint offset ${offset.offset}`);
}

/**
 * A broker process holding a compacted changelog of RESTORE_RECORDS records (16 B keys, 100 B
 * values) spread evenly over `partitions` partitions, in CHUNK_RECORDS sends; each partition's
 * keys are distinct, or with keysPerPartition that many keys written in turn (not compacted yet:
 * the log cleaner leaves the active segment alone).
 */
async function changelogBroker(topic: string, partitions: number, keysPerPartition = RESTORE_RECORDS): Promise<BrokerProcess> {
  const broker = await startBroker();
  const perPartition = RESTORE_RECORDS / partitions;
  try {
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    await admin.createTopics([{ topic, numPartitions: partitions, configs: { 'cleanup.policy': 'compact' } }]);
    await admin.close();
    const producer = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 5, batchSize: 512 * 1024 });
    for (let partition = 0; partition < partitions; partition++) {
      for (let offset = 0; offset < perPartition; offset += CHUNK_RECORDS) {
        const messages = Array.from({ length: Math.min(CHUNK_RECORDS, perPartition - offset) }, (_, index) => ({ key: keyOf(partition * perPartition + ((offset + index) % keysPerPartition)), value: VALUE, partition }));
        await producer.send({ topic, messages });
      }
    }
    await producer.close();
    return broker;
  } catch (error) {
    await broker.stop();
    await cleanup();
    throw error;
  }
}

/** A restore consumer configured as StreamsApp configures its own. */
function restoreConsumer(broker: BrokerProcess, clientId: string): Consumer {
  return new Consumer({ bootstrapServers: broker.bootstrap, clientId, autoCommit: false, autoOffsetReset: 'earliest', maxPollRecords: STREAMS_APP_LIMITS.restoreBatchRecords, isolationLevel: 'read_uncommitted', ...restoreConsumerFetch });
}

/**
 * Restore after a kill, through the streams runtime's real path: a broker process holds a
 * changelog of RESTORE_RECORDS records (16 B keys, 100 B values); a task whose local state is
 * gone opens its TaskState (no checkpoint: a full restore), reads the changelog with a restore
 * consumer configured as StreamsApp's and writes it into RocksDB in the worker, then
 * checkpoints, as ActiveTask.create does. Runs the path of each name in `paths` back to back:
 * `objects` (a ChangelogRecord per record, packed per chunk: the path before packed reads) and
 * `packed` (restoreIntoRocksDb). The broker's CPU is reported apart.
 */
async function restoreAfterKill(directory: string, paths: readonly string[]): Promise<void> {
  const topic = 'bench-app-restored-changelog';
  const broker = await changelogBroker(topic, 1);
  try {
    const store = { storeName: 'restored', changelogTopic: topic, kind: 'key-value' as const, retentionMs: null };
    for (const [round, name] of paths.entries()) {
      const consumer = restoreConsumer(broker, `bench-restore-${round}`);
      try {
        const ends = await endOffsets(consumer, [{ topic, partition: 0 }]);
        const state = await TaskState.open({
          directory: join(directory, `restore-after-kill-${round}`), partition: 0, stores: [store], persistent: true, exactlyOnce: false,
          changelogEnds: new Map([[topic, ends.get(`${topic}\u0000${0}`) ?? 0n]]), log: () => undefined, bulkRestore: name === 'bulk',
        });
        try {
          const ranges = [{ topic, partition: 0, from: state.restoreFrom(topic) }];
          let restored = 0;
          const brokerCpu = processCpuSeconds(broker.process.pid as number);
          const cpuStarted = process.cpuUsage();
          const loopStarted = performance.eventLoopUtilization();
          const started = process.hrtime.bigint();
          const reached = name === 'objects'
            ? await readChangelogs(consumer, ranges, async (changelog, _partition, records) => {
              restored += records.length;
              await state.stageRestored(changelog, records);
            })
            : await restoreIntoRocksDb(consumer, state, ranges, (count) => void (restored += count));
          const through = await state.restoredWritten();
          if (through !== (name === 'bulk' ? 'bulk' : 'batches')) throw new Error(`the ${name} path restored through ${through}`);
          await state.checkpoint(new Map([[topic, reached.get(`${topic}\u0000${0}`) ?? 0n]]));
          const line = `restore after a kill (${name}, broker): ${rate(restored, started)}, ${cpuMicrosPerRecord(cpuStarted, restored)} (main + worker)`;
          const mainMicros = (performance.eventLoopUtilization(loopStarted).active * 1000) / restored;
          const brokerMicros = ((processCpuSeconds(broker.process.pid as number) - brokerCpu) * 1e6) / restored;
          console.log(`${line}, main thread ${mainMicros.toFixed(2)} us/record, broker ${brokerMicros.toFixed(2)} us/record; target >= 500,000/s`);
          // Checked after the clocks stop: every key is in RocksDB.
          const entries = await state.localEntries('restored');
          if (entries !== RESTORE_RECORDS) throw new Error(`restored ${entries} entries, expected ${RESTORE_RECORDS}`);
        } finally {
          await state.close();
        }
      } finally {
        await consumer.close();
      }
    }
  } finally {
    await broker.stop();
    await cleanup();
  }
}

const TASKS = 4;
/** Times each key is written in the `updates` form of the tasks scenario. */
const UPDATES_PER_KEY = 10;

/** Tells a perf control FIFO named by PERF_CTL to start or stop counting (see the header). */
function perfControl(command: 'enable' | 'disable'): void {
  const fifo = process.env.PERF_CTL;
  if (fifo !== undefined) writeFileSync(fifo, `${command}\n`);
}

/**
 * Restore after a kill of an instance with TASKS tasks (one key-value store each, RESTORE_RECORDS
 * records spread over TASKS changelog partitions), as StreamsApp creates them after the rebalance:
 * `sequential` restores task after task (the runtime before ChangelogRestorer), `together` starts
 * every task's restoration at once through one restorer, as the runtime does now. Same restore
 * consumer settings, same broker, run back to back; the clock runs from the first restore call to
 * the last task's checkpoint. Returns the last run's seconds. With updatesPerKey above 1 each
 * partition's changelog writes each of its keys that many times, so a task ends with fewer keys.
 */
async function restoreTasksAfterKill(directory: string, modes: readonly string[], updatesPerKey = 1): Promise<number> {
  const topic = 'bench-app-tasks-changelog';
  const perTask = RESTORE_RECORDS / TASKS / updatesPerKey;
  const broker = await changelogBroker(topic, TASKS, perTask);
  // Threads known before the RocksDB worker starts (libuv's pool has started by now: the broker's
  // start read files), so the split can tell the worker thread from them.
  const known = new Set(threadCpuSeconds().keys());
  let lastSeconds = 0;
  try {
    const store = { storeName: 'restored', changelogTopic: topic, kind: 'key-value' as const, retentionMs: null };
    for (const [round, mode] of modes.entries()) {
      const bulk = mode.endsWith('-bulk');
      const consumer = restoreConsumer(broker, `bench-tasks-${round}`);
      const restorer = new ChangelogRestorer(consumer);
      const states: TaskState[] = [];
      try {
        const ends = await endOffsets(consumer, Array.from({ length: TASKS }, (_, partition) => ({ topic, partition })));
        for (let partition = 0; partition < TASKS; partition++) {
          states.push(await TaskState.open({
            directory: join(directory, `tasks-after-kill-${round}-${partition}`), partition, stores: [store], persistent: true, exactlyOnce: false,
            changelogEnds: new Map([[topic, ends.get(`${topic}\u0000${partition}`) ?? 0n]]), log: () => undefined, bulkRestore: bulk,
          }));
        }
        let restored = 0;
        const restoreTask = async (state: TaskState, partition: number): Promise<void> => {
          const reached = await restoreIntoRocksDb(restorer, state, [{ topic, partition, from: state.restoreFrom(topic) }], (count) => void (restored += count));
          const through = await state.restoredWritten();
          if (through !== (bulk ? 'bulk' : 'batches')) throw new Error(`the ${mode} restore went through ${through}`);
          await state.checkpoint(new Map([[topic, reached.get(`${topic}\u0000${partition}`) ?? 0n]]));
        };
        const brokerCpu = processCpuSeconds(broker.process.pid as number);
        perfControl('enable');
        const cpuStarted = process.cpuUsage();
        const threadsStarted = threadCpuSeconds();
        const loopStarted = performance.eventLoopUtilization();
        const started = process.hrtime.bigint();
        if (mode.startsWith('together')) await Promise.all(states.map((state, partition) => restoreTask(state, partition)));
        else for (const [partition, state] of states.entries()) await restoreTask(state, partition);
        perfControl('disable');
        lastSeconds = secondsSince(started);
        const mainMicros = (performance.eventLoopUtilization(loopStarted).active * 1000) / restored;
        const brokerMicros = ((processCpuSeconds(broker.process.pid as number) - brokerCpu) * 1e6) / restored;
        const keys = updatesPerKey === 1 ? '' : `, each key ${updatesPerKey} times`;
        console.log(`restore ${TASKS} tasks after a kill (${mode}${keys}, broker): ${rate(restored, started)}, ${cpuMicrosPerRecord(cpuStarted, restored)} (main + worker), main thread busy ${mainMicros.toFixed(2)} us/record, broker ${brokerMicros.toFixed(2)} us/record; load ${loadavg()[0]?.toFixed(1)}`);
        console.log(`  CPU us/record by thread at the restore's end: ${threadSplit(threadsStarted, known, restored)}`);
        // Flushes and compactions the restore left behind run on: wait until RocksDB's threads rest.
        await rocksDbThreadsIdle();
        console.log(`  CPU us/record by thread once RocksDB's threads rest: ${threadSplit(threadsStarted, known, restored)}`);
        for (const state of states) {
          const entries = await state.localEntries('restored');
          if (entries !== perTask) throw new Error(`a task restored ${entries} entries, expected ${perTask}`);
        }
      } finally {
        for (const state of states) await state.close();
        await consumer.close();
      }
    }
  } finally {
    await broker.stop();
    await cleanup();
  }
  return lastSeconds;
}

async function main(): Promise<void> {
  console.log(`load average ${loadavg().map((load) => load.toFixed(1)).join(' ')} on ${cpus().length} cores`);
  const directory = mkdtempSync(join(tmpdir(), 'runnel-stores-bench-'));
  const budget = new RocksDbMemoryBudget({ writeBufferBytesTotal: 512 * 1024 * 1024, columnFamiliesMax: 8 });
  const task = await RocksDbTask.open({ taskDirectory: directory, storeNames: ['table', 'stack', 'restored', 'standby'], budget });
  // `restore` as an argument runs restoration and the raw binding only, for a quick measurement;
  // `kill` runs only the restore after a kill, with a broker (`kill objects packed bulk` picks paths).
  const restoreOnly = process.argv.includes('restore');
  if (process.argv.includes('tasks')) {
    const named = process.argv.filter((argument) => /^(sequential|together)(-bulk)?$/.test(argument));
    try {
      const seconds = await restoreTasksAfterKill(directory, named.length > 0 ? named : ['sequential', 'together', 'sequential-bulk', 'together-bulk'], process.argv.includes('updates') ? UPDATES_PER_KEY : 1);
      // The binding alone on the same machine right after, the ceiling the restore is compared with.
      await rawBinding(join(directory, 'raw'), changelogChunks(), seconds);
    } finally {
      await task.close();
      rmSync(directory, { recursive: true, force: true });
    }
    return;
  }
  if (process.argv.includes('kill')) {
    const named = process.argv.filter((argument) => argument === 'objects' || argument === 'packed' || argument === 'bulk');
    try {
      await restoreAfterKill(directory, named.length > 0 ? named : ['objects', 'packed', 'bulk']);
    } finally {
      await task.close();
      rmSync(directory, { recursive: true, force: true });
    }
    return;
  }
  try {
    if (!restoreOnly) await rawStore(task.store('table'));
    if (!restoreOnly) await fullStack(task.store('stack'));
    const chunks = changelogChunks();
    const restoreSeconds = await restoration(task, chunks);
    await rawBinding(join(directory, 'raw'), chunks, restoreSeconds);
    const remote = await RemoteRocksDbTask.open({
      taskDirectory: join(directory, 'worker'),
      stores: [
        { name: 'stack', kind: 'key-value', retentionMs: null },
        { name: 'restored', kind: 'key-value', retentionMs: null },
      ],
    });
    try {
      await workerRestoration(remote, chunks);
      if (!restoreOnly) await workerStack(remote);
    } finally {
      await remote.close();
    }
    if (!restoreOnly) await standby(task, chunks);
    await restoreAfterKill(directory, ['objects', 'packed', 'bulk']);
    await restoreTasksAfterKill(directory, ['sequential', 'together', 'together-bulk']);
    const started = process.hrtime.bigint();
    await task.flush();
    console.log(`memtable flush of all stores:      ${(secondsSince(started) * 1000).toFixed(0)} ms`);
  } finally {
    await task.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
