// The messages between the main thread and the RocksDB worker (see host.ts and client.ts), and
// the packed form records travel in. Records cross the thread boundary as one ArrayBuffer that
// is transferred, not copied, because a structured clone of thousands of small Uint8Arrays costs
// an allocation per array on both sides:
//   count u32, then per record: keyBytes u32 | valueBytes i32 (-1: null) | key | value
// Keys seen by the worker are the keys the engine's byte stores use (key-value: the key; window:
// key | windowStart | sequence; session: key | sessionEnd | sessionStart), so changelog records
// and engine writes take the same path.
import type { ChangelogRecord } from '../../../../core/topology/processor.ts';
import type { RocksDbBudgetConfig } from '../budget.ts';

export type StoreKind = 'key-value' | 'window' | 'session';

/** How a task's restoration reached RocksDB: write batches, a replayed log (bulk-restore.ts), or a log that did not check out. */
export type RestoredThrough = 'batches' | 'bulk' | 'failed';

export interface StoreSpec {
  readonly name: string;
  readonly kind: StoreKind;
  /** Window and session stores: how long an entry stays after stream time passes its time. */
  readonly retentionMs: number | null;
}

export type WorkerRequest =
  | { readonly op: 'open'; readonly id: number; readonly task: number; readonly taskDirectory: string; readonly stores: readonly StoreSpec[]; readonly budget: RocksDbBudgetConfig | null; readonly bulkRestore: boolean }
  | { readonly op: 'finishRestore'; readonly id: number; readonly task: number }
  | { readonly op: 'apply'; readonly task: number; readonly store: string; readonly batch: ArrayBuffer }
  | { readonly op: 'loadGroups'; readonly id: number; readonly sync: boolean; readonly task: number; readonly store: string; readonly keys: ArrayBuffer }
  | { readonly op: 'range'; readonly id: number; readonly sync: boolean; readonly task: number; readonly store: string; readonly from: Uint8Array | null; readonly to: Uint8Array | null; readonly limit: number | null }
  | { readonly op: 'count'; readonly id: number; readonly sync: boolean; readonly task: number; readonly store: string }
  | { readonly op: 'streamTime'; readonly id: number; readonly task: number; readonly store: string }
  | { readonly op: 'commit'; readonly id: number; readonly task: number }
  | { readonly op: 'close'; readonly id: number; readonly task: number };

export type WorkerReply = { readonly id: number; readonly ok: true; readonly result: unknown } | { readonly id: number; readonly ok: false; readonly error: string };

const HEADER_BYTES = 4;
const RECORD_HEADER_BYTES = 8;

/** Packs records (keys with values, or keys alone with null values) into one buffer. */
export function packRecords(records: readonly ChangelogRecord[]): ArrayBuffer {
  let size = HEADER_BYTES;
  for (let index = 0; index < records.length; index++) {
    const record = records[index] as ChangelogRecord;
    size += RECORD_HEADER_BYTES + record.key.byteLength + (record.value === null ? 0 : record.value.byteLength);
  }
  const buffer = new ArrayBuffer(size);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  view.setUint32(0, records.length);
  let position = HEADER_BYTES;
  for (let index = 0; index < records.length; index++) {
    const record = records[index] as ChangelogRecord;
    position = writeRecord(bytes, view, position, record.key, record.value);
  }
  return buffer;
}

/**
 * Writes one record (its length header, key and value) at position of bytes, which view covers
 * and which has room for it; returns the position after it.
 */
function writeRecord(bytes: Uint8Array, view: DataView, position: number, key: Uint8Array, value: Uint8Array | null): number {
  const keyBytes = key.byteLength;
  view.setUint32(position, keyBytes);
  view.setInt32(position + 4, value === null ? -1 : value.byteLength);
  position += RECORD_HEADER_BYTES;
  // Keys and values are mostly a few dozen bytes, where a loop beats set()'s call.
  if (keyBytes <= 64) for (let index = 0; index < keyBytes; index++) bytes[position + index] = key[index] as number;
  else bytes.set(key, position);
  position += keyBytes;
  if (value === null) return position;
  const valueBytes = value.byteLength;
  if (valueBytes <= 64) for (let index = 0; index < valueBytes; index++) bytes[position + index] = value[index] as number;
  else bytes.set(value, position);
  return position + valueBytes;
}

/**
 * Packs records as they come, into one reused buffer that doubles when full, so a writer keeps
 * no record objects until it posts; take() hands out an exact copy (to transfer) and starts over.
 */
export class RecordPacker {
  count = 0;
  private bytes: Uint8Array<ArrayBuffer>;
  private view: DataView;
  private position = HEADER_BYTES;

  constructor(initialBytes = 64 * 1024) {
    this.bytes = new Uint8Array(initialBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  add(key: Uint8Array, value: Uint8Array | null): void {
    const needed = this.position + RECORD_HEADER_BYTES + key.byteLength + (value === null ? 0 : value.byteLength);
    if (needed > this.bytes.byteLength) this.grow(needed);
    this.position = writeRecord(this.bytes, this.view, this.position, key, value);
    this.count++;
  }

  /** Bytes packed so far. */
  get byteLength(): number {
    return this.position;
  }

  take(): ArrayBuffer {
    this.view.setUint32(0, this.count);
    const packed = this.bytes.buffer.slice(0, this.position);
    this.count = 0;
    this.position = HEADER_BYTES;
    return packed;
  }

  private grow(needed: number): void {
    let size = this.bytes.byteLength * 2;
    while (size < needed) size *= 2;
    const bytes = new Uint8Array(size);
    bytes.set(this.bytes.subarray(0, this.position));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }
}

/**
 * The records of a packed buffer as views into it. Plain Uint8Array views cost a fraction of a
 * Buffer view each, and the binding takes them as they are: they lie outside V8's heap.
 */
export function unpackRecords(buffer: ArrayBuffer): ChangelogRecord[] {
  const view = new DataView(buffer);
  const count = view.getUint32(0);
  const records = new Array<ChangelogRecord>(count);
  let position = HEADER_BYTES;
  for (let index = 0; index < count; index++) {
    const keyBytes = view.getUint32(position);
    const valueBytes = view.getInt32(position + 4);
    position += RECORD_HEADER_BYTES;
    const key = new Uint8Array(buffer, position, keyBytes);
    position += keyBytes;
    let value: Uint8Array | null = null;
    if (valueBytes >= 0) {
      value = new Uint8Array(buffer, position, valueBytes);
      position += valueBytes;
    }
    records[index] = { key, value };
  }
  if (position !== buffer.byteLength) throw new Error(`packed records end at ${position}, the buffer at ${buffer.byteLength}`);
  return records;
}

export function packKeys(keys: readonly Uint8Array[]): ArrayBuffer {
  return packRecords(keys.map((key) => ({ key, value: null })));
}
