// The main thread's side of the RocksDB worker (host.ts): one worker per process, started when
// the first task opens and stopped when the last one closes. Requests go in posting order;
// asynchronous ones resolve when the worker answers, synchronous ones block this thread on
// Atomics.wait until the worker has put the answer on a port of its own, which
// receiveMessageOnPort then takes without the event loop. The engine uses the synchronous path
// only for reads its prefetch did not cover, so a batch of input normally costs one round trip
// per store.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import type { KeyValue } from '../../types.ts';
import type { RocksDbBudgetConfig } from '../budget.ts';
import { packKeys, packRecords, unpackRecords, type RestoredThrough, type StoreSpec, type WorkerReply, type WorkerRequest } from './protocol.ts';

export type { RestoredThrough };

/** How long a synchronous read may block before the worker is taken for dead. */
const SYNC_WAIT_MS_MAX = 120_000;

type Request = WorkerRequest extends infer R ? (R extends { readonly id: number } ? Omit<R, 'id'> : never) : never;

/**
 * Starts host.ts in a worker. The worker loads TypeScript through tsx's loader, which the worker
 * registers itself: the parent may run under tsx's loader, vitest's transform or neither.
 */
function startWorker(flag: Int32Array, syncPort: MessagePort): Worker {
  const hostUrl = new URL('./host.ts', import.meta.url).href;
  // The ESM entry of tsx's API, found from its package manifest: require.resolve would give
  // the CommonJS entry, which cannot register the ESM loader.
  const manifestPath = createRequire(import.meta.url).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const entry = manifest.exports['./esm/api']?.import.default;
  if (entry === undefined) throw new Error('tsx has no ./esm/api entry; the RocksDB worker needs it to load TypeScript');
  const tsxApi = pathToFileURL(path.join(path.dirname(manifestPath), entry)).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(hostUrl)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: { flag, syncPort }, transferList: [syncPort] });
}

export class RocksDbWorker {
  private static shared: RocksDbWorker | null = null;
  private readonly worker: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly syncReplies: MessagePort;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private users = 0;
  private failure: Error | null = null;
  private nextTask = 1;

  private constructor() {
    const { port1, port2 } = new MessageChannel();
    this.syncReplies = port1;
    this.worker = startWorker(this.flag, port2);
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply));
    this.worker.on('error', (error) => this.fail(new Error('the RocksDB worker failed', { cause: error })));
    this.worker.on('exit', (code) => this.fail(new Error(`the RocksDB worker exited with code ${code}`)));
  }

  /** The process's worker, started if needed; every acquire needs a release. */
  static acquire(): RocksDbWorker {
    // A prestarted worker that failed before anyone used it is replaced.
    if (RocksDbWorker.shared !== null && RocksDbWorker.shared.users === 0 && RocksDbWorker.shared.failure !== null) RocksDbWorker.shared = null;
    const worker = (RocksDbWorker.shared ??= new RocksDbWorker());
    if (worker.users++ === 0) worker.worker.ref();
    return worker;
  }

  /**
   * Starts the worker ahead of the first task (loading it takes a while), without keeping the
   * process alive: it counts as a user only once acquired. The streams runtime calls this at
   * start, so the worker loads while the group forms.
   */
  static prestart(): void {
    if (RocksDbWorker.shared !== null) return;
    RocksDbWorker.shared = new RocksDbWorker();
    RocksDbWorker.shared.worker.unref();
  }

  /** Stops the worker once nobody uses it. */
  async release(): Promise<void> {
    if (--this.users > 0) return;
    if (RocksDbWorker.shared === this) RocksDbWorker.shared = null;
    this.failure ??= new Error('the RocksDB worker was stopped');
    this.syncReplies.close();
    await this.worker.terminate();
  }

  /** A number naming one task's database inside the worker. */
  taskNumber(): number {
    return this.nextTask++;
  }

  call(request: Request, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  /** Blocks until the worker answers; for reads the engine must answer at once. */
  callSync(request: Request, transfer: ArrayBuffer[] = []): unknown {
    if (this.failure !== null) throw this.failure;
    const id = this.nextId++;
    Atomics.store(this.flag, 0, 0);
    this.worker.postMessage({ ...request, id, sync: true }, transfer);
    if (Atomics.wait(this.flag, 0, 0, SYNC_WAIT_MS_MAX) === 'timed-out') throw new Error(`the RocksDB worker did not answer a read within ${SYNC_WAIT_MS_MAX} ms`);
    const received = receiveMessageOnPort(this.syncReplies);
    if (received === undefined) throw new Error('the RocksDB worker signalled an answer it did not send');
    const reply = received.message as WorkerReply;
    if (reply.id !== id) throw new Error(`the RocksDB worker answered request ${reply.id}, expected ${id}`);
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  }

  /** Posts a request that has no answer (writes); failures surface at the next commit. */
  post(request: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    if (this.failure !== null) throw this.failure;
    this.worker.postMessage(request, transfer);
  }

  private settle(reply: WorkerReply): void {
    const waiter = this.pending.get(reply.id);
    if (waiter === undefined) return;
    this.pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(reply.error));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

/** A task's RocksDB database in the worker: its stores as column families. */
export class RemoteRocksDbTask {
  private readonly stores = new Map<string, RemoteStore>();
  private closed = false;

  private constructor(private readonly worker: RocksDbWorker, private readonly task: number, specs: readonly StoreSpec[]) {
    for (const spec of specs) this.stores.set(spec.name, new RemoteStore(worker, task, spec));
  }

  /**
   * Opens the task's database. With bulkRestore, a task of key-value stores whose database does
   * not exist yet takes its restoration as a RocksDB log (bulk-restore.ts): its stores take
   * writes only, until finishRestore.
   */
  static async open(options: { readonly taskDirectory: string; readonly stores: readonly StoreSpec[]; readonly budget?: RocksDbBudgetConfig; readonly bulkRestore?: boolean }): Promise<RemoteRocksDbTask> {
    const worker = RocksDbWorker.acquire();
    const task = worker.taskNumber();
    try {
      await worker.call({ op: 'open', task, taskDirectory: options.taskDirectory, stores: options.stores, budget: options.budget ?? null, bulkRestore: options.bulkRestore ?? false });
    } catch (error) {
      await worker.release();
      throw error;
    }
    return new RemoteRocksDbTask(worker, task, options.stores);
  }

  store(name: string): RemoteStore {
    const store = this.stores.get(name);
    if (store === undefined) throw new Error(`no store ${name} in this task`);
    return store;
  }

  /** Waits for every write posted so far, then drops expired window and session segments. */
  async commit(): Promise<void> {
    await this.worker.call({ op: 'commit', task: this.task });
  }

  /**
   * Ends restoration, after the last restored write is posted: a bulk restore's database opens
   * over its log ('bulk'). 'failed' when that log did not check out: the database was wiped and
   * opened empty, and the changelog must be restored again (through write batches).
   */
  async finishRestore(): Promise<RestoredThrough> {
    return (await this.worker.call({ op: 'finishRestore', task: this.task })) as RestoredThrough;
  }

  /** Flushes memtables (so a reopen replays no write-ahead log) and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.worker.call({ op: 'close', task: this.task });
    } finally {
      await this.worker.release();
    }
  }
}

/** One store of a task in the worker, in the engine's key layout. */
export class RemoteStore {
  constructor(private readonly worker: RocksDbWorker, private readonly task: number, readonly spec: StoreSpec) {}

  /** Queues records as one write batch, after every write posted before. */
  apply(records: readonly ChangelogRecord[]): void {
    if (records.length === 0) return;
    const batch = packRecords(records);
    this.worker.post({ op: 'apply', task: this.task, store: this.spec.name, batch }, [batch]);
  }

  /** apply for records already packed (protocol.ts's layout); the buffer is transferred. */
  applyPacked(batch: ArrayBuffer): void {
    this.worker.post({ op: 'apply', task: this.task, store: this.spec.name, batch }, [batch]);
  }

  /** Every entry of the groups (see HostStore.loadGroups). */
  async loadGroups(keys: readonly Uint8Array[]): Promise<ChangelogRecord[]> {
    const packed = packKeys(keys);
    return unpackRecords((await this.worker.call({ op: 'loadGroups', sync: false, task: this.task, store: this.spec.name, keys: packed }, [packed])) as ArrayBuffer);
  }

  loadGroupsSync(keys: readonly Uint8Array[]): ChangelogRecord[] {
    const packed = packKeys(keys);
    return unpackRecords(this.worker.callSync({ op: 'loadGroups', sync: true, task: this.task, store: this.spec.name, keys: packed }, [packed]) as ArrayBuffer);
  }

  /** Entries in [from, to]; with a limit, the store's first limit entries instead. */
  rangeSync(from: Uint8Array | null, to: Uint8Array | null, limit: number | null = null): KeyValue<Uint8Array, Uint8Array>[] {
    const records = unpackRecords(this.worker.callSync({ op: 'range', sync: true, task: this.task, store: this.spec.name, from, to, limit }) as ArrayBuffer);
    return records.map((record) => ({ key: record.key, value: record.value as Uint8Array }));
  }

  /** Entries stored, counted exactly by a scan in the worker. */
  async count(): Promise<number> {
    return (await this.worker.call({ op: 'count', sync: false, task: this.task, store: this.spec.name })) as number;
  }

  countSync(): number {
    return this.worker.callSync({ op: 'count', sync: true, task: this.task, store: this.spec.name }) as number;
  }

  async streamTimeMs(): Promise<number> {
    return (await this.worker.call({ op: 'streamTime', task: this.task, store: this.spec.name })) as number;
  }
}
