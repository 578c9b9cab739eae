// The log cleaner: compaction of logs whose cleanup.policy includes `compact`, Kafka's way.
//
// A log is split at two offsets. Below firstDirtyOffset (the cleaner's checkpoint) every record
// was compacted before; from there up to firstUncleanableOffset lies the dirty part; the rest
// (the active segment, segments younger than min.compaction.lag.ms, anything at or above the
// broker's cleanable limit) is never touched. A pass
//
//   1. maps each key of the dirty part to its latest offset (bounded by offsetMapBytesMax; a
//      full map ends the pass early at a batch boundary, and the next pass goes on from there),
//      leaving out batches of aborted transactions;
//   2. rewrites the sealed segments below the map's end, oldest first, in groups whose total
//      size fits segment.bytes (merging small segments), keeping a record unless a later record
//      of its key is in the map, handling tombstones as compaction.ts describes, and dropping
//      aborted transactions and spent markers as cleaner-transactions.ts describes;
//   3. swaps each cleaned group in with the crash-safe protocol of swap.ts, then moves the
//      checkpoint to the map's end.
//
// Offsets never change: a kept record keeps its offset, so a compacted log has gaps. The pass is
// due when dirty bytes / cleanable bytes reaches min.cleanable.dirty.ratio, when a dirty record
// is older than max.compaction.lag.ms, or when a tombstone's delete horizon has passed. Reading
// happens in chunks with an event-loop turn after each, so appends and fetches on the same thread
// are not held up; before every read and before the swap the cleaner checks that retention,
// truncation or a close did not take its segments away, and abandons the pass if they did.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { decodeBatch } from '../../core/records/batch.ts';
import { ATTRIBUTE_CONTROL, BATCH_HEADER_BYTES, isControl, isTransactional } from '../../core/records/header.ts';
import { type BatchInfo, inspectBatch } from './batch-scan.ts';
import { AbortedBatches, MarkerRetention } from './cleaner-transactions.ts';
import { COMPACTION_LAG_NEVER, type LogConfig, SEGMENT_BYTES_MAX } from './config.ts';
import { type CompactionRules, compactBatch, keyOf } from './compaction.ts';
import type { DeletionResult, PartitionLog } from './partition-log.ts';
import { type LogSegment, NO_TIMESTAMP, RELATIVE_OFFSET_MAX } from './segment.ts';
import type { SwapHook } from './swap.ts';

export interface LogCleanerOptions {
  nowMs?: () => number;
  /** log.cleaner.dedupe.buffer.size: memory for one pass's key → latest offset map. */
  offsetMapBytesMax?: number;
  /** log.cleaner.io.buffer.size: bytes read from a segment at a time (a larger batch is read whole). */
  readChunkBytes?: number;
  /**
   * Longest the cleaner works before it gives the event loop a turn, so that appends and
   * fetches on the same thread wait at most about this long. Default 10 ms.
   */
  busySliceMs?: number;
  /** Runs after each step of every segment swap; tests throw from it to simulate a crash. */
  onSwapStep?: SwapHook;
}

export interface CleanOptions {
  /** Clean even when the dirty ratio and the lags say the log is not due (tests, admin tools). */
  force?: boolean;
  /** Offsets at or above this are left alone: the broker's high watermark or last stable offset. */
  cleanableOffsetLimit?: bigint;
}

export interface CleaningPlan {
  firstDirtyOffset: bigint;
  /** Only segments whose base offset is below this are compacted. */
  firstUncleanableOffset: bigint;
  /** Bytes of cleanable segments below firstDirtyOffset. */
  cleanBytes: number;
  /** Bytes of cleanable segments at or above firstDirtyOffset. */
  dirtyBytes: number;
  /** dirtyBytes / (cleanBytes + dirtyBytes); 0 when nothing is cleanable. */
  dirtyRatio: number;
  /** Some cleanable dirty segment began longer than max.compaction.lag.ms ago. */
  maxCompactionLagExceeded: boolean;
  /** The earliest delete horizon (of a tombstone or a transaction marker) the last pass left in this log has passed. */
  tombstonesExpired: boolean;
  /** Whether a pass would run now without `force`. */
  due: boolean;
}

export interface CleanResult {
  status: 'cleaned' | 'skipped' | 'aborted';
  /** Why nothing, or not everything, was done; null after a complete pass. */
  reason: string | null;
  plan: CleaningPlan | null;
  /** What retention deleted before compacting, for compact,delete logs. */
  retention: DeletionResult | null;
  /** The cleaner's checkpoint after the pass. */
  firstDirtyOffset: bigint;
  segmentsRead: number;
  /** Swaps done; each put one cleaned segment (or nothing) in place of one or more segments. */
  swaps: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  /** Every record removed: superseded ones, tombstones, aborted ones and those of removed markers. */
  recordsRemoved: number;
  tombstonesRemoved: number;
  /** Records removed because their transaction was aborted. */
  abortedRecordsRemoved: number;
  /** Transaction markers removed: their data was gone and their delete horizon had passed. */
  markersRemoved: number;
  /** The offset map filled up, so the pass stopped early; the next one continues from there. */
  offsetMapFull: boolean;
}

/** Kafka's log.cleaner.dedupe.buffer.size default. */
const OFFSET_MAP_BYTES_MAX_DEFAULT = 128 * 1024 * 1024;
/** Rough cost of one map entry besides its key: the string header, the number and the hash slot. */
const OFFSET_MAP_ENTRY_OVERHEAD_BYTES = 64;
const READ_CHUNK_BYTES_DEFAULT = 512 * 1024;
const BUSY_SLICE_MS_DEFAULT = 10;

/** Thrown inside a pass when its segments went away; the pass ends with status 'aborted'. */
class CleaningAborted extends Error {}

/** What every group of one pass shares. */
interface PassContext {
  rules: CompactionRules;
  /** Batches at or past this offset lie beyond the offset map and are copied unchanged. */
  endOffset: bigint;
  aborted: AbortedBatches;
  markers: MarkerRetention;
  result: CleanResult;
}

/** What cleaning one group found out, besides the counts in the result. */
interface GroupProgress {
  changed: boolean;
  earliestHorizon: number;
  /** Offsets of the abort markers removed, whose index entries must go with them. */
  removedAbortMarkers: Set<bigint>;
}

interface OffsetMap {
  latestOffsets: Map<string, number>;
  /** Every dirty batch below this offset is in the map; batches from here on are left as they are. */
  endOffset: bigint;
  full: boolean;
}

export class LogCleaner {
  readonly #nowMs: () => number;
  readonly #offsetMapBytesMax: number;
  readonly #readChunkBytes: number;
  readonly #busySliceMs: number;
  /** When the current stretch of work without an event-loop turn began. */
  #sliceStartedMs = performance.now();
  readonly #onSwapStep: SwapHook;
  readonly #running = new WeakSet<PartitionLog>();
  /** The earliest delete horizon each log's last pass left behind; absent when none or unknown. */
  readonly #deleteHorizons = new WeakMap<PartitionLog, number>();

  constructor(options: LogCleanerOptions = {}) {
    this.#nowMs = options.nowMs ?? Date.now;
    this.#offsetMapBytesMax = options.offsetMapBytesMax ?? OFFSET_MAP_BYTES_MAX_DEFAULT;
    this.#readChunkBytes = options.readChunkBytes ?? READ_CHUNK_BYTES_DEFAULT;
    this.#busySliceMs = options.busySliceMs ?? BUSY_SLICE_MS_DEFAULT;
    this.#onSwapStep = options.onSwapStep ?? (() => {});
    if (this.#offsetMapBytesMax < 1024) throw new Error('log cleaner: offsetMapBytesMax below 1024');
    if (this.#readChunkBytes < BATCH_HEADER_BYTES) throw new Error('log cleaner: readChunkBytes cannot hold a batch header');
  }

  /** Where the log's dirty part lies and whether a pass is due. */
  plan(log: PartitionLog, nowMs: number = this.#nowMs(), options: CleanOptions = {}): CleaningPlan {
    const config = log.config;
    const firstDirtyOffset = log.firstDirtyOffset;
    const sealed = log.sealedSegments();
    const firstUncleanableOffset = firstUncleanable(log, sealed, firstDirtyOffset, nowMs, options.cleanableOffsetLimit);
    let cleanBytes = 0;
    let dirtyBytes = 0;
    let maxCompactionLagExceeded = false;
    for (const segment of sealed) {
      if (segment.baseOffset >= firstUncleanableOffset) break;
      if (segment.nextOffset <= firstDirtyOffset) {
        cleanBytes += segment.sizeBytes;
        continue;
      }
      dirtyBytes += segment.sizeBytes;
      const first = segment.firstBatchTimestamp;
      const startedMs = first === null || first < 0n ? segment.lastModifiedMs : Number(first);
      if (config.maxCompactionLagMs < COMPACTION_LAG_NEVER && nowMs - startedMs > config.maxCompactionLagMs) maxCompactionLagExceeded = true;
    }
    const total = cleanBytes + dirtyBytes;
    const dirtyRatio = total === 0 ? 0 : dirtyBytes / total;
    const horizon = this.#deleteHorizons.get(log);
    const tombstonesExpired = horizon !== undefined && horizon <= nowMs && total > 0;
    const dirtyDue = dirtyBytes > 0 && (dirtyRatio >= config.minCleanableDirtyRatio || maxCompactionLagExceeded);
    const compacted = config.cleanupPolicy.includes('compact');
    return {
      firstDirtyOffset, firstUncleanableOffset, cleanBytes, dirtyBytes, dirtyRatio,
      maxCompactionLagExceeded, tombstonesExpired, due: compacted && (dirtyDue || tombstonesExpired),
    };
  }

  /**
   * One cleaning pass over `log` if it is due (or forced). For compact,delete logs retention
   * runs first. Never throws for a log that changed under it; a corrupt sealed segment does.
   */
  async clean(log: PartitionLog, options: CleanOptions = {}): Promise<CleanResult> {
    const result = emptyResult(log);
    if (!log.config.cleanupPolicy.includes('compact')) return skipped(result, 'cleanup.policy does not include compact');
    if (log.isClosed) return skipped(result, 'the log is closed');
    if (this.#running.has(log)) return skipped(result, 'a pass over this log is already running');
    this.#running.add(log);
    try {
      const nowMs = this.#nowMs();
      if (log.config.cleanupPolicy.includes('delete')) result.retention = log.applyRetention(nowMs);
      const plan = this.plan(log, nowMs, options);
      result.plan = plan;
      if (!plan.due && options.force !== true) return skipped(result, 'not due');
      if (plan.firstUncleanableOffset <= log.logStartOffset) return skipped(result, 'nothing is cleanable');
      await this.#pass(log, plan, nowMs, result);
      result.status = 'cleaned';
    } catch (error) {
      if (!(error instanceof CleaningAborted)) throw error;
      result.status = 'aborted';
      result.reason = error.message;
    } finally {
      this.#running.delete(log);
    }
    result.firstDirtyOffset = log.firstDirtyOffset;
    return result;
  }

  async #pass(log: PartitionLog, plan: CleaningPlan, nowMs: number, result: CleanResult): Promise<void> {
    if (!log.compactedBefore) log.markCleanedUpTo(log.firstDirtyOffset);
    const map = await this.#buildOffsetMap(log, plan);
    result.offsetMapFull = map.full;
    const deleteRetentionMs = log.config.deleteRetentionMs;
    const context: PassContext = {
      rules: { latestOffsets: map.latestOffsets, nowMs, deleteRetentionMs },
      endOffset: map.endOffset,
      aborted: new AbortedBatches(log.abortedTransactionEntries()),
      markers: new MarkerRetention(nowMs, deleteRetentionMs),
      result,
    };
    const segments = log.sealedSegments().filter((segment) => segment.baseOffset < map.endOffset);
    let earliestHorizon = Infinity;
    for (const group of groupSegments(segments, log.config)) {
      const horizon = await this.#cleanGroup(log, group, context);
      earliestHorizon = Math.min(earliestHorizon, horizon);
    }
    if (earliestHorizon === Infinity) this.#deleteHorizons.delete(log);
    else this.#deleteHorizons.set(log, earliestHorizon);
    if (map.endOffset > log.firstDirtyOffset) log.markCleanedUpTo(map.endOffset);
  }

  /** Step 1: the latest offset of every key in [firstDirtyOffset, firstUncleanableOffset). */
  async #buildOffsetMap(log: PartitionLog, plan: CleaningPlan): Promise<OffsetMap> {
    const latestOffsets = new Map<string, number>();
    const aborted = new AbortedBatches(log.abortedTransactionEntries());
    let bytesUsed = 0;
    const dirty = log.sealedSegments().filter((segment) =>
      segment.baseOffset < plan.firstUncleanableOffset && segment.nextOffset > plan.firstDirtyOffset);
    for (const segment of dirty) {
      for await (const chunk of this.#chunks(log, segment)) {
        for (const info of chunk.infos) {
          if (info.lastOffset < plan.firstDirtyOffset || (info.attributes & ATTRIBUTE_CONTROL) !== 0) continue;
          // An aborted write must not supersede the committed record of its key.
          if (aborted.isAborted(chunk.buffer, info)) continue;
          const keys = keysOf(chunk.buffer, info);
          const cost = keys.reduce((sum, entry) => sum + (latestOffsets.has(entry.key) ? 0 : entry.key.length + OFFSET_MAP_ENTRY_OVERHEAD_BYTES), 0);
          // A full map ends the pass at this batch; the first batch always goes in, so a pass
          // makes progress whatever the limit.
          if (bytesUsed + cost > this.#offsetMapBytesMax && latestOffsets.size > 0) return { latestOffsets, endOffset: info.baseOffset, full: true };
          bytesUsed += cost;
          for (const entry of keys) latestOffsets.set(entry.key, entry.offset);
          await this.#yieldIfDue();
        }
      }
    }
    return { latestOffsets, endOffset: plan.firstUncleanableOffset, full: false };
  }

  /**
   * Step 2 and 3 for one group: writes the compacted batches to a `.cleaned` segment and swaps it
   * in. Returns the earliest delete horizon left in the group (Infinity when none).
   */
  async #cleanGroup(log: PartitionLog, group: readonly LogSegment[], context: PassContext): Promise<number> {
    const { result } = context;
    const first = group[0] as LogSegment;
    const cleaned = log.createCleanedSegment(first.baseOffset);
    const progress: GroupProgress = { changed: false, earliestHorizon: Infinity, removedAbortMarkers: new Set() };
    try {
      for (const segment of group) {
        result.segmentsRead += 1;
        for await (const chunk of this.#chunks(log, segment)) {
          const output: Buffer[] = [];
          for (const info of chunk.infos) {
            output.push(...cleanBatch(chunk.buffer, info, context, progress));
            await this.#yieldIfDue();
          }
          if (output.length > 0) appendCleaned(cleaned, Buffer.concat(output));
        }
      }
    } catch (error) {
      cleaned.delete();
      throw error;
    }
    const { changed, earliestHorizon, removedAbortMarkers } = progress;
    if (!changed && group.length === 1) {
      cleaned.delete();
      return earliestHorizon;
    }
    // The first segment stays even when empty, so that the log start offset survives a restart.
    const keep = !cleaned.isEmpty || log.sealedSegments()[0] === first;
    try {
      // Like Kafka, the cleaned segment keeps the newest modification time of those it replaces
      // (retention of segments without timestamps goes by it). The fsyncs run off the thread.
      if (keep) cleaned.setLastModifiedMs(Math.max(...group.map((segment) => segment.lastModifiedMs)));
      if (keep) await cleaned.sealAsync();
      if (!log.holdsSegments(group)) throw new CleaningAborted(`segment ${first.baseOffset} left the log during cleaning`);
    } catch (error) {
      cleaned.delete();
      throw error;
    }
    if (!keep) cleaned.delete();
    // Read at the swap, synchronously, so that no entry appended meanwhile can be missed.
    const entries = group.flatMap((segment) => segment.abortedTransactions).filter((entry) => !removedAbortMarkers.has(entry.lastOffset));
    log.replaceSegments(group, keep ? cleaned : null, this.#onSwapStep, entries);
    result.swaps += 1;
    result.bytesWritten += keep ? cleaned.sizeBytes : 0;
    return earliestHorizon;
  }

  /** Gives the event loop a turn once the current slice of work has lasted busySliceMs. */
  async #yieldIfDue(): Promise<void> {
    if (performance.now() - this.#sliceStartedMs < this.#busySliceMs) return;
    await nextTurn();
    this.#sliceStartedMs = performance.now();
  }

  /**
   * The whole batches of a segment, about readChunkBytes at a time, with an event-loop turn
   * after each chunk. Checks before every read that the segment is still part of the log.
   */
  async *#chunks(log: PartitionLog, segment: LogSegment): AsyncGenerator<{ buffer: Buffer; infos: BatchInfo[] }> {
    let position = 0;
    while (position < segment.sizeBytes) {
      if (!log.holdsSegments([segment])) throw new CleaningAborted(`segment ${segment.baseOffset} left the log during cleaning`);
      const remaining = segment.sizeBytes - position;
      let buffer = segment.readBytes(position, Math.min(this.#readChunkBytes, remaining));
      let infos = wholeBatches(buffer);
      if (infos.length === 0) {
        // The next batch is larger than a chunk: read exactly that batch.
        const header = inspectBatch(buffer, 0, remaining);
        if (typeof header === 'string') throw new Error(`log cleaner: segment ${segment.baseOffset} at byte ${position}: ${header}`);
        buffer = segment.readBytes(position, header.sizeBytes);
        infos = wholeBatches(buffer);
      }
      yield { buffer, infos };
      const last = infos[infos.length - 1] as BatchInfo;
      position += last.position + last.sizeBytes;
      await this.#yieldIfDue();
    }
  }
}

/**
 * The base offset below which segments may be compacted: the active segment, the broker's limit
 * and min.compaction.lag.ms each stop it at a segment boundary.
 */
function firstUncleanable(log: PartitionLog, sealed: readonly LogSegment[], firstDirty: bigint, nowMs: number, limit: bigint | undefined): bigint {
  const bases = log.segmentBaseOffsets;
  const activeBase = bases[bases.length - 1] as bigint;
  const minLagMs = log.config.minCompactionLagMs;
  for (const segment of sealed) {
    if (limit !== undefined && segment.nextOffset > limit) return segment.baseOffset;
    if (minLagMs > 0 && segment.nextOffset > firstDirty && nowMs - newestMs(segment) < minLagMs) return segment.baseOffset;
  }
  return activeBase;
}

function newestMs(segment: LogSegment): number {
  return segment.maxTimestamp === NO_TIMESTAMP ? segment.lastModifiedMs : Number(segment.maxTimestamp);
}

/** Consecutive segments whose sizes add up to at most segment.bytes, within the index's offset range. */
export function groupSegments(segments: readonly LogSegment[], config: LogConfig): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let current: LogSegment[] = [];
  let bytes = 0;
  for (const segment of segments) {
    const first = current[0];
    const fits = first !== undefined && bytes + segment.sizeBytes <= config.segmentBytes &&
      segment.nextOffset - 1n - first.baseOffset <= RELATIVE_OFFSET_MAX;
    if (!fits && current.length > 0) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(segment);
    bytes += segment.sizeBytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/**
 * What becomes of one batch: nothing, itself or its rewrite. Batches at or past the offset map's
 * end are copied unchanged; aborted data goes whole; markers and data batches take their own
 * rules. Counts into the pass result and the group's progress.
 */
function cleanBatch(buffer: Buffer, info: BatchInfo, context: PassContext, progress: GroupProgress): Buffer[] {
  const { result } = context;
  const bytes = buffer.subarray(info.position, info.position + info.sizeBytes);
  result.bytesRead += info.sizeBytes;
  result.recordsRead += info.recordCount;
  if (info.baseOffset >= context.endOffset) return [bytes];
  if (context.aborted.isAborted(buffer, info)) {
    progress.changed = true;
    result.recordsRemoved += info.recordCount;
    result.abortedRecordsRemoved += info.recordCount;
    return [];
  }
  if (isControl(info.attributes)) return cleanMarker(buffer, info, context, progress);
  const kept = compactData(buffer, info, context, progress);
  if (kept.length > 0 && isTransactional(info.attributes)) context.markers.dataKept(buffer, info);
  return kept;
}

function cleanMarker(buffer: Buffer, info: BatchInfo, context: PassContext, progress: GroupProgress): Buffer[] {
  const outcome = context.markers.marker(buffer, info);
  if (outcome.kind === 'removed') {
    progress.changed = true;
    context.result.markersRemoved += 1;
    context.result.recordsRemoved += info.recordCount;
    if (outcome.abort) progress.removedAbortMarkers.add(info.baseOffset);
    return [];
  }
  if (outcome.deleteHorizonMs !== null) progress.earliestHorizon = Math.min(progress.earliestHorizon, outcome.deleteHorizonMs);
  if (outcome.kind === 'kept') return [buffer.subarray(info.position, info.position + info.sizeBytes)];
  progress.changed = true;
  return [outcome.bytes];
}

/** A data batch under the offset map and the tombstone rules. */
function compactData(buffer: Buffer, info: BatchInfo, context: PassContext, progress: GroupProgress): Buffer[] {
  const outcome = compactBatch(buffer, info.position, info.sizeBytes, context.rules);
  if (outcome.kind !== 'removed' && outcome.deleteHorizonMs !== null) {
    progress.earliestHorizon = Math.min(progress.earliestHorizon, outcome.deleteHorizonMs);
  }
  if (outcome.kind === 'unchanged') return [buffer.subarray(info.position, info.position + info.sizeBytes)];
  progress.changed = true;
  context.result.recordsRemoved += outcome.removedRecords;
  context.result.tombstonesRemoved += outcome.removedTombstones;
  return outcome.kind === 'rewritten' ? [outcome.bytes] : [];
}

/** The batches that lie wholly inside `buffer`, from its start. */
function wholeBatches(buffer: Buffer): BatchInfo[] {
  const infos: BatchInfo[] = [];
  let at = 0;
  while (at < buffer.length) {
    const info = inspectBatch(buffer, at, buffer.length - at);
    if (typeof info === 'string') break;
    infos.push(info);
    at += info.sizeBytes;
  }
  return infos;
}

function keysOf(buffer: Buffer, info: BatchInfo): { key: string; offset: number }[] {
  const decoded = decodeBatch(buffer, info.position);
  if (info.lastOffset > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`log cleaner: offset ${info.lastOffset} exceeds the offset map's range`);
  const baseOffset = Number(decoded.header.baseOffset);
  const keys: { key: string; offset: number }[] = [];
  for (const record of decoded.records) {
    if (record.key !== null) keys.push({ key: keyOf(record.key), offset: baseOffset + record.offsetDelta });
  }
  return keys;
}

function appendCleaned(cleaned: LogSegment, buffer: Buffer): void {
  const infos = wholeBatches(buffer);
  const last = infos[infos.length - 1];
  const covered = last === undefined ? 0 : last.position + last.sizeBytes;
  if (covered !== buffer.length || last === undefined) throw new Error('log cleaner: cleaned output is not whole batches');
  if (cleaned.sizeBytes + buffer.length > SEGMENT_BYTES_MAX || last.lastOffset - cleaned.baseOffset > RELATIVE_OFFSET_MAX) {
    throw new Error(`log cleaner: cleaned segment ${cleaned.baseOffset} would break a segment bound`);
  }
  cleaned.append(buffer, infos);
}

function emptyResult(log: PartitionLog): CleanResult {
  return {
    status: 'skipped', reason: null, plan: null, retention: null, firstDirtyOffset: log.firstDirtyOffset,
    segmentsRead: 0, swaps: 0, bytesRead: 0, bytesWritten: 0, recordsRead: 0, recordsRemoved: 0, tombstonesRemoved: 0,
    abortedRecordsRemoved: 0, markersRemoved: 0, offsetMapFull: false,
  };
}

function skipped(result: CleanResult, reason: string): CleanResult {
  result.status = 'skipped';
  result.reason = reason;
  return result;
}
