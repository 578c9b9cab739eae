// The RocksDB worker thread: it owns every RocksDB database the streams runtime opens in this
// process and answers the main thread's requests (client.ts). The engine's stores are
// synchronous and rocksdb-native answers only with promises on the thread that opened the
// database, so the database lives here: the main thread can then wait for an answer
// (Atomics.wait) when a read misses what it prefetched, while this thread's event loop runs the
// read. Requests are taken in the order they were posted; writes ('apply') are queued on the
// store's write chain at once, and every read waits for the writes queued before it, so a read
// sees every earlier write. Restoration and write batches also run here, beside the main
// thread's decoding, which is what two cores buy. A task opened for a bulk restore (a fresh
// database of key-value stores, bulk-restore.ts) has its writes go to a RocksDB log file until
// 'finishRestore' opens the database over it.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import { suffixNumber, withSuffix } from '../../bytes.ts';
import { configureSharedRocksDbBudget, sharedRocksDbBudget } from '../budget.ts';
import { BulkRestore } from '../bulk-restore.ts';
import type { RocksDbKeyValueStore } from '../key-value.ts';
import { defaultSegmentIntervalMs, type SegmentOptions } from '../segments.ts';
import { RocksDbSessionStore } from '../session.ts';
import { RocksDbTask } from '../task.ts';
import { RocksDbWindowStore } from '../window.ts';
import { packRecords, unpackRecords, type RestoredThrough, type StoreSpec, type WorkerReply, type WorkerRequest } from './protocol.ts';

/** One store as the worker serves it, in the engine's key layout. */
interface HostStore {
  /** Queues a packed write batch (protocol.ts) after every earlier write. */
  applyPacked(packed: ArrayBuffer): void;
  /** Every entry of each group: a key-value store's key, a window or session store's record key. */
  loadGroups(groupKeys: readonly Uint8Array[]): Promise<ChangelogRecord[]>;
  /** Entries with from <= key <= to in byte order; null bounds are open. */
  range(from: Uint8Array | null, to: Uint8Array | null): Promise<ChangelogRecord[]>;
  /** The first limit entries of the store, in byte order. */
  first(limit: number): Promise<ChangelogRecord[]>;
  /** Entries stored, counted exactly (a scan). */
  count(): Promise<number>;
  /** Largest window start or session end stored, -1 for key-value stores. */
  streamTimeMs(): number;
  commit(): Promise<void>;
}

const WINDOW_SUFFIX_BYTES = 12;
const SESSION_SUFFIX_BYTES = 16;
const TIME_MAX = Number.MAX_SAFE_INTEGER;

class WriteFailures {
  failure: unknown = null;
  keep(promise: Promise<void>): void {
    promise.catch((error: unknown) => {
      this.failure ??= error;
    });
  }
  throwIfFailed(name: string): void {
    if (this.failure === null) return;
    const failure = this.failure;
    this.failure = null;
    throw new Error(`store ${name}: a RocksDB write batch failed`, { cause: failure });
  }
}

function keyValueStore(name: string, inner: RocksDbKeyValueStore): HostStore {
  const failures = new WriteFailures();
  return {
    applyPacked: (packed) => failures.keep(inner.applyPacked(packed)),
    loadGroups: async (keys) => {
      await inner.writeStaged();
      const values = await inner.getMany(keys);
      const found: ChangelogRecord[] = [];
      for (let index = 0; index < keys.length; index++) {
        const value = values[index] ?? null;
        if (value !== null) found.push({ key: keys[index] as Uint8Array, value });
      }
      return found;
    },
    range: async (from, to) => (await inner.range(from, to)).map((entry) => ({ key: entry.key, value: entry.value })),
    first: async (limit) => {
      const found: ChangelogRecord[] = [];
      for await (const entry of inner.entries(null, null)) {
        if (found.length >= limit) break;
        found.push({ key: entry.key, value: entry.value });
      }
      return found;
    },
    count: async () => {
      let count = 0;
      for await (const _entry of inner.entries(null, null)) count++;
      return count;
    },
    streamTimeMs: () => -1,
    commit: async () => {
      await inner.writeStaged();
      failures.throwIfFailed(name);
    },
  };
}

/** Bounds on the same record key (a group), so the segmented store can read one key's range. */
function sameGroup(from: Uint8Array | null, to: Uint8Array | null, suffixBytes: number): Uint8Array | null {
  if (from === null || to === null || from.byteLength !== to.byteLength || from.byteLength < suffixBytes) return null;
  const length = from.byteLength - suffixBytes;
  if (Buffer.compare(from.subarray(0, length), to.subarray(0, length)) !== 0) return null;
  return from.subarray(0, length);
}

function within(records: ChangelogRecord[], from: Uint8Array | null, to: Uint8Array | null): ChangelogRecord[] {
  return records
    .filter((record) => (from === null || Buffer.compare(record.key, from) >= 0) && (to === null || Buffer.compare(record.key, to) <= 0))
    .sort((left, right) => Buffer.compare(left.key, right.key));
}

/**
 * Kafka Streams' segment interval, max(retention / 2, 60 s), but never above the retention
 * period: a store kept only ten seconds (a window without grace) gets segments of ten seconds.
 */
function segmentOptions(spec: StoreSpec): SegmentOptions {
  const retentionMs = Math.max(1, spec.retentionMs ?? TIME_MAX);
  return { retentionMs, segmentIntervalMs: Math.min(defaultSegmentIntervalMs(retentionMs), retentionMs) };
}

function windowStore(spec: StoreSpec, inner: RocksDbKeyValueStore): HostStore & { init(): Promise<void> } {
  const store = new RocksDbWindowStore(spec.name, inner, segmentOptions(spec));
  const failures = new WriteFailures();
  const encode = (entries: { key: Uint8Array; windowStartMs: number; sequence: number; value: Uint8Array }[]): ChangelogRecord[] =>
    entries.map((entry) => ({ key: withSuffix(entry.key, [entry.windowStartMs], entry.sequence), value: entry.value }));
  return {
    init: () => store.init(),
    applyPacked: (packed) => failures.keep(store.applyPacked(packed)),
    loadGroups: async (keys) => {
      const found: ChangelogRecord[] = [];
      for (const key of keys) for (const record of encode(await store.fetchRange(key, 0, TIME_MAX))) found.push(record);
      return found;
    },
    range: async (from, to) => {
      const group = sameGroup(from, to, WINDOW_SUFFIX_BYTES);
      if (group === null) return within(encode(await store.all()), from, to);
      const fromMs = suffixNumber(from as Uint8Array, WINDOW_SUFFIX_BYTES, 0);
      const toMs = suffixNumber(to as Uint8Array, WINDOW_SUFFIX_BYTES, 0);
      return within(encode(await store.fetchRange(group, fromMs, toMs)), from, to);
    },
    first: async (limit) => within(encode(await store.all()), null, null).slice(0, limit),
    count: async () => (await store.all()).length,
    streamTimeMs: () => store.streamTimeMs,
    commit: async () => {
      await store.commit();
      failures.throwIfFailed(spec.name);
    },
  };
}

function sessionStore(spec: StoreSpec, inner: RocksDbKeyValueStore): HostStore & { init(): Promise<void> } {
  const store = new RocksDbSessionStore(spec.name, inner, segmentOptions(spec));
  const failures = new WriteFailures();
  const encode = (sessions: { key: Uint8Array; startMs: number; endMs: number; value: Uint8Array }[]): ChangelogRecord[] =>
    sessions.map((session) => ({ key: withSuffix(session.key, [session.endMs, session.startMs], null), value: session.value }));
  return {
    init: () => store.init(),
    applyPacked: (packed) => failures.keep(store.applyPacked(packed)),
    loadGroups: async (keys) => {
      const found: ChangelogRecord[] = [];
      for (const key of keys) for (const record of encode(await store.fetch(key))) found.push(record);
      return found;
    },
    range: async (from, to) => {
      const group = sameGroup(from, to, SESSION_SUFFIX_BYTES);
      if (group === null) return within(encode(await store.findSessionsEndingWithin(0, TIME_MAX)), from, to);
      return within(encode(await store.findSessions(group, suffixNumber(from as Uint8Array, SESSION_SUFFIX_BYTES, 0), TIME_MAX)), from, to);
    },
    first: async (limit) => within(encode(await store.findSessionsEndingWithin(0, TIME_MAX)), null, null).slice(0, limit),
    count: async () => (await store.findSessionsEndingWithin(0, TIME_MAX)).length,
    streamTimeMs: () => store.streamTimeMs,
    commit: async () => {
      await store.commit();
      failures.throwIfFailed(spec.name);
    },
  };
}

interface OpenTask {
  readonly rocksdb: RocksDbTask;
  readonly stores: Map<string, HostStore>;
}

type OpenRequest = Extract<WorkerRequest, { op: 'open' }>;

/** A task whose restoration writes a RocksDB log (bulk-restore.ts); its database is closed. */
interface RestoringTask {
  readonly bulk: BulkRestore;
  readonly request: OpenRequest;
  readonly stores: Map<string, HostStore>;
}

const tasks = new Map<number, OpenTask>();
const restoring = new Map<number, RestoringTask>();

/** A store of a task being bulk restored: it takes writes and nothing else. */
function bulkStore(name: string, bulk: BulkRestore): HostStore {
  const unavailable = (): never => {
    throw new Error(`store ${name} is being restored; it answers reads once restoration ends`);
  };
  return {
    applyPacked: (packed) => bulk.applyPacked(name, packed),
    loadGroups: async () => unavailable(),
    range: async () => unavailable(),
    first: async () => unavailable(),
    // The database is new: nothing is in it until the log is replayed.
    count: async () => 0,
    streamTimeMs: () => -1,
    commit: () => bulk.drain(),
  };
}

async function openTask(request: OpenRequest): Promise<void> {
  if (tasks.has(request.task) || restoring.has(request.task)) throw new Error(`task ${request.task} is already open in the RocksDB worker`);
  if (request.budget !== null && sharedRocksDbBudget().inUse === 0) configureSharedRocksDbBudget(request.budget);
  if (request.bulkRestore && request.stores.every((store) => store.kind === 'key-value')) {
    const bulk = await BulkRestore.begin(taskOptions(request));
    if (bulk !== null) {
      restoring.set(request.task, { bulk, request, stores: new Map(request.stores.map((store) => [store.name, bulkStore(store.name, bulk)])) });
      return;
    }
  }
  await serveTask(request, await RocksDbTask.open(taskOptions(request)));
}

/** The database of an open request: the task directory and the stores as column families. */
function taskOptions(request: OpenRequest): { taskDirectory: string; storeNames: string[] } {
  return { taskDirectory: request.taskDirectory, storeNames: request.stores.map((store) => store.name) };
}

/** Builds the stores of an open database and serves them; closes the database if that fails. */
async function serveTask(request: OpenRequest, rocksdb: RocksDbTask): Promise<void> {
  const stores = new Map<string, HostStore>();
  try {
    for (const spec of request.stores) {
      const inner = rocksdb.store(spec.name);
      if (spec.kind === 'key-value') {
        stores.set(spec.name, keyValueStore(spec.name, inner));
        continue;
      }
      const store = spec.kind === 'window' ? windowStore(spec, inner) : sessionStore(spec, inner);
      await store.init();
      stores.set(spec.name, store);
    }
  } catch (error) {
    await rocksdb.close();
    throw error;
  }
  tasks.set(request.task, { rocksdb, stores });
}

/**
 * Ends a bulk restore: the database opens over the log. 'failed' when the log did not check
 * out: the database was wiped and opened empty, and the changelog must be restored again.
 */
async function finishRestore(task: number): Promise<RestoredThrough> {
  const entry = restoring.get(task);
  if (entry === undefined) return 'batches';
  restoring.delete(task);
  let rocksdb: RocksDbTask | null;
  try {
    rocksdb = await entry.bulk.finish();
  } catch (error) {
    await entry.bulk.abort();
    throw error;
  }
  const verified = rocksdb !== null;
  rocksdb ??= await RocksDbTask.open(taskOptions(entry.request));
  await serveTask(entry.request, rocksdb);
  return verified ? 'bulk' : 'failed';
}

function storeOf(task: number, name: string): HostStore {
  const store = (tasks.get(task) ?? restoring.get(task))?.stores.get(name);
  if (store === undefined) throw new Error(`no store ${name} in task ${task} of the RocksDB worker`);
  return store;
}

async function answer(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'open':
      return openTask(request);
    case 'apply':
      storeOf(request.task, request.store).applyPacked(request.batch);
      return undefined;
    case 'loadGroups':
      return packRecords(await storeOf(request.task, request.store).loadGroups(unpackRecords(request.keys).map((record) => record.key)));
    case 'range': {
      const store = storeOf(request.task, request.store);
      return packRecords(request.limit === null ? await store.range(request.from, request.to) : await store.first(request.limit));
    }
    case 'count':
      return storeOf(request.task, request.store).count();
    case 'streamTime':
      return storeOf(request.task, request.store).streamTimeMs();
    case 'finishRestore':
      return finishRestore(request.task);
    case 'commit': {
      const task = tasks.get(request.task) ?? restoring.get(request.task);
      if (task === undefined) throw new Error(`task ${request.task} is not open in the RocksDB worker`);
      for (const store of task.stores.values()) await store.commit();
      return undefined;
    }
    case 'close': {
      const bulk = restoring.get(request.task);
      if (bulk !== undefined) {
        restoring.delete(request.task);
        await bulk.bulk.abort();
        return undefined;
      }
      const task = tasks.get(request.task);
      if (task === undefined) return undefined;
      tasks.delete(request.task);
      await task.rocksdb.close();
      return undefined;
    }
  }
}

const { flag, syncPort } = workerData as { flag: Int32Array; syncPort: MessagePort };
const port = parentPort;
if (port === null) throw new Error('the RocksDB host runs only as a worker thread');

function reply(request: WorkerRequest, message: WorkerReply): void {
  const sync = 'sync' in request && request.sync;
  const transfer = message.ok && message.result instanceof ArrayBuffer ? [message.result] : [];
  if (!sync) {
    (port as NonNullable<typeof port>).postMessage(message, transfer);
    return;
  }
  syncPort.postMessage(message, transfer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

port.on('message', (request: WorkerRequest) => {
  // Each request starts now (writes are queued in posting order); answers may finish out of order.
  answer(request).then(
    (result) => {
      if (request.op !== 'apply') reply(request, { id: request.id, ok: true, result });
    },
    (error: unknown) => {
      const text = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}` : String(error);
      if (request.op === 'apply') throw error;
      reply(request, { id: request.id, ok: false, error: text });
    },
  );
});
