// The log of one partition: an ordered list of segments in `<topic>-<partition>/`, of which the
// last is active (takes appends). One PartitionLog owns its directory; the broker calls it from
// one place per partition, so nothing here locks.
//
// Offsets: logStartOffset <= every readable offset < logEndOffset. The log end offset is the
// next offset to assign. High watermark and last stable offset are the broker's; reads take
// them as `maxOffset`.
//
// Durability: appends go to the page cache. fsync happens on segment roll, on close, and when
// the flush policy (flushMessages / flushMs) says so; by default never, relying on replication
// as Kafka does. A partition.checkpoint file records logStartOffset, the recovery point (every
// segment below it was fsynced with complete index files) and whether the last close was clean.
//
// Transactions: each segment indexes the aborted transactions whose abort marker it holds
// (txn-index.ts). The broker, which knows where a transaction began, adds an entry right after
// writing the marker; a read_committed fetch collects entries from the segment it reads on.
// Index files that are missing or torn are rebuilt on open by scanning the log from its start;
// after an unclean shutdown the recovered segments' abort markers are checked against their
// index, and a marker without its entry (the entry's write was lost) also means a rebuild.
import * as fs from 'node:fs';
import {
  ATTRIBUTE_LOG_APPEND_TIME,
  BATCH_OFFSETS,
  computeBatchCrc,
  rewriteBatchCrc,
  setBaseOffset,
  setPartitionLeaderEpoch,
} from '../../core/records/header.ts';
import { type BatchInfo, inspectBatch } from './batch-scan.ts';
import { type LogConfig, SEGMENT_BYTES_MAX } from './config.ts';
import {
  deleteSegmentFiles,
  listSegmentBaseOffsets,
  readCheckpoint,
  readCleanerCheckpoint,
  removeTemporaryFiles,
  writeCheckpoint,
  writeCleanerCheckpoint,
} from './files.ts';
import { type OffsetAndTimestamp, firstRecordAtOrAfter } from './record-timestamps.ts';
import { LogSegment, NO_TIMESTAMP } from './segment.ts';
import { type AbortedTransactionEntry, AbortedTransactionScanner, type FetchAbortedTransaction, abortMarkerOffsets } from './txn-index.ts';
import {
  type SwapHook,
  commitSwap,
  completeInterruptedSwaps,
  deleteReplacedSegments,
  finishSwap,
  promoteCleanedFiles,
} from './swap.ts';

export interface PartitionLogOptions {
  /** Wall clock in ms; tests inject their own. */
  nowMs?: () => number;
  /** Where recovery and deletion notes go; console.warn by default. */
  log?: (line: string) => void;
}

export interface AppendOptions {
  /** Stamped into each batch's partitionLeaderEpoch (outside the CRC). */
  leaderEpoch?: number;
  /** The LogAppendTime to stamp when the topic uses it; the log's clock otherwise. */
  logAppendTimeMs?: number;
}

export interface AppendResult {
  baseOffset: bigint;
  lastOffset: bigint;
  /** The stamped time with LogAppendTime, -1 with CreateTime (as in ProduceResponse). */
  logAppendTimeMs: bigint;
  /** Largest batch maxTimestamp among the appended batches. */
  maxTimestamp: bigint;
  recordCount: number;
}

export interface ReadOptions {
  /** Exclusive bound: no batch whose last offset reaches it is returned (high watermark, LSO). */
  maxOffset?: bigint;
  /** Return the first batch even when it is larger than maxBytes (Kafka's rule). Default true. */
  minOneBatch?: boolean;
}

/**
 * A read either succeeds (possibly with no records) or reports that the fetch offset lies outside
 * [logStartOffset, logEndOffset]: that is the client's OFFSET_OUT_OF_RANGE, data rather than an
 * exception, so the broker answers it with an error code per partition.
 */
export type ReadResult =
  | {
      status: 'ok';
      /** Whole raw batches from one segment, back to back. */
      records: Buffer;
      /** Base offset of the first returned batch (may be below the fetch offset); null when empty. */
      firstOffset: bigint | null;
      /** Offset after the last returned batch; the fetch offset when empty. */
      nextOffset: bigint;
      logStartOffset: bigint;
      logEndOffset: bigint;
    }
  | {
      status: 'offset-out-of-range';
      /** Always empty; present so that callers may read `records` before checking the status. */
      records: Buffer;
      firstOffset: null;
      nextOffset: bigint;
      logStartOffset: bigint;
      logEndOffset: bigint;
    };

export type DeletionReason = 'retention-ms' | 'retention-bytes' | 'log-start-offset' | 'truncation';

export interface DeletedSegment {
  baseOffset: bigint;
  nextOffset: bigint;
  sizeBytes: number;
  reason: DeletionReason;
}

export interface DeletionResult {
  deleted: DeletedSegment[];
  logStartOffset: bigint;
}

/** What open() found and did, for logs, metrics and tests. */
export interface OpenReport {
  /** The previous close was clean, so no segment was scanned for a torn tail. */
  cleanShutdown: boolean;
  /** Segments scanned batch by batch with CRC checks. */
  recoveredSegments: number;
  /** Segments whose index files were missing or corrupt and were rebuilt. */
  rebuiltIndexes: number;
  /** Bytes cut from torn or corrupt segment tails. */
  truncatedBytes: number;
  /** Segments dropped because they followed a corrupt one. */
  deletedSegments: number;
  /** Committed segment swaps of the log cleaner that a crash interrupted and open() finished. */
  completedSwaps: number;
  /** Uncommitted cleaned segments that open() discarded. */
  rolledBackCleans: number;
  /** Segments whose aborted-transaction index was missing or torn and was rebuilt from the log. */
  rebuiltTransactionIndexes: number;
}

export class PartitionLog {
  readonly directory: string;
  #config: LogConfig;
  readonly openReport: OpenReport;
  readonly #segments: LogSegment[];
  readonly #nowMs: () => number;
  readonly #log: (line: string) => void;
  /** First offset a consumer may fetch; persisted in partition.checkpoint. */
  #logStartOffset: bigint;
  /** Base offset of the oldest segment that may hold unsynced data. */
  #recoveryPoint: bigint;
  /** Records appended since the last fsync (flush.messages counts records). */
  #unflushedRecords = 0;
  #lastFlushMs: number;
  /** The log cleaner's progress: every offset below it was compacted once (cleaner.checkpoint). */
  #firstDirtyOffset: bigint;
  #compactedBefore: boolean;
  #closed = false;

  private constructor(directory: string, config: LogConfig, segments: LogSegment[], logStartOffset: bigint,
    report: OpenReport, nowMs: () => number, log: (line: string) => void) {
    this.directory = directory;
    this.#config = config;
    this.#segments = segments;
    this.#logStartOffset = logStartOffset;
    this.#recoveryPoint = this.#active.baseOffset;
    this.openReport = report;
    this.#nowMs = nowMs;
    this.#log = log;
    this.#lastFlushMs = nowMs();
    const cleanerCheckpoint = readCleanerCheckpoint(directory);
    this.#firstDirtyOffset = cleanerCheckpoint ?? logStartOffset;
    this.#compactedBefore = cleanerCheckpoint !== null;
  }

  /**
   * Opens (creating if needed) the partition directory. After an unclean shutdown every segment
   * from the recovery point on is scanned and its torn tail cut off; segments below it are
   * trusted, except that missing or implausible index files are rebuilt from the log.
   */
  static open(directory: string, config: LogConfig, options: PartitionLogOptions = {}): PartitionLog {
    const nowMs = options.nowMs ?? Date.now;
    const log = options.log ?? ((line: string) => console.warn(line));
    fs.mkdirSync(directory, { recursive: true });
    removeTemporaryFiles(directory);
    const swaps = completeInterruptedSwaps(directory, log);
    const checkpoint = readCheckpoint(directory);
    const cleanShutdown = checkpoint?.cleanShutdown ?? false;
    const loaded = loadSegments(directory, config, {
      recoverFrom: cleanShutdown ? null : (checkpoint?.recoveryPoint ?? 0n),
      // A cleaner checkpoint means the log was compacted once: its segments may have gaps even
      // if its cleanup.policy no longer says compact.
      gapsAllowed: readCleanerCheckpoint(directory) !== null,
      nowMs: nowMs(),
      log,
    });
    if (loaded.segments.length === 0) {
      loaded.segments.push(LogSegment.create(directory, checkpoint?.logStartOffset ?? 0n, config, nowMs()));
    }
    const first = loaded.segments[0] as LogSegment;
    const last = loaded.segments[loaded.segments.length - 1] as LogSegment;
    let logStartOffset = checkpoint?.logStartOffset ?? first.baseOffset;
    if (logStartOffset < first.baseOffset) logStartOffset = first.baseOffset;
    if (logStartOffset > last.nextOffset) logStartOffset = last.nextOffset;
    const report = {
      ...loaded.report, cleanShutdown, completedSwaps: swaps.completed, rolledBackCleans: swaps.rolledBack,
      rebuiltTransactionIndexes: loaded.transactionIndexesToRebuild.size,
    };
    const partitionLog = new PartitionLog(directory, config, loaded.segments, logStartOffset, report, nowMs, log);
    for (const segment of loaded.transactionIndexesToVerify) {
      if (!partitionLog.#transactionIndexMatchesMarkers(segment)) loaded.transactionIndexesToRebuild.add(segment);
    }
    report.rebuiltTransactionIndexes = loaded.transactionIndexesToRebuild.size;
    partitionLog.#rebuildTransactionIndexes(loaded.transactionIndexesToRebuild);
    partitionLog.#writeCheckpoint(false);
    return partitionLog;
  }

  get config(): LogConfig {
    return this.#config;
  }

  /** Applies changed topic settings (AlterConfigs); they take effect from the next append or check. */
  reconfigure(config: LogConfig): void {
    this.#config = config;
    for (const segment of this.#segments) segment.reconfigure(config);
  }

  get logStartOffset(): bigint {
    return this.#logStartOffset;
  }

  /** The next offset to assign. */
  get logEndOffset(): bigint {
    return this.#active.nextOffset;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.#segments) total += segment.sizeBytes;
    return total;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Records appended since the last fsync; the flush policy compares it with flushMessages. */
  get unflushedRecordCount(): number {
    return this.#unflushedRecords;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): bigint[] {
    return this.#segments.map((segment) => segment.baseOffset);
  }

  get #active(): LogSegment {
    return this.#segments[this.#segments.length - 1] as LogSegment;
  }

  /**
   * Appends batches the broker already validated, assigning offsets from the log end offset by
   * patching each batch's baseOffset in place (and with LogAppendTime its maxTimestamp, timestamp
   * type and CRC). One write; rolls first when the active segment is full or old.
   */
  append(batches: Buffer, options: AppendOptions = {}): AppendResult {
    this.#assertOpen();
    const nowMs = this.#nowMs();
    const appendTime = this.#config.messageTimestampType === 'LogAppendTime' ? BigInt(options.logAppendTimeMs ?? nowMs) : null;
    const infos = walkBatches(batches);
    let nextOffset = this.logEndOffset;
    for (const info of infos) {
      setBaseOffset(batches, info.position, nextOffset);
      if (options.leaderEpoch !== undefined) setPartitionLeaderEpoch(batches, info.position, options.leaderEpoch);
      if (appendTime !== null) stampLogAppendTime(batches, info, appendTime);
      info.lastOffset = nextOffset + (info.lastOffset - info.baseOffset);
      info.baseOffset = nextOffset;
      nextOffset = info.lastOffset + 1n;
    }
    return this.#write(batches, infos, nowMs, appendTime ?? -1n);
  }

  /**
   * Appends batches with the offsets they carry (a follower copying its leader). They must start
   * at or after the log end offset and increase; gaps are allowed for compacted leaders.
   */
  appendWithOffsets(batches: Buffer): AppendResult {
    this.#assertOpen();
    const infos = walkBatches(batches);
    const contiguous = !this.#config.cleanupPolicy.includes('compact');
    let nextOffsetMin = this.logEndOffset;
    for (const info of infos) {
      const gap = info !== infos[0] && contiguous && info.baseOffset !== nextOffsetMin;
      if (info.baseOffset < nextOffsetMin || gap) {
        throw new Error(`log ${this.directory}: batch at ${info.baseOffset} does not continue the log at ${nextOffsetMin}`);
      }
      nextOffsetMin = info.lastOffset + 1n;
    }
    return this.#write(batches, infos, this.#nowMs(), -1n);
  }

  #write(batches: Buffer, infos: BatchInfo[], nowMs: number, logAppendTimeMs: bigint): AppendResult {
    const first = infos[0] as BatchInfo;
    const last = infos[infos.length - 1] as BatchInfo;
    let maxTimestamp = NO_TIMESTAMP;
    let recordCount = 0;
    for (const info of infos) {
      if (info.maxTimestamp > maxTimestamp) maxTimestamp = info.maxTimestamp;
      recordCount += info.recordCount;
    }
    // Offsets inside a segment of a never-compacted log are contiguous (recovery checks that), so
    // a follower's batches that skip ahead start a new segment.
    const skipsAhead = first.baseOffset !== this.logEndOffset && !this.#config.cleanupPolicy.includes('compact');
    if (skipsAhead || this.#shouldRoll(batches.length, last.lastOffset, nowMs, maxTimestamp)) this.#roll(first.baseOffset);
    if (this.#active.sizeBytes + batches.length > SEGMENT_BYTES_MAX) {
      throw new Error(`log ${this.directory}: ${batches.length} bytes cannot fit one segment`);
    }
    const endBefore = this.logEndOffset;
    this.#active.append(batches, infos);
    if (this.logEndOffset !== last.lastOffset + 1n || this.logEndOffset <= endBefore) {
      throw new Error(`log ${this.directory}: log end offset ${this.logEndOffset} after appending up to ${last.lastOffset}`);
    }
    this.#unflushedRecords += recordCount;
    if (this.#unflushedRecords >= this.#config.flushMessages || nowMs - this.#lastFlushMs >= this.#config.flushMs) {
      this.flush();
    }
    return { baseOffset: first.baseOffset, lastOffset: last.lastOffset, logAppendTimeMs, maxTimestamp, recordCount };
  }

  #shouldRoll(bytes: number, lastOffset: bigint, nowMs: number, incomingTimestamp: bigint): boolean {
    const active = this.#active;
    if (!active.canHold(bytes, lastOffset)) return true;
    // The cleaner never touches the active segment, so a compacted log must roll within
    // max.compaction.lag.ms for that bound to hold (Kafka's KIP-354 does the same).
    const compacted = this.#config.cleanupPolicy.includes('compact');
    const rollMs = compacted ? Math.min(this.#config.segmentMs, this.#config.maxCompactionLagMs) : this.#config.segmentMs;
    return !active.isEmpty && active.timeWaitedForRollMs(nowMs, incomingTimestamp) > rollMs;
  }

  /** Seals the active segment (fsync + index files) and starts a new one at `baseOffset`. */
  #roll(baseOffset: bigint): void {
    const old = this.#active;
    if (old.isEmpty) {
      if (old.baseOffset === baseOffset) return;
      old.delete();
      this.#segments.pop();
    } else {
      old.seal();
    }
    this.#segments.push(LogSegment.create(this.directory, baseOffset, this.#config, this.#nowMs()));
    this.#recoveryPoint = baseOffset;
    this.#writeCheckpoint(false);
  }

  /** Starts a new segment now, whatever its size and age (used by tests and admin tools). */
  roll(): void {
    this.#assertOpen();
    this.#roll(this.logEndOffset);
  }

  /**
   * Whole batches from the one containing fetchOffset, within maxBytes and below maxOffset,
   * from a single segment (a client fetches again for more, as with Kafka).
   */
  read(fetchOffset: bigint, maxBytes: number, options: ReadOptions = {}): ReadResult {
    this.#assertOpen();
    const logStartOffset = this.#logStartOffset;
    const logEndOffset = this.logEndOffset;
    if (fetchOffset < logStartOffset || fetchOffset > logEndOffset) {
      const records = Buffer.alloc(0);
      return { status: 'offset-out-of-range', records, firstOffset: null, nextOffset: fetchOffset, logStartOffset, logEndOffset };
    }
    const maxOffset = options.maxOffset !== undefined && options.maxOffset < logEndOffset ? options.maxOffset : logEndOffset;
    const empty = { status: 'ok', records: Buffer.alloc(0), firstOffset: null, nextOffset: fetchOffset, logStartOffset, logEndOffset } as const;
    if (fetchOffset >= maxOffset) return empty;
    for (let i = this.#segmentIndexFor(fetchOffset); i < this.#segments.length; i += 1) {
      const segment = this.#segments[i] as LogSegment;
      const start = segment.locate(fetchOffset);
      if (start === null) continue;
      const slice = segment.readFrom(start, maxBytes, maxOffset, options.minOneBatch ?? true);
      if (slice.records.length === 0) return empty;
      return { ...empty, records: slice.records, firstOffset: start.baseOffset, nextOffset: slice.nextOffset };
    }
    return empty;
  }

  /**
   * Indexes the abort marker just written at `entry.lastOffset`. When the flush policy already
   * made the marker durable, the entry is made durable too, so a crash cannot keep one without
   * the other.
   */
  appendAbortedTransaction(entry: AbortedTransactionEntry): void {
    this.#assertOpen();
    const segment = this.#segments[this.#segmentIndexFor(entry.lastOffset)] as LogSegment;
    segment.appendAbortedTransaction(entry);
    if (this.#unflushedRecords === 0) segment.flush();
  }

  /**
   * The aborted transactions a read_committed fetch of [fetchOffset, upperBoundOffset) must
   * report: those overlapping the range, found in the segment holding fetchOffset and the ones
   * after it, until an entry's last stable offset shows that nothing later can overlap.
   */
  collectAbortedTransactions(fetchOffset: bigint, upperBoundOffset: bigint): FetchAbortedTransaction[] {
    this.#assertOpen();
    const found: FetchAbortedTransaction[] = [];
    for (let i = this.#segmentIndexFor(fetchOffset); i < this.#segments.length; i += 1) {
      if ((this.#segments[i] as LogSegment).collectAbortedTransactions(fetchOffset, upperBoundOffset, found)) break;
    }
    return found;
  }

  /**
   * Every aborted-transaction entry of every segment, the active one included, in marker order.
   * The log cleaner needs each transaction's whole extent (first offset to marker), which the
   * fetch-shaped collectAbortedTransactions does not give.
   */
  abortedTransactionEntries(): AbortedTransactionEntry[] {
    this.#assertOpen();
    return this.#segments.flatMap((segment) => segment.abortedTransactions);
  }

  /** True when the segment's index holds exactly one entry per abort marker in the segment. */
  #transactionIndexMatchesMarkers(segment: LogSegment): boolean {
    const markers: bigint[] = [];
    for (let start = segment.locate(segment.baseOffset); start !== null;) {
      const slice = segment.readFrom(start, TRANSACTION_REBUILD_READ_BYTES, segment.nextOffset, true);
      if (slice.records.length === 0) break;
      markers.push(...abortMarkerOffsets(slice.records));
      start = segment.locate(slice.nextOffset);
    }
    const entries = segment.abortedTransactions;
    return entries.length === markers.length && entries.every((entry, index) => entry.lastOffset === markers[index]);
  }

  /**
   * Rebuilds the transaction indexes of `segments` with one scan of the log from its first
   * segment: where a transaction began may lie in any earlier segment. Only segments whose
   * index is missing or torn come here, so this is rare (a crash mid-write, an old directory).
   */
  #rebuildTransactionIndexes(segments: ReadonlySet<LogSegment>): void {
    if (segments.size === 0) return;
    const scanner = new AbortedTransactionScanner();
    for (const segment of this.#segments) {
      const entries: AbortedTransactionEntry[] = [];
      for (let start = segment.locate(segment.baseOffset); start !== null;) {
        const slice = segment.readFrom(start, TRANSACTION_REBUILD_READ_BYTES, segment.nextOffset, true);
        if (slice.records.length === 0) break;
        entries.push(...scanner.visit(slice.records));
        start = segment.locate(slice.nextOffset);
      }
      if (segments.has(segment)) segment.replaceAbortedTransactions(entries);
    }
    this.#log(`log ${this.directory}: rebuilt the aborted-transaction index of ${segments.size} segment(s) from the log`);
  }

  /**
   * The first offset whose record timestamp is at or after `timestampMs` (ListOffsets), never
   * below logStartOffset; null when every record is older. Compressed batches are answered at
   * batch granularity (see record-timestamps.ts).
   */
  offsetForTimestamp(timestampMs: bigint): OffsetAndTimestamp | null {
    this.#assertOpen();
    for (const segment of this.#segments) {
      const batch = segment.findByTimestamp(timestampMs, this.#logStartOffset);
      if (batch === null) continue;
      const bytes = segment.readBytes(batch.position, batch.sizeBytes);
      const found = firstRecordAtOrAfter(bytes, timestampMs, this.#logStartOffset);
      if (found !== null) return found;
    }
    return null;
  }

  /** The record with the largest timestamp (ListOffsets -3), at batch granularity for compressed batches. */
  maxTimestampOffset(): OffsetAndTimestamp | null {
    this.#assertOpen();
    let best: LogSegment | null = null;
    for (const segment of this.#segments) {
      if (segment.nextOffset <= this.#logStartOffset) continue;
      if (segment.maxTimestamp !== NO_TIMESTAMP && (best === null || segment.maxTimestamp > best.maxTimestamp)) best = segment;
    }
    if (best === null) return null;
    const batch = best.locate(best.offsetOfMaxTimestamp);
    if (batch === null) return null;
    return firstRecordAtOrAfter(best.readBytes(batch.position, batch.sizeBytes), best.maxTimestamp, this.#logStartOffset);
  }

  /**
   * Advances logStartOffset (DeleteRecords) and deletes the segments wholly below it. The broker
   * checks the offset against the high watermark; past the log end it is a programmer error.
   */
  deleteRecordsBefore(offset: bigint): DeletionResult {
    this.#assertOpen();
    if (offset > this.logEndOffset) throw new Error(`log ${this.directory}: delete before ${offset} past the log end ${this.logEndOffset}`);
    if (offset <= this.#logStartOffset) return { deleted: [], logStartOffset: this.#logStartOffset };
    this.#logStartOffset = offset;
    if (offset === this.logEndOffset && !this.#active.isEmpty) this.#roll(offset);
    const deleted = this.#deleteOldest('log-start-offset', (_segment, next) => next.baseOffset <= offset);
    this.#writeCheckpoint(false);
    return { deleted, logStartOffset: this.#logStartOffset };
  }

  /**
   * Deletes whole non-active segments: those whose newest timestamp is older than retentionMs,
   * then the oldest while the partition is larger than retentionBytes. The active segment goes
   * only after it rolls (segment.ms bounds how long that takes).
   */
  applyRetention(nowMs: number = this.#nowMs()): DeletionResult {
    this.#assertOpen();
    if (!this.#config.cleanupPolicy.includes('delete')) return { deleted: [], logStartOffset: this.#logStartOffset };
    const deleted: DeletedSegment[] = [];
    const { retentionMs, retentionBytes } = this.#config;
    if (retentionMs >= 0) {
      deleted.push(...this.#deleteOldest('retention-ms', (segment) => nowMs - newestTimestampMs(segment) > retentionMs));
    }
    if (retentionBytes >= 0) {
      let excess = this.sizeBytes - retentionBytes;
      deleted.push(...this.#deleteOldest('retention-bytes', (segment) => {
        if (excess - segment.sizeBytes < 0) return false;
        excess -= segment.sizeBytes;
        return true;
      }));
    }
    if (deleted.length > 0) this.#writeCheckpoint(false);
    return { deleted, logStartOffset: this.#logStartOffset };
  }

  /** Deletes non-active segments from the oldest while `shouldDelete` holds; advances logStartOffset. */
  #deleteOldest(reason: DeletionReason, shouldDelete: (segment: LogSegment, next: LogSegment) => boolean): DeletedSegment[] {
    const deleted: DeletedSegment[] = [];
    while (this.#segments.length > 1) {
      const segment = this.#segments[0] as LogSegment;
      const next = this.#segments[1] as LogSegment;
      if (!shouldDelete(segment, next)) break;
      deleted.push({ baseOffset: segment.baseOffset, nextOffset: segment.nextOffset, sizeBytes: segment.sizeBytes, reason });
      this.#segments.shift();
      segment.delete();
      if (this.#logStartOffset < next.baseOffset) this.#logStartOffset = next.baseOffset;
    }
    if (deleted.length > 0) this.#log(`log ${this.directory}: deleted ${deleted.length} segment(s) (${reason}), log start offset ${this.#logStartOffset}`);
    return deleted;
  }

  /**
   * Drops the batch holding `offset` and everything after it (a follower diverged from its
   * leader). Works at batch granularity, so the new log end offset may be below `offset`.
   */
  truncateTo(offset: bigint): { logEndOffset: bigint; truncatedBytes: number } {
    this.#assertOpen();
    let truncatedBytes = 0;
    if (offset >= this.logEndOffset) return { logEndOffset: this.logEndOffset, truncatedBytes };
    while (this.#segments.length > 1 && this.#active.baseOffset >= offset) {
      truncatedBytes += this.#active.sizeBytes;
      this.#active.delete();
      this.#segments.pop();
    }
    if (this.#active.baseOffset >= offset) {
      truncatedBytes += this.#active.sizeBytes;
      this.#active.delete();
      this.#segments.pop();
      this.#segments.push(LogSegment.create(this.directory, offset, this.#config, this.#nowMs()));
    } else {
      truncatedBytes += this.#active.truncateTo(offset);
    }
    if (this.#logStartOffset > this.logEndOffset) this.#logStartOffset = this.logEndOffset;
    this.#recoveryPoint = this.#active.baseOffset;
    this.#writeCheckpoint(false);
    if (this.#firstDirtyOffset > this.logEndOffset) this.markCleanedUpTo(this.logEndOffset);
    return { logEndOffset: this.logEndOffset, truncatedBytes };
  }

  // -------------------------------------------------------------------------------------------
  // For the log cleaner (cleaner.ts), which reads sealed segments between event-loop turns and
  // hands back a cleaned replacement that is swapped in here, synchronously, in one piece.

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Every offset below this was compacted at least once; within [logStartOffset, logEndOffset]. */
  get firstDirtyOffset(): bigint {
    if (this.#firstDirtyOffset < this.#logStartOffset) return this.#logStartOffset;
    return this.#firstDirtyOffset > this.logEndOffset ? this.logEndOffset : this.#firstDirtyOffset;
  }

  /**
   * Records the cleaner's progress durably (Kafka's cleaner-offset-checkpoint). The file's
   * existence also tells recovery that segments may have offset gaps, so the cleaner writes it
   * before its first swap.
   */
  markCleanedUpTo(firstDirtyOffset: bigint): void {
    this.#assertOpen();
    this.#firstDirtyOffset = firstDirtyOffset;
    this.#compactedBefore = true;
    writeCleanerCheckpoint(this.directory, firstDirtyOffset);
  }

  /** True once a cleaner checkpoint exists for this partition. */
  get compactedBefore(): boolean {
    return this.#compactedBefore;
  }

  /** The segments the cleaner may read: all but the active one, oldest first. */
  sealedSegments(): LogSegment[] {
    return this.#segments.slice(0, -1);
  }

  /** True while the log is open and `group` are still consecutive sealed segments of it. */
  holdsSegments(group: readonly LogSegment[]): boolean {
    if (this.#closed || group.length === 0) return false;
    const at = this.#segments.indexOf(group[0] as LogSegment);
    if (at < 0 || at + group.length >= this.#segments.length) return false;
    return group.every((segment, i) => this.#segments[at + i] === segment);
  }

  /** An empty segment with `.cleaned` file names, for the cleaner to fill. */
  createCleanedSegment(baseOffset: bigint): LogSegment {
    this.#assertOpen();
    return LogSegment.createCleaned(this.directory, baseOffset, this.#config, this.#nowMs());
  }

  /**
   * Puts `cleaned` (null: nothing survived) in place of `group` with the crash-safe swap of
   * swap.ts. Synchronous, so no read or append sees a half-swapped log; a cleaned segment that is
   * not sealed yet is sealed first (the cleaner seals it asynchronously beforehand). `onStep` runs
   * after each step; tests throw from it to simulate a crash there. `abortedTransactions`, when
   * given, is what the cleaned segment's transaction index must hold (the entries of the markers
   * the cleaner kept); by default it takes over every entry of the replaced segments.
   */
  replaceSegments(group: readonly LogSegment[], cleaned: LogSegment | null, onStep: SwapHook = () => {},
    abortedTransactions?: readonly AbortedTransactionEntry[]): void {
    this.#assertOpen();
    const first = group[0];
    if (first === undefined || !this.holdsSegments(group)) throw new Error(`log ${this.directory}: replaced segments are not in the log`);
    if (cleaned !== null && (cleaned.baseOffset !== first.baseOffset || cleaned.nextOffset > (group[group.length - 1] as LogSegment).nextOffset)) {
      throw new Error(`log ${this.directory}: cleaned segment ${cleaned.baseOffset} does not fit the segments it replaces`);
    }
    const replacedBases = group.map((segment) => segment.baseOffset);
    // An entry whose abort marker is gone must go too: a read_committed consumer would otherwise
    // skip the producer's transactional records from the entry's first offset until a marker
    // that never comes, committed ones included.
    if (cleaned !== null && cleaned.abortedTransactions.length === 0) {
      const carried = abortedTransactions ?? group.flatMap((segment) => segment.abortedTransactions);
      if (carried.length > 0) {
        cleaned.replaceAbortedTransactions(carried);
        if (cleaned.isSealed) cleaned.flush();
      }
    }
    if (cleaned !== null && !cleaned.isSealed) cleaned.seal();
    onStep('cleaned-written');
    commitSwap(this.directory, { replacedBases, hasCleanedSegment: cleaned !== null });
    onStep('swap-committed');
    for (const segment of group) segment.close();
    deleteReplacedSegments(this.directory, replacedBases);
    onStep('replaced-deleted');
    promoteCleanedFiles(this.directory, first.baseOffset, cleaned !== null);
    cleaned?.adoptFinalFileNames();
    onStep('cleaned-renamed');
    finishSwap(this.directory, first.baseOffset);
    this.#segments.splice(this.#segments.indexOf(first), group.length, ...(cleaned === null ? [] : [cleaned]));
    onStep('swap-finished');
  }

  /** fsyncs the active segment; rolled segments were synced when they rolled. */
  flush(): void {
    this.#assertOpen();
    this.#active.flush();
    this.#unflushedRecords = 0;
    this.#lastFlushMs = this.#nowMs();
  }

  /** Flushes when flushMs has passed since the last fsync and something is unsynced. */
  flushIfDue(nowMs: number = this.#nowMs()): boolean {
    if (this.#closed || this.#unflushedRecords === 0 || nowMs - this.#lastFlushMs < this.#config.flushMs) return false;
    this.flush();
    return true;
  }

  /** Clean close: fsync, write the active segment's indexes, mark the shutdown clean. */
  close(): void {
    if (this.#closed) return;
    this.#active.flush();
    this.#active.writeIndexes(true);
    for (const segment of this.#segments) segment.close();
    this.#closed = true;
    this.#writeCheckpoint(true);
  }

  #segmentIndexFor(offset: bigint): number {
    let low = 0;
    let high = this.#segments.length - 1;
    let found = 0;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.#segments[middle] as LogSegment).baseOffset <= offset) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  #writeCheckpoint(cleanShutdown: boolean): void {
    writeCheckpoint(this.directory, {
      logStartOffset: this.#logStartOffset,
      recoveryPoint: this.#recoveryPoint,
      cleanShutdown,
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`log ${this.directory}: used after close`);
  }
}

/**
 * Splits a buffer of back-to-back batches. The broker validated them, so anything but whole
 * magic-2 batches with good CRCs is a programmer error; checking again before the bytes reach
 * the disk costs a CRC pass at several GB/s and keeps a broker bug from becoming corrupt data.
 */
function walkBatches(buffer: Buffer): BatchInfo[] {
  const infos: BatchInfo[] = [];
  let at = 0;
  while (at < buffer.length) {
    const info = inspectBatch(buffer, at, buffer.length - at);
    if (typeof info === 'string') throw new Error(`log append: malformed batch at byte ${at}: ${info}`);
    if (computeBatchCrc(buffer, at, info.sizeBytes) !== buffer.readUInt32BE(at + BATCH_OFFSETS.crc)) {
      throw new Error(`log append: CRC mismatch in the batch at byte ${at}`);
    }
    infos.push(info);
    at += info.sizeBytes;
  }
  if (infos.length === 0) throw new Error('log append: no batches');
  return infos;
}

function stampLogAppendTime(buffer: Buffer, info: BatchInfo, appendTime: bigint): void {
  const attributes = buffer.readInt16BE(info.position + BATCH_OFFSETS.attributes) | ATTRIBUTE_LOG_APPEND_TIME;
  buffer.writeInt16BE(attributes, info.position + BATCH_OFFSETS.attributes);
  buffer.writeBigInt64BE(appendTime, info.position + BATCH_OFFSETS.maxTimestamp);
  rewriteBatchCrc(buffer, info.position, info.sizeBytes);
  info.maxTimestamp = appendTime;
  info.attributes = attributes;
}

function newestTimestampMs(segment: LogSegment): number {
  return segment.maxTimestamp === NO_TIMESTAMP ? segment.lastModifiedMs : Number(segment.maxTimestamp);
}

/** Bytes read per step when a transaction index is rebuilt. */
const TRANSACTION_REBUILD_READ_BYTES = 1024 * 1024;

interface LoadedSegments {
  segments: LogSegment[];
  /** Segments whose aborted-transaction index must be rebuilt from the log. */
  transactionIndexesToRebuild: Set<LogSegment>;
  /** Recovered segments whose intact index may still lack the entry of a marker written just before a crash. */
  transactionIndexesToVerify: Set<LogSegment>;
  report: Omit<OpenReport, 'cleanShutdown' | 'completedSwaps' | 'rolledBackCleans' | 'rebuiltTransactionIndexes'>;
}

/**
 * Loads the segments in base-offset order. Segments from the one holding `recoverFrom` on are
 * CRC-scanned; if one had to be cut, the segments after it cannot be trusted and are deleted.
 */
function loadSegments(directory: string, config: LogConfig,
  options: { recoverFrom: bigint | null; gapsAllowed: boolean; nowMs: number; log: (line: string) => void }): LoadedSegments {
  const bases = listSegmentBaseOffsets(directory);
  const report = { recoveredSegments: 0, rebuiltIndexes: 0, truncatedBytes: 0, deletedSegments: 0 };
  const recoverFrom = options.recoverFrom;
  const firstRecovered = recoverFrom === null ? bases.length : Math.max(0, bases.findLastIndex((base) => base <= recoverFrom));
  const segments: LogSegment[] = [];
  const rescanned = new Set<LogSegment>();
  const transactionIndexesToRebuild = new Set<LogSegment>();
  const transactionIndexesToVerify = new Set<LogSegment>();
  let nextOffsetMin = 0n;
  for (let i = 0; i < bases.length; i += 1) {
    const recover = i >= firstRecovered;
    const result = LogSegment.load(directory, bases[i] as bigint, config, {
      recover, nextOffsetMin, nowMs: options.nowMs, gapsAllowed: options.gapsAllowed,
    });
    segments.push(result.segment);
    nextOffsetMin = result.segment.nextOffset;
    if (result.rebuiltIndexes) rescanned.add(result.segment);
    if (result.transactionIndexStatus !== 'ok') transactionIndexesToRebuild.add(result.segment);
    else if (recover) transactionIndexesToVerify.add(result.segment);
    if (recover) report.recoveredSegments += 1;
    else if (result.rebuiltIndexes) report.rebuiltIndexes += 1;
    if (result.invalidReason !== null) {
      report.truncatedBytes += result.truncatedBytes;
      options.log(`log ${directory}: segment ${bases[i]} ends in an invalid batch (${result.invalidReason}); ` +
        `dropped ${result.truncatedBytes} bytes`);
      for (const later of bases.slice(i + 1)) {
        options.log(`log ${directory}: deleting segment ${later}, which follows a corrupt segment`);
        deleteSegmentFiles(directory, later);
        report.deletedSegments += 1;
      }
      break;
    }
  }
  // Rescanned segments get durable index files now, so the recovery point can move past them.
  for (const segment of segments.slice(0, -1)) {
    if (rescanned.has(segment)) segment.seal();
    else segment.trimIndexes();
  }
  return { segments, report, transactionIndexesToRebuild, transactionIndexesToVerify };
}
