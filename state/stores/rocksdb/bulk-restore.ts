// Bulk restoration of a task database restored from scratch. Writing a changelog through the
// binding costs several microseconds per record on the way in (the binding reads every
// operation's fields one by one before RocksDB sees it); RocksDB takes its own write-ahead log
// after a crash at a fraction of that, in native code. So a task with no local state and a long
// changelog creates its database and closes it, and restoration writes the changelog as log
// files of RocksDB's format (wal-writer.ts); opening the database replays a log into memtables
// and level-0 files, as crash recovery does.
//
// The changelog goes in segments of segmentBytes: while the database replays one segment (in
// libuv's pool, where the binding opens databases), the next is written, so fetching, writing
// and replaying overlap. A segment is written under a temporary name in a folder of its own and
// moved into the database folder, with a file number above every file there, only while the
// database is closed: RocksDB takes as its log every log file it finds when it opens.
//
// Trust comes from a check, not from the format alone: each segment ends with a batch that puts
// a marker under a random key into every column family, with the family's name and the
// segment's number as value, and into the default family. After each replay every marker must
// be there with that value: RocksDB replays a log in order and stops at the first damaged
// record, so the last batch found means every batch before it was applied; each family's marker
// shows its records went to the family meant (family ids come from creation order, which the
// check confirms rather than assumes); and a later segment's marker found over the earlier one
// shows its sequence numbers came after. The markers are deleted at the end. If a check fails,
// the database is wiped and the caller restores again through write batches.
//
// Sequence numbers run on from 1 across segments, and nothing else writes to the database until
// the end: right only for a database created here, which is the only kind begin() takes.
import { randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { packedWriteOrder } from './key-value.ts';
import { RocksDbTask, type RocksDbTaskOptions } from './task.ts';
import { WalFileWriter, WriteBatchEncoder } from './wal-writer.ts';

const MARKER_PREFIX = Buffer.from('runnel-bulk-restore\u0000');
const DEFAULT_FAMILY = 'default';
const PACKED_RECORD_HEADER_BYTES = 8;
/** Log bytes per segment: about 125,000 records of 100 B values. */
export const BULK_RESTORE_SEGMENT_BYTES = 16 * 1024 * 1024;

/** Seams for tests. */
export interface BulkRestoreHooks {
  /** Called with a segment's log file in the closed database, before the open replays it. */
  readonly beforeReplay?: (logPath: string, segment: number) => Promise<void> | void;
}

interface Segment {
  readonly number: number;
  readonly path: string;
  readonly writer: WalFileWriter;
}

export class BulkRestore {
  /** Segments the database has replayed and checked. */
  segmentsReplayed = 0;
  private readonly families: ReadonlyMap<string, number>;
  private readonly encoder = new WriteBatchEncoder();
  private readonly marker = Buffer.concat([MARKER_PREFIX, randomBytes(16)]);
  private segment: Segment;
  /** Replays of finished segments, one after the other; false once a check failed. */
  private replays: Promise<boolean> = Promise.resolve(true);
  private nextSequence = 1n;
  private failure: unknown = null;

  private constructor(
    private readonly options: RocksDbTaskOptions,
    /** Column families in the order the database created them: ids 1, 2, ... (0 is the default). */
    columnFamilies: readonly string[],
    private readonly segmentBytes: number,
    private readonly hooks: BulkRestoreHooks,
  ) {
    this.families = new Map(columnFamilies.map((name, index) => [name, index + 1]));
    this.segment = this.startSegment(0);
  }

  private get databasePath(): string {
    return databasePath(this.options.taskDirectory);
  }

  private get segmentsPath(): string {
    return segmentsPath(this.options.taskDirectory);
  }

  /**
   * Creates the task's database with its column families and starts the first segment; null
   * when the database folder already holds a database (restoration then takes the usual path).
   */
  static async begin(options: RocksDbTaskOptions, segmentBytes = BULK_RESTORE_SEGMENT_BYTES, hooks: BulkRestoreHooks = {}): Promise<BulkRestore | null> {
    if (existsSync(join(databasePath(options.taskDirectory), 'CURRENT'))) return null;
    const created = await RocksDbTask.open(options);
    const columnFamilies = created.columnFamilies;
    await created.close();
    // Segments a crash left behind are of no use: without a checkpoint the database is wiped too.
    await rm(segmentsPath(options.taskDirectory), { recursive: true, force: true });
    await mkdir(segmentsPath(options.taskDirectory));
    return new BulkRestore(options, columnFamilies, segmentBytes, hooks);
  }

  /**
   * Appends a packed batch (worker/protocol.ts's layout) for one store as one write batch, in
   * key order with one write per key (write-order.ts, as write batches go to RocksDB): the
   * replay inserts into its memtables two to three times faster than in changelog order. A
   * failure is kept and thrown by drain(), as a write batch's would be at the next commit.
   */
  applyPacked(store: string, packed: ArrayBuffer): void {
    if (this.failure !== null) return;
    try {
      const family = this.families.get(store);
      if (family === undefined) throw new Error(`no store ${store} in this bulk restore`);
      const bytes = new Uint8Array(packed);
      const view = new DataView(packed);
      const { positions, order, writes } = packedWriteOrder(packed, view);
      for (let index = 0; index < writes; index++) {
        const position = positions[order === null ? index : (order[index] as number)] as number;
        const keyBytes = view.getUint32(position);
        const valueBytes = view.getInt32(position + 4);
        const keyStart = position + PACKED_RECORD_HEADER_BYTES;
        if (valueBytes < 0) this.encoder.deleteFrom(family, bytes, keyStart, keyBytes);
        else this.encoder.putFrom(family, bytes, keyStart, keyBytes, bytes, keyStart + keyBytes, valueBytes);
      }
      this.appendBatch();
      if (this.segment.writer.bytesFramed >= this.segmentBytes) this.endSegment();
    } catch (error) {
      this.failure = error;
    }
  }

  /** Waits until the current segment's file holds every batch applied so far. */
  async drain(): Promise<void> {
    this.throwIfFailed();
    await this.segment.writer.drain();
  }

  /**
   * Ends the last segment and waits for every replay. Returns the open database when every
   * check passed (the markers are then deleted); otherwise wipes the database and returns null.
   */
  async finish(): Promise<RocksDbTask | null> {
    this.throwIfFailed();
    const last = this.segment;
    this.appendMarkers(last.number);
    let task: RocksDbTask | null;
    try {
      task = await this.replays.then((ok) => (ok ? this.replay(last, true) : null));
    } finally {
      await last.writer.close().catch(() => undefined);
      await rm(this.segmentsPath, { recursive: true, force: true });
    }
    if (task !== null) {
      try {
        await task.deleteRaw([null, ...this.families.keys()], this.marker);
      } catch (error) {
        await task.close();
        throw error;
      }
      return task;
    }
    await rm(this.databasePath, { recursive: true, force: true });
    return null;
  }

  /** The file of the segment being written; for tests. */
  get segmentPath(): string {
    return this.segment.path;
  }

  /**
   * Gives up (the task closed before restoration ended, or finish failed): stops writing and
   * removes the segments. The database is left as it is; without a checkpoint it is wiped at
   * the next open.
   */
  async abort(): Promise<void> {
    this.failure ??= new Error('the bulk restore was aborted');
    await this.segment.writer.close().catch(() => undefined);
    await this.replays.catch(() => undefined);
    await rm(this.segmentsPath, { recursive: true, force: true });
  }

  private startSegment(number: number): Segment {
    const path = join(this.segmentsPath, `segment-${number}.log`);
    return { number, path, writer: new WalFileWriter(openSync(path, 'wx')) };
  }

  /** Closes the current segment with its markers, queues its replay and starts the next one. */
  private endSegment(): void {
    const ended = this.segment;
    this.appendMarkers(ended.number);
    this.segment = this.startSegment(ended.number + 1);
    this.replays = this.replays.then(async (ok) => {
      if (!ok) return false;
      const task = await this.replay(ended, false);
      return task !== null;
    });
    // A failed replay is seen by finish(); until then it must not go unhandled.
    this.replays.catch(() => undefined);
  }

  /**
   * Moves a segment into the closed database and opens it, which replays the segment, then
   * checks the markers. The last segment's database stays open and is returned; an earlier
   * one's is closed (it returns the closed task). Null when a check failed.
   */
  private async replay(segment: Segment, last: boolean): Promise<RocksDbTask | null> {
    try {
      await segment.writer.sync();
    } finally {
      await segment.writer.close();
    }
    const number = (await largestFileNumber(this.databasePath)) + 1;
    const logPath = join(this.databasePath, `${String(number).padStart(6, '0')}.log`);
    await rename(segment.path, logPath);
    await this.hooks.beforeReplay?.(logPath, segment.number);
    const task = await RocksDbTask.open(this.options);
    let checked = false;
    try {
      checked = await this.markersCheckOut(task, segment.number);
    } finally {
      if (!last || !checked) await task.close();
    }
    if (checked) this.segmentsReplayed++;
    return checked ? task : null;
  }

  private appendMarkers(segment: number): void {
    this.encoder.put(0, this.marker, markerValue(DEFAULT_FAMILY, segment));
    for (const [name, family] of this.families) this.encoder.put(family, this.marker, markerValue(name, segment));
    this.appendBatch();
  }

  private appendBatch(): void {
    const count = this.encoder.count;
    if (count === 0) return;
    this.segment.writer.append(this.encoder.take(this.nextSequence));
    this.nextSequence += BigInt(count);
  }

  private async markersCheckOut(task: RocksDbTask, segment: number): Promise<boolean> {
    for (const family of [null, ...this.families.keys()]) {
      const value = await task.readRaw(family, this.marker);
      if (value === null || Buffer.compare(value, markerValue(family ?? DEFAULT_FAMILY, segment)) !== 0) return false;
    }
    return true;
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw new Error('writing the restored changelog as a RocksDB log failed', { cause: this.failure });
  }
}

/** The task's database folder, as RocksDbTask opens it. */
function databasePath(taskDirectory: string): string {
  return join(taskDirectory, 'rocksdb');
}

/** Where segments are written before they move into the closed database. */
function segmentsPath(taskDirectory: string): string {
  return join(taskDirectory, 'rocksdb-restore');
}

function markerValue(family: string, segment: number): Buffer {
  return Buffer.from(`${family}\u0000${segment}`);
}

/** The largest file number RocksDB gave a file in the folder (logs, tables, manifests, options). */
async function largestFileNumber(path: string): Promise<number> {
  let largest = 0;
  for (const name of await readdir(path)) {
    const match = /^(\d+)\.[a-z]+$/.exec(name) ?? /^(?:MANIFEST|OPTIONS)-(\d+)/.exec(name);
    if (match !== null) largest = Math.max(largest, Number(match[1]));
  }
  return largest;
}
