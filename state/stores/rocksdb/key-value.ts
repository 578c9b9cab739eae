// The RocksDB key-value bytes store. RocksDB through rocksdb-native answers only with promises,
// so this store is asynchronous where it must be and synchronous where it can be:
// - writes (put, putAll) are staged in memory synchronously and reach RocksDB as one atomic write
//   batch on flush, or earlier once stagedWritesMax writes are waiting; batches are applied one
//   after the other, in order, because two native writes in flight may complete in any order;
// - point reads look at the staged and in-flight batches first, then ask RocksDB;
// - range reads first push every staged write into RocksDB, so the iterator sees them.
// Values are kept by reference until written, like the in-memory store; keys are copied.
import type RocksDB from 'rocksdb-native';
import type { ChangelogRecord } from '../../../core/topology/processor.ts';
import { bytesKey, prefixUpperBound } from '../bytes.ts';
import type { KeyValue } from '../types.ts';
import { ROCKSDB_LIMITS } from './limits.ts';
import { packedKeys, recordKeys, writeOrder } from './write-order.ts';

export interface RangeOptions {
  /** Largest key first. */
  readonly reverse?: boolean;
}

/** The asynchronous counterpart of KeyValueBytesStore; ranges are inclusive, null bounds open. */
export interface AsyncKeyValueBytesStore {
  readonly name: string;
  get(key: Uint8Array): Promise<Uint8Array | null>;
  /** One RocksDB read batch for all keys; results line up with keys. */
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]>;
  /** Stages the write (null deletes); it is durable in RocksDB after flush(). */
  put(key: Uint8Array, value: Uint8Array | null): void;
  putAll(entries: readonly ChangelogRecord[]): void;
  putIfAbsent(key: Uint8Array, value: Uint8Array): Promise<Uint8Array | null>;
  delete(key: Uint8Array): Promise<Uint8Array | null>;
  range(from: Uint8Array | null, to: Uint8Array | null, options?: RangeOptions): Promise<KeyValue<Uint8Array, Uint8Array>[]>;
  prefixScan(prefix: Uint8Array, options?: RangeOptions): Promise<KeyValue<Uint8Array, Uint8Array>[]>;
  all(options?: RangeOptions): Promise<KeyValue<Uint8Array, Uint8Array>[]>;
  approximateNumEntries(): Promise<number>;
  flush(): Promise<void>;
}

interface StagedWrite {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

export class RocksDbKeyValueStore implements AsyncKeyValueBytesStore {
  /** Writes not yet handed to RocksDB, by latin1 key. */
  private staged = new Map<string, StagedWrite>();
  /** Batches handed to RocksDB and not yet applied, oldest first. */
  private readonly writing: Map<string, StagedWrite>[] = [];
  private writeChain: Promise<void> = Promise.resolve();
  /** Resolves once the last packed batch queued has been built and handed to RocksDB (applyPacked). */
  private lastHandedOver: Promise<void> = Promise.resolve();
  private writeError: unknown = null;
  private closed = false;

  /** The session must be bound to this store's column family. */
  constructor(
    readonly name: string,
    private readonly session: RocksDB,
  ) {}

  async get(key: Uint8Array): Promise<Uint8Array | null> {
    this.assertOpen();
    const pending = this.pendingWrite(bytesKey(key));
    if (pending !== undefined) return pending.value;
    return this.session.get(offHeap(key));
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    this.assertOpen();
    const results: (Uint8Array | null)[] = new Array<Uint8Array | null>(keys.length).fill(null);
    const reads: Promise<void>[] = [];
    // The binding doubles a batch's capacity until it fits, so a capacity of zero would never grow.
    let batch = this.session.read({ capacity: Math.max(1, Math.min(keys.length, ROCKSDB_LIMITS.readBatchKeysMax)), autoDestroy: true });
    let batchSize = 0;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as Uint8Array;
      const pending = this.pendingWrite(bytesKey(key));
      if (pending !== undefined) {
        results[index] = pending.value;
        continue;
      }
      reads.push(batch.get(offHeap(key)).then((value) => void (results[index] = value)));
      if (++batchSize === ROCKSDB_LIMITS.readBatchKeysMax) {
        batch.tryFlush();
        batch = this.session.read({ capacity: ROCKSDB_LIMITS.readBatchKeysMax, autoDestroy: true });
        batchSize = 0;
      }
    }
    // Batches hold a reference on the database until destroyed (autoDestroy after the read);
    // one leaked batch makes close wait forever.
    if (batchSize > 0) batch.tryFlush();
    else batch.destroy();
    await Promise.all(reads);
    return results;
  }

  put(key: Uint8Array, value: Uint8Array | null): void {
    const copy = new Uint8Array(key);
    this.putHashed(bytesKey(copy), copy, value);
  }

  /** put for a key handed over with its bytesKey form: the caller never changes the bytes again. */
  putHashed(hashKey: string, key: Uint8Array, value: Uint8Array | null): void {
    this.assertOpen();
    this.staged.set(hashKey, { key, value });
    if (this.staged.size >= ROCKSDB_LIMITS.stagedWritesMax) this.submitStaged();
  }

  putAll(entries: readonly ChangelogRecord[]): void {
    for (const entry of entries) this.put(entry.key, entry.value);
  }

  async putIfAbsent(key: Uint8Array, value: Uint8Array): Promise<Uint8Array | null> {
    const previous = await this.get(key);
    if (previous === null) this.put(key, value);
    return previous;
  }

  async delete(key: Uint8Array): Promise<Uint8Array | null> {
    const previous = await this.get(key);
    if (previous !== null) this.put(key, null);
    return previous;
  }

  async range(from: Uint8Array | null, to: Uint8Array | null, options: RangeOptions = {}): Promise<KeyValue<Uint8Array, Uint8Array>[]> {
    const result: KeyValue<Uint8Array, Uint8Array>[] = [];
    for await (const entry of this.entries(from, to, options)) result.push(entry);
    return result;
  }

  async prefixScan(prefix: Uint8Array, options: RangeOptions = {}): Promise<KeyValue<Uint8Array, Uint8Array>[]> {
    const result: KeyValue<Uint8Array, Uint8Array>[] = [];
    await this.writeStaged();
    const upper = prefixUpperBound(prefix);
    const bounds = { gte: prefix, ...(upper === null ? {} : { lt: upper }) };
    for await (const entry of this.session.iterator({ ...bounds, reverse: options.reverse ?? false, capacity: ROCKSDB_LIMITS.iteratorCapacity })) {
      result.push(entry);
    }
    return result;
  }

  all(options: RangeOptions = {}): Promise<KeyValue<Uint8Array, Uint8Array>[]> {
    return this.range(null, null, options);
  }

  /** Streams [from, to] without holding the whole range in memory. */
  async *entries(from: Uint8Array | null, to: Uint8Array | null, options: RangeOptions = {}): AsyncGenerator<KeyValue<Uint8Array, Uint8Array>> {
    await this.writeStaged();
    // The binding reads an empty bound as no bound, so an upper bound of the empty key, which
    // admits only the empty key itself, is answered with a point read.
    if (to !== null && to.byteLength === 0) {
      const value = from === null || from.byteLength === 0 ? await this.session.get(to) : null;
      if (value !== null) yield { key: new Uint8Array(0), value };
      return;
    }
    const bounds = { ...(from === null ? {} : { gte: from }), ...(to === null ? {} : { lte: to }) };
    yield* this.session.iterator({ ...bounds, reverse: options.reverse ?? false, capacity: ROCKSDB_LIMITS.iteratorCapacity });
  }

  /** RocksDB's estimate of the keys in this column family, after staged writes are applied. */
  async approximateNumEntries(): Promise<number> {
    await this.writeStaged();
    const estimate = await this.session.getProperty('rocksdb.estimate-num-keys');
    return Number(estimate ?? 0);
  }

  /** Deletes keys in [from, toExclusive) as one range tombstone, after all staged writes. */
  async deleteRange(from: Uint8Array, toExclusive: Uint8Array): Promise<void> {
    await this.writeStaged();
    const batch = this.session.write({ capacity: 1, autoDestroy: true });
    batch.tryDeleteRange(from, toExclusive);
    await this.enqueueWrite(() => batch.flush());
  }

  /**
   * Applies records as one write batch without staging them, for restoration. Batches apply in
   * call order, so a caller may build the next batch while this one is written. The records go
   * in in key order, the last of each key only (write-order.ts), which leaves the same state.
   */
  applyBatch(records: readonly ChangelogRecord[]): Promise<void> {
    this.assertOpen();
    if (this.staged.size > 0) this.submitStaged();
    const order = writeOrder(recordKeys(records));
    const writes = order === null ? records.length : order.length;
    const batch = this.session.write({ capacity: Math.max(1, writes), autoDestroy: true });
    for (let index = 0; index < writes; index++) {
      const record = records[order === null ? index : (order[index] as number)] as ChangelogRecord;
      if (record.value === null) batch.tryDelete(offHeap(record.key));
      else batch.tryPut(offHeap(record.key), offHeap(record.value));
    }
    return this.enqueueWrite(() => batch.flush());
  }

  /**
   * applyBatch for records packed as the RocksDB worker receives them (worker/protocol.ts: count,
   * then per record key length, value length or -1, key, value): the keys and values go to the
   * batch as views into the buffer, in the same write order, with no record object between.
   * The batch is built once the batch before it has been handed to RocksDB, not when it is queued:
   * a restoration queues many batches ahead of RocksDB, and views and operations built for all of
   * them at once lived long enough to be promoted and collected by V8's old generation.
   */
  applyPacked(packed: ArrayBuffer): Promise<void> {
    this.assertOpen();
    if (this.staged.size > 0) this.submitStaged();
    const view = new DataView(packed);
    // A malformed buffer is refused now, before anything is queued.
    packedPositions(packed, view, view.getUint32(0));
    const previousHandedOver = this.lastHandedOver;
    let handedOver = (): void => undefined;
    this.lastHandedOver = new Promise((resolve) => (handedOver = resolve));
    const built = previousHandedOver.then(() => this.packedBatch(packed, view));
    return this.enqueueWrite(async () => {
      let batch: ReturnType<RocksDB['write']>;
      try {
        batch = await built;
      } finally {
        handedOver();
      }
      return batch.flush();
    });
  }

  /** The write batch of a packed buffer, in write order; it must be flushed (an unflushed batch keeps the database open). */
  private packedBatch(packed: ArrayBuffer, view: DataView): ReturnType<RocksDB['write']> {
    const { positions, order, writes } = packedWriteOrder(packed, view);
    const batch = this.session.write({ capacity: Math.max(1, writes), autoDestroy: true });
    for (let index = 0; index < writes; index++) {
      const position = positions[order === null ? index : (order[index] as number)] as number;
      const keyBytes = view.getUint32(position);
      const valueBytes = view.getInt32(position + 4);
      const key = new Uint8Array(packed, position + 8, keyBytes);
      if (valueBytes < 0) batch.tryDelete(offHeap(key));
      else batch.tryPut(offHeap(key), offHeap(new Uint8Array(packed, position + 8 + keyBytes, valueBytes)));
    }
    return batch;
  }

  /** Hands every staged write to RocksDB and waits until all are applied. */
  async writeStaged(): Promise<void> {
    this.assertOpen();
    this.submitStaged();
    await this.writeChain;
    this.throwWriteError();
  }

  /**
   * Compacts the whole column family, dropping the overwritten values and deletes it rewrites.
   * RocksDB may move a lone file to the last level without rewriting it, so approximateNumEntries
   * stays an estimate. Costly: for tests, and after restoring a large changelog.
   */
  async compact(): Promise<void> {
    await this.writeStaged();
    // The binding reads a Buffer bound as an options object, so only a full compaction is safe.
    await this.session.compactRange(null, null);
  }

  /** Writes staged data and flushes the memtable to disk, so a reopen replays no write-ahead log. */
  async flush(): Promise<void> {
    await this.writeStaged();
    await this.session.flush();
  }

  /** Flushes, then refuses further use; the task closes the RocksDB instance itself. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
  }

  get stagedCount(): number {
    return this.staged.size;
  }

  private pendingWrite(hashKey: string): StagedWrite | undefined {
    const staged = this.staged.get(hashKey);
    if (staged !== undefined) return staged;
    for (let index = this.writing.length - 1; index >= 0; index--) {
      const write = (this.writing[index] as Map<string, StagedWrite>).get(hashKey);
      if (write !== undefined) return write;
    }
    return undefined;
  }

  private submitStaged(): void {
    if (this.staged.size === 0) return;
    const writes = this.staged;
    this.staged = new Map();
    this.writing.push(writes);
    const batch = this.session.write({ capacity: writes.size, autoDestroy: true });
    // Staged keys are unique, so any order gives the same result; the sorted one is cheapest.
    const list = [...writes.values()];
    const order = writeOrder(recordKeys(list));
    for (let index = 0; index < list.length; index++) {
      const write = list[order === null ? index : (order[index] as number)] as StagedWrite;
      if (write.value === null) batch.tryDelete(offHeap(write.key));
      else batch.tryPut(offHeap(write.key), offHeap(write.value));
    }
    // Batches complete in submission order, so the one finishing is the oldest. A failure is
    // already kept by enqueueWrite for the next flush to throw.
    const done = (): void => void this.writing.shift();
    this.enqueueWrite(() => batch.flush()).then(done, done);
  }

  private enqueueWrite(write: () => Promise<void>): Promise<void> {
    const applied = this.writeChain.then(write);
    // The chain itself never rejects, so one failed batch does not hide the batches after it;
    // the first failure is kept and thrown from the next flush.
    this.writeChain = applied.catch((error: unknown) => {
      this.writeError ??= error;
    });
    return applied;
  }

  private throwWriteError(): void {
    if (this.writeError === null) return;
    const error = this.writeError;
    this.writeError = null;
    throw new Error(`store ${this.name}: a RocksDB write batch failed`, { cause: error });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`store ${this.name} is closed`);
  }
}

export { prefixUpperBound };

/** Typed arrays up to this size may live on V8's heap (V8's typed_array_max_size_in_heap). */
const ON_HEAP_BYTES_MAX = 64;

/**
 * A copy of small byte arrays in Buffer's pool, which lives outside V8's heap. V8 keeps typed
 * arrays of up to 64 bytes on its heap, and the binding asking for their address makes V8 move
 * each one out first, one allocation per key: measured at about 3 us per record when a write
 * batch is handed to RocksDB. Copying into the pool costs a small fraction of that. An array
 * whose end lies past 64 bytes into its buffer (a large value, or a key sliced from a fetched
 * batch) is already outside the heap and goes as it is; reading byteOffset moves nothing.
 */
function offHeap(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset + bytes.byteLength > ON_HEAP_BYTES_MAX ? bytes : Buffer.from(bytes);
}

/** Reused by every packed batch: batches are built one at a time on the event loop. */
let positionScratch = new Float64Array(1024);

/**
 * Where each record of a packed buffer starts (its length header); checks the buffer's end. The
 * answer is a view of scratch space that the next packed batch overwrites.
 */
/**
 * A packed batch's records in write order (write-order.ts): record i to write lies at
 * positions[order === null ? i : order[i]], for i below writes. Views of scratch space that the
 * next call overwrites.
 */
export function packedWriteOrder(packed: ArrayBuffer, view: DataView): { positions: Float64Array; order: Uint32Array | null; writes: number } {
  const count = view.getUint32(0);
  const positions = packedPositions(packed, view, count);
  const order = writeOrder(packedKeys(packed, view, positions));
  return { positions, order, writes: order === null ? count : order.length };
}

export function packedPositions(packed: ArrayBuffer, view: DataView, count: number): Float64Array {
  if (positionScratch.length < count) positionScratch = new Float64Array(Math.max(count, positionScratch.length * 2));
  const positions = positionScratch.subarray(0, count);
  let position = 4;
  for (let index = 0; index < count; index++) {
    positions[index] = position;
    const valueBytes = view.getInt32(position + 4);
    position += 8 + view.getUint32(position) + (valueBytes < 0 ? 0 : valueBytes);
  }
  if (position !== packed.byteLength) throw new Error(`packed records end at ${position}, the buffer at ${packed.byteLength}`);
  return positions;
}
