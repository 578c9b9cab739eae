// Bulk restoration of a task database restored from scratch. Writing a changelog through the
// binding costs several microseconds per record on the way in (the binding reads every
// operation's fields one by one before RocksDB sees it); RocksDB takes its own write-ahead log
// after a crash at a fraction of that, in native code. So a task with no local state and a long
// changelog creates its database, closes it, and restoration writes the changelog as a log file
// of RocksDB's format into the database folder (wal-writer.ts); opening the database then
// replays it into memtables and level-0 files, as crash recovery does.
//
// Trust comes from a check, not from the format alone: the log ends with a batch that puts a
// marker under a random key into every column family, the family's own name as value, and the
// default family. After the open, every marker must be there with its family's name: RocksDB
// replays a log in order and stops at the first damaged record, so the last batch found means
// every batch before it was applied, and each family's marker shows its records went to the
// family meant (family ids are given by creation order, which the check confirms rather than
// assumes). The markers are then deleted. If the check fails, the caller wipes the database
// and restores again through write batches.
//
// Only databases created here qualify: the log's sequence numbers start at 1, which is right
// only for a database nothing was ever written to, and its file number is above every file
// the new database holds.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { RocksDbTask, type RocksDbTaskOptions } from './task.ts';
import { WalFileWriter, WriteBatchEncoder } from './wal-writer.ts';

const MARKER_PREFIX = Buffer.from('runnel-bulk-restore\u0000');
const DEFAULT_FAMILY = 'default';
const PACKED_HEADER_BYTES = 4;
const PACKED_RECORD_HEADER_BYTES = 8;

export class BulkRestore {
  /** Records written to the log so far. */
  records = 0;
  private readonly families: ReadonlyMap<string, number>;
  private readonly encoder = new WriteBatchEncoder();
  private readonly writer: WalFileWriter;
  private readonly marker = Buffer.concat([MARKER_PREFIX, randomBytes(16)]);
  private nextSequence = 1n;
  private failure: unknown = null;
  private finished = false;

  private constructor(
    private readonly options: RocksDbTaskOptions,
    /** Column families in the order the database created them: ids 1, 2, ... (0 is the default). */
    columnFamilies: readonly string[],
    private readonly file: FileHandle,
    readonly logPath: string,
  ) {
    this.families = new Map(columnFamilies.map((name, index) => [name, index + 1]));
    this.writer = new WalFileWriter(file);
  }

  /**
   * Creates the task's database with its column families and starts a log file beside it;
   * null when the database folder already holds a database (restoration then takes the usual
   * path).
   */
  static async begin(options: RocksDbTaskOptions): Promise<BulkRestore | null> {
    const path = join(options.taskDirectory, 'rocksdb');
    if (existsSync(join(path, 'CURRENT'))) return null;
    const created = await RocksDbTask.open(options);
    const columnFamilies = created.columnFamilies;
    await created.close();
    const logPath = join(path, `${String((await largestFileNumber(path)) + 1).padStart(6, '0')}.log`);
    const file = await open(logPath, 'wx');
    return new BulkRestore(options, columnFamilies, file, logPath);
  }

  /**
   * Appends a packed batch (worker/protocol.ts's layout) for one store as one write batch. A
   * failure is kept and thrown by drain(), as a write batch's would be at the next commit.
   */
  applyPacked(store: string, packed: ArrayBuffer): void {
    if (this.failure !== null) return;
    try {
      const family = this.families.get(store);
      if (family === undefined) throw new Error(`no store ${store} in this bulk restore`);
      const bytes = new Uint8Array(packed);
      const view = new DataView(packed);
      const count = view.getUint32(0);
      let position = PACKED_HEADER_BYTES;
      for (let index = 0; index < count; index++) {
        const keyBytes = view.getUint32(position);
        const valueBytes = view.getInt32(position + 4);
        const keyStart = position + PACKED_RECORD_HEADER_BYTES;
        position = keyStart + keyBytes;
        if (valueBytes < 0) this.encoder.deleteFrom(family, bytes, keyStart, keyBytes);
        else {
          this.encoder.putFrom(family, bytes, keyStart, keyBytes, bytes, position, valueBytes);
          position += valueBytes;
        }
      }
      if (position !== packed.byteLength) throw new Error(`packed records end at ${position}, the buffer at ${packed.byteLength}`);
      this.appendBatch();
    } catch (error) {
      this.failure = error;
    }
  }

  /** Waits until the log file holds every batch applied so far. */
  async drain(): Promise<void> {
    this.throwIfFailed();
    await this.writer.drain();
  }

  /**
   * Ends the log with the marker batch, syncs and closes it, and opens the database, which
   * replays the log. Returns the open database when every marker checks out (the markers are
   * then deleted); otherwise closes it, wipes the folder and returns null.
   */
  async finish(): Promise<RocksDbTask | null> {
    this.throwIfFailed();
    this.finished = true;
    this.encoder.put(0, this.marker, Buffer.from(DEFAULT_FAMILY));
    for (const [name, family] of this.families) this.encoder.put(family, this.marker, Buffer.from(name));
    this.appendBatch();
    try {
      await this.writer.sync();
    } finally {
      await this.file.close();
    }
    const task = await RocksDbTask.open(this.options);
    try {
      if (await this.markersCheckOut(task)) {
        await task.deleteRaw([null, ...this.families.keys()], this.marker);
        return task;
      }
    } catch (error) {
      await task.close();
      throw error;
    }
    await task.close();
    await rm(join(this.options.taskDirectory, 'rocksdb'), { recursive: true, force: true });
    return null;
  }

  /** Gives up (the task closed before restoration ended): closes and deletes the log file. */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.writer.drain().catch(() => undefined);
    await this.file.close().catch(() => undefined);
    await rm(this.logPath, { force: true });
  }

  private appendBatch(): void {
    const count = this.encoder.count;
    if (count === 0) return;
    this.writer.append(this.encoder.take(this.nextSequence));
    this.nextSequence += BigInt(count);
    this.records += count;
  }

  private async markersCheckOut(task: RocksDbTask): Promise<boolean> {
    for (const family of [null, ...this.families.keys()]) {
      const value = await task.readRaw(family, this.marker);
      if (value === null || Buffer.compare(value, Buffer.from(family ?? DEFAULT_FAMILY)) !== 0) return false;
    }
    return true;
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw new Error('writing the restored changelog as a RocksDB log failed', { cause: this.failure });
  }
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
