// One segment of a partition log: a `.log` file of record batches plus its offset and time
// indexes and its aborted-transaction index. The segment owns its file descriptor and is changed only by its PartitionLog.
//
// All file access is synchronous on an open descriptor. An append is one pwrite into the page
// cache, which takes microseconds; wrapping it in a promise would cost more than the write and
// would let two appends interleave. fsync, the slow call, happens only where the flush policy,
// a roll or a close asks for it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD, BATCH_OFFSETS } from '../../core/records/header.ts';
import { type BatchInfo, inspectBatch, readFully, scanBatches, writeFully } from './batch-scan.ts';
import type { LogConfig } from './config.ts';
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  TIME_INDEX_SUFFIX,
  TXN_INDEX_SUFFIX,
  deleteSegmentFiles,
  segmentFileName,
  writeFilesAtomically,
  writeFilesAtomicallyAsync,
} from './files.ts';
import { OffsetIndex } from './offset-index.ts';
import { CLEANED_SUFFIX, cleanedFileName, removeCleanedFiles } from './swap.ts';
import { TimeIndex } from './time-index.ts';
import { type AbortedTransactionEntry, type FetchAbortedTransaction, TransactionIndex, type TransactionIndexStatus } from './txn-index.ts';

/** Index entries store offsets relative to the segment as u32; Kafka keeps them below 2^31. */
export const RELATIVE_OFFSET_MAX = 0x7fff_ffffn;

/** Kafka's "no timestamp". */
export const NO_TIMESTAMP = -1n;

export interface SegmentLoadOptions {
  /** Scan and CRC-check every batch instead of trusting the index files. */
  recover: boolean;
  /**
   * The log was compacted at some time (its cleanup.policy may have changed since), so batches
   * may skip offsets and need not start at the segment's base offset.
   */
  gapsAllowed?: boolean;
  /** The first batch must not start below this offset (the previous segment's end). */
  nextOffsetMin: bigint;
  nowMs: number;
}

export interface SegmentLoadResult {
  segment: LogSegment;
  /** Bytes cut off the end of the file because they did not form valid batches. */
  truncatedBytes: number;
  /** Why the cut happened, or null. */
  invalidReason: string | null;
  /** True when the index files were missing or corrupt, or recovery was asked for. */
  rebuiltIndexes: boolean;
  /** Not 'ok': the partition log must rebuild the aborted-transaction index from the log. */
  transactionIndexStatus: TransactionIndexStatus;
}

export interface ReadSlice {
  records: Buffer;
  /** Offset after the last returned batch; equal to the start batch's base when nothing fits. */
  nextOffset: bigint;
}

export class LogSegment {
  readonly baseOffset: bigint;
  #logFile: string;
  /** '' for a live segment; CLEANED_SUFFIX while the log cleaner writes its replacement. */
  #fileSuffix: string;
  #config: LogConfig;
  #fd: number;
  #sizeBytes: number;
  /** Offset after the last batch; the base offset while the segment is empty. */
  #nextOffset: bigint;
  /** Largest batch maxTimestamp in the segment, NO_TIMESTAMP while empty. */
  #maxTimestamp = NO_TIMESTAMP;
  /** Relative base offset of the first batch that reached #maxTimestamp. */
  #offsetOfMaxTimestamp = 0;
  /** maxTimestamp of the first batch: segment.ms counts from it, as in Kafka. */
  #firstBatchTimestamp: bigint | null = null;
  readonly #createdMs: number;
  #offsetIndex: OffsetIndex;
  #timeIndex = new TimeIndex();
  /** Set right after construction by create, createCleaned or load. */
  #transactionIndex!: TransactionIndex;
  /** See SegmentLoadOptions.gapsAllowed; cleaned segments always have it. */
  #gapsAllowed = false;
  /** Size at the last seal; -1 when never sealed in this process. */
  #sealedAtBytes = -1;
  #bytesSinceLastIndexEntry = 0;

  private constructor(directory: string, baseOffset: bigint, config: LogConfig, fd: number, sizeBytes: number, nowMs: number,
    fileSuffix = '') {
    this.baseOffset = baseOffset;
    this.#fileSuffix = fileSuffix;
    this.#logFile = path.join(directory, segmentFileName(baseOffset, LOG_SUFFIX) + fileSuffix);
    this.#config = config;
    this.#fd = fd;
    this.#sizeBytes = sizeBytes;
    this.#nextOffset = baseOffset;
    this.#createdMs = nowMs;
    this.#offsetIndex = new OffsetIndex(config.segmentIndexBytes);
  }

  /** Creates an empty segment; an existing .log with the same name is a programmer error. */
  static create(directory: string, baseOffset: bigint, config: LogConfig, nowMs: number): LogSegment {
    const fd = fs.openSync(path.join(directory, segmentFileName(baseOffset, LOG_SUFFIX)), 'wx+');
    // Index files without a .log are leftovers of an interrupted delete; they must not be
    // mistaken for this segment's indexes after a restart.
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      fs.rmSync(path.join(directory, segmentFileName(baseOffset, suffix)), { force: true });
    }
    const segment = new LogSegment(directory, baseOffset, config, fd, 0, nowMs);
    // Every segment has a transaction index file, empty or not, so a missing one means "rebuild".
    segment.#transactionIndex = TransactionIndex.create(segment.#siblingFile(TXN_INDEX_SUFFIX));
    return segment;
  }

  /**
   * Creates an empty segment whose files carry CLEANED_SUFFIX: the log cleaner's output, which
   * becomes a live segment only through the swap in swap.ts. Leftovers of an abandoned clean
   * with the same base offset are replaced.
   */
  static createCleaned(directory: string, baseOffset: bigint, config: LogConfig, nowMs: number): LogSegment {
    removeCleanedFiles(directory, baseOffset);
    const fd = fs.openSync(path.join(directory, cleanedFileName(baseOffset, LOG_SUFFIX)), 'wx+');
    const segment = new LogSegment(directory, baseOffset, config, fd, 0, nowMs, CLEANED_SUFFIX);
    segment.#gapsAllowed = true;
    segment.#transactionIndex = TransactionIndex.create(segment.#siblingFile(TXN_INDEX_SUFFIX));
    return segment;
  }

  /** Called once the swap renamed this cleaned segment's files to their final names. */
  adoptFinalFileNames(): void {
    if (this.#fileSuffix === '') throw new Error(`segment ${this.baseOffset}: already has its final file names`);
    this.#logFile = this.#logFile.slice(0, -this.#fileSuffix.length);
    this.#fileSuffix = '';
    this.#transactionIndex.renamedTo(this.#siblingFile(TXN_INDEX_SUFFIX));
  }

  /** Opens an existing segment, trusting its indexes unless recovery is asked for or they are bad. */
  static load(directory: string, baseOffset: bigint, config: LogConfig, options: SegmentLoadOptions): SegmentLoadResult {
    const fd = fs.openSync(path.join(directory, segmentFileName(baseOffset, LOG_SUFFIX)), 'r+');
    const segment = new LogSegment(directory, baseOffset, config, fd, fs.fstatSync(fd).size, options.nowMs);
    segment.#gapsAllowed = options.gapsAllowed ?? false;
    if (!options.recover && segment.#loadIndexes(options.nextOffsetMin)) {
      return { segment, truncatedBytes: 0, invalidReason: null, rebuiltIndexes: false, transactionIndexStatus: segment.#loadTransactionIndex() };
    }
    const { truncatedBytes, invalidReason } = segment.#rebuild(options.nextOffsetMin, true);
    return { segment, truncatedBytes, invalidReason, rebuiltIndexes: true, transactionIndexStatus: segment.#loadTransactionIndex() };
  }

  /** Loads the transaction index once the segment's extent is known, which its entries must fit. */
  #loadTransactionIndex(): TransactionIndexStatus {
    const { index, status } = TransactionIndex.load(this.#siblingFile(TXN_INDEX_SUFFIX), this.baseOffset, this.#nextOffset);
    this.#transactionIndex = index;
    return status;
  }

  /** Aborted transactions whose marker is in this segment, in marker order. */
  get abortedTransactions(): readonly AbortedTransactionEntry[] {
    return this.#transactionIndex.entries;
  }

  /** Indexes an abort marker written to this segment. */
  appendAbortedTransaction(entry: AbortedTransactionEntry): void {
    if (entry.lastOffset < this.baseOffset || entry.lastOffset >= this.#nextOffset) {
      throw new Error(`segment ${this.baseOffset}: abort marker ${entry.lastOffset} is not in [${this.baseOffset}, ${this.#nextOffset})`);
    }
    this.#transactionIndex.append(entry);
  }

  /** Replaces the whole transaction index (a rebuild, or a cleaned segment taking over entries). */
  replaceAbortedTransactions(entries: readonly AbortedTransactionEntry[]): void {
    this.#transactionIndex.replaceAll(entries);
  }

  /** See TransactionIndex.collect: true when later segments need not be looked at. */
  collectAbortedTransactions(fetchOffset: bigint, upperBoundOffset: bigint, into: FetchAbortedTransaction[]): boolean {
    return this.#transactionIndex.collect(fetchOffset, upperBoundOffset, into);
  }

  reconfigure(config: LogConfig): void {
    this.#config = config;
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  get nextOffset(): bigint {
    return this.#nextOffset;
  }

  get maxTimestamp(): bigint {
    return this.#maxTimestamp;
  }

  /** Base offset of the first batch that reached maxTimestamp. */
  get offsetOfMaxTimestamp(): bigint {
    return this.baseOffset + BigInt(this.#offsetOfMaxTimestamp);
  }

  get isEmpty(): boolean {
    return this.#sizeBytes === 0;
  }

  /**
   * How long this segment has been filling, by Kafka's rule for segment.ms: the incoming
   * timestamp minus the first batch's timestamp, or wall-clock age when there is no timestamp.
   */
  timeWaitedForRollMs(nowMs: number, incomingTimestamp: bigint): number {
    const first = this.#firstBatchTimestamp;
    if (first !== null && first >= 0n) return Number(incomingTimestamp - first);
    return nowMs - this.#createdMs;
  }

  /** File modification time, for retention of segments whose batches carry no timestamp. */
  get lastModifiedMs(): number {
    return fs.fstatSync(this.#fd).mtimeMs;
  }

  /** A cleaned segment keeps the modification time of the newest segment it replaces, as in Kafka. */
  setLastModifiedMs(timeMs: number): void {
    fs.futimesSync(this.#fd, timeMs / 1000, timeMs / 1000);
  }

  /** maxTimestamp of the first batch (max.compaction.lag.ms counts from it); null while empty. */
  get firstBatchTimestamp(): bigint | null {
    return this.#firstBatchTimestamp;
  }

  /** Whether `bytes` ending at `lastOffset` can go into this segment without breaking a bound. */
  canHold(bytes: number, lastOffset: bigint): boolean {
    if (this.isEmpty) return lastOffset - this.baseOffset <= RELATIVE_OFFSET_MAX;
    return (
      this.#sizeBytes + bytes <= this.#config.segmentBytes &&
      !this.#offsetIndex.isFull &&
      lastOffset - this.baseOffset <= RELATIVE_OFFSET_MAX
    );
  }

  /** Writes already-checked batches with one pwrite; `batches` positions are within `buffer`. */
  append(buffer: Buffer, batches: readonly BatchInfo[]): void {
    const first = batches[0];
    if (first === undefined || first.baseOffset < this.#nextOffset) {
      throw new Error(`segment ${this.baseOffset}: append at ${first?.baseOffset} below ${this.#nextOffset}`);
    }
    const position = this.#sizeBytes;
    writeFully(this.#fd, buffer, position);
    for (const batch of batches) this.#indexBatch({ ...batch, position: position + batch.position });
    this.#sizeBytes += buffer.length;
  }

  /** The batch holding `offset` (or the first one after it, past a compaction gap); null past the end. */
  locate(offset: bigint): BatchInfo | null {
    if (offset >= this.#nextOffset) return null;
    const relative = offset <= this.baseOffset ? 0 : Number(offset - this.baseOffset);
    const hint = this.#offsetIndex.lookup(relative);
    const found = this.#firstBatchFrom(hint.position, (batch) => batch.lastOffset >= offset);
    // An index entry that does not land on a batch boundary is corrupt; the log itself is the
    // truth, so fall back to a scan from the start rather than answer wrongly.
    if (found === 'invalid' && hint.position !== 0) {
      return this.#orNull(this.#firstBatchFrom(0, (batch) => batch.lastOffset >= offset));
    }
    return this.#orNull(found);
  }

  /** The first batch ending at or after `minOffset` whose maxTimestamp reaches the target, or null. */
  findByTimestamp(timestamp: bigint, minOffset: bigint): BatchInfo | null {
    if (this.#maxTimestamp < timestamp || minOffset >= this.#nextOffset) return null;
    const entry = this.#timeIndex.lookupBefore(timestamp);
    const byTime = entry === null ? 0 : this.#offsetIndex.lookup(entry.relativeOffset).position;
    const relativeMin = minOffset <= this.baseOffset ? 0 : Number(minOffset - this.baseOffset);
    const start = Math.max(byTime, this.#offsetIndex.lookup(relativeMin).position);
    const matches = (batch: BatchInfo) => batch.maxTimestamp >= timestamp && batch.lastOffset >= minOffset;
    const found = this.#firstBatchFrom(start, matches);
    if (found === 'invalid' && start !== 0) return this.#orNull(this.#firstBatchFrom(0, matches));
    return this.#orNull(found);
  }

  #firstBatchFrom(start: number, matches: (batch: BatchInfo) => boolean): BatchInfo | null | 'invalid' {
    let found: BatchInfo | null = null;
    const result = this.#scan(start, false, (batch) => {
      if (!matches(batch)) return true;
      found = batch;
      return false;
    });
    return found ?? (result.invalidReason === null ? null : 'invalid');
  }

  #orNull(found: BatchInfo | null | 'invalid'): BatchInfo | null {
    return found === 'invalid' ? null : found;
  }

  /**
   * Whole batches from `start` on: as many as fit in maxBytes (the first one regardless when
   * minOneBatch), none whose last offset reaches maxOffset. One pread, no per-batch copies.
   */
  readFrom(start: BatchInfo, maxBytes: number, maxOffset: bigint, minOneBatch: boolean): ReadSlice {
    const empty = { records: Buffer.alloc(0), nextOffset: start.baseOffset };
    if (start.lastOffset >= maxOffset) return empty;
    if (start.sizeBytes > maxBytes) {
      return minOneBatch ? { records: this.readBytes(start.position, start.sizeBytes), nextOffset: start.lastOffset + 1n } : empty;
    }
    const bytes = this.readBytes(start.position, Math.min(maxBytes, this.#sizeBytes - start.position));
    // When maxOffset lies beyond this segment only sizes matter, so the walk skips the bigint
    // offset reads; batches were checked when they were written and again on recovery.
    const bounded = maxOffset < this.#nextOffset;
    let at = 0;
    let lastAt = -1;
    while (at + BATCH_HEADER_BYTES <= bytes.length) {
      const sizeBytes = BATCH_LOG_OVERHEAD + bytes.readInt32BE(at + BATCH_OFFSETS.batchLength);
      if (sizeBytes < BATCH_HEADER_BYTES || at + sizeBytes > bytes.length) break;
      if (bounded && lastOffsetAt(bytes, at) >= maxOffset) break;
      lastAt = at;
      at += sizeBytes;
    }
    const nextOffset = lastAt < 0 ? start.baseOffset : lastOffsetAt(bytes, lastAt) + 1n;
    return { records: bytes.subarray(0, at), nextOffset };
  }

  readBytes(position: number, length: number): Buffer {
    const buffer = Buffer.allocUnsafe(length);
    readFully(this.#fd, buffer, length, position);
    return buffer;
  }

  /** Drops the batch holding `offset` and everything after it; returns the bytes removed. */
  truncateTo(offset: bigint): number {
    const batch = this.locate(offset);
    if (batch === null) return 0;
    const removed = this.#sizeBytes - batch.position;
    fs.ftruncateSync(this.#fd, batch.position);
    this.#sizeBytes = batch.position;
    this.#rebuild(this.baseOffset, false);
    this.#transactionIndex.truncateTo(this.#nextOffset);
    return removed;
  }

  /** Makes the segment durable with complete index files; called when it stops being active. */
  seal(): void {
    this.flush();
    this.writeIndexes(true);
    this.#transactionIndex.flush();
    this.trimIndexes();
    this.#sealedAtBytes = this.#sizeBytes;
  }

  /**
   * seal() without blocking the thread on fsync: the log cleaner makes its output durable this
   * way before the short synchronous swap. Nothing may append to the segment meanwhile.
   */
  async sealAsync(): Promise<void> {
    const sizeBytes = this.#sizeBytes;
    await new Promise<void>((resolve, reject) => fs.fsync(this.#fd, (error) => (error === null ? resolve() : reject(error))));
    if (this.#maxTimestamp !== NO_TIMESTAMP) this.#timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp);
    await writeFilesAtomicallyAsync(path.dirname(this.#logFile), [
      { file: this.#siblingFile(INDEX_SUFFIX), content: this.#offsetIndex.toBuffer() },
      { file: this.#siblingFile(TIME_INDEX_SUFFIX), content: this.#timeIndex.toBuffer() },
    ]);
    this.#transactionIndex.flush();
    this.trimIndexes();
    if (this.#sizeBytes !== sizeBytes) throw new Error(`segment ${this.baseOffset}: appended to while sealing`);
    this.#sealedAtBytes = sizeBytes;
  }

  /** True when seal() or sealAsync() made every byte durable, indexes included, and nothing came after. */
  get isSealed(): boolean {
    return this.#sealedAtBytes === this.#sizeBytes;
  }

  /** Releases index capacity that only an active segment needs. */
  trimIndexes(): void {
    this.#offsetIndex.trimToSize();
    this.#timeIndex.trimToSize();
  }

  flush(): void {
    fs.fsyncSync(this.#fd);
    this.#transactionIndex.flush();
  }

  /** Persists both indexes. The last time entry records the segment's largest timestamp. */
  writeIndexes(durable: boolean): void {
    if (this.#maxTimestamp !== NO_TIMESTAMP) {
      this.#timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp);
    }
    writeFilesAtomically(path.dirname(this.#logFile), [
      { file: this.#siblingFile(INDEX_SUFFIX), content: this.#offsetIndex.toBuffer() },
      { file: this.#siblingFile(TIME_INDEX_SUFFIX), content: this.#timeIndex.toBuffer() },
    ], durable);
  }

  close(): void {
    if (this.#fd < 0) return;
    fs.closeSync(this.#fd);
    this.#fd = -1;
  }

  /**
   * Closes and removes the segment's files. Reads copy their bytes, so nothing still points
   * here. The indexes go first: a crash in between leaves a .log whose indexes get rebuilt.
   */
  delete(): void {
    this.close();
    if (this.#fileSuffix === CLEANED_SUFFIX) removeCleanedFiles(path.dirname(this.#logFile), this.baseOffset);
    else deleteSegmentFiles(path.dirname(this.#logFile), this.baseOffset);
  }

  #siblingFile(suffix: string): string {
    return this.#logFile.slice(0, -(LOG_SUFFIX.length + this.#fileSuffix.length)) + suffix + this.#fileSuffix;
  }

  /** Adds a batch just written (or found by a scan) to the in-memory state and indexes. */
  #indexBatch(batch: BatchInfo): void {
    const relative = Number(batch.baseOffset - this.baseOffset);
    this.#firstBatchTimestamp ??= batch.maxTimestamp;
    if (batch.maxTimestamp > this.#maxTimestamp) {
      this.#maxTimestamp = batch.maxTimestamp;
      this.#offsetOfMaxTimestamp = relative;
    }
    if (this.#bytesSinceLastIndexEntry > this.#config.indexIntervalBytes && !this.#offsetIndex.isFull) {
      this.#offsetIndex.append(relative, batch.position);
      this.#timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp);
      this.#bytesSinceLastIndexEntry = 0;
    }
    this.#bytesSinceLastIndexEntry += batch.sizeBytes;
    this.#nextOffset = batch.lastOffset + 1n;
  }

  #scan(start: number, verifyCrc: boolean, visit: (batch: BatchInfo) => boolean | void) {
    const chunkBytes = Math.min(1024 * 1024, Math.max(64 * 1024, 2 * this.#config.indexIntervalBytes));
    const options = { verifyCrc, nextOffsetMin: 0n, offsetLimit: this.baseOffset + RELATIVE_OFFSET_MAX, chunkBytes };
    return scanBatches(this.#fd, start, this.#sizeBytes, options, visit);
  }

  #resetState(): void {
    this.#nextOffset = this.baseOffset;
    this.#maxTimestamp = NO_TIMESTAMP;
    this.#offsetOfMaxTimestamp = 0;
    this.#firstBatchTimestamp = null;
    this.#offsetIndex = new OffsetIndex(this.#config.segmentIndexBytes);
    this.#timeIndex = new TimeIndex();
    this.#bytesSinceLastIndexEntry = 0;
  }

  /** Rebuilds the indexes from the batches; cuts the file at the first invalid batch. */
  #rebuild(nextOffsetMin: bigint, verifyCrc: boolean): { truncatedBytes: number; invalidReason: string | null } {
    this.#resetState();
    // A segment of a log that is never compacted starts with a batch at its base offset; after
    // compaction the first kept batch may start later.
    const contiguous = !this.#gapsAllowed && !this.#config.cleanupPolicy.includes('compact');
    const floor = nextOffsetMin > this.baseOffset && !contiguous ? nextOffsetMin : this.baseOffset;
    const options = { verifyCrc, contiguous, nextOffsetMin: floor, offsetLimit: this.baseOffset + RELATIVE_OFFSET_MAX };
    const result = scanBatches(this.#fd, 0, this.#sizeBytes, options, (batch) => this.#indexBatch(batch));
    const truncatedBytes = this.#sizeBytes - result.validEndPosition;
    if (truncatedBytes > 0) {
      fs.ftruncateSync(this.#fd, result.validEndPosition);
      this.#sizeBytes = result.validEndPosition;
    }
    return { truncatedBytes, invalidReason: result.invalidReason };
  }

  /**
   * Trusts the index files of a segment below the recovery point after sanity checks, then
   * scans only the batches after the last offset entry. False means "rebuild instead".
   */
  #loadIndexes(nextOffsetMin: bigint): boolean {
    const offsetBytes = readIfExists(this.#siblingFile(INDEX_SUFFIX));
    const timeBytes = readIfExists(this.#siblingFile(TIME_INDEX_SUFFIX));
    if (offsetBytes === null || timeBytes === null) return false;
    const offsetIndex = OffsetIndex.fromBuffer(offsetBytes, this.#config.segmentIndexBytes, this.#sizeBytes);
    const timeIndex = TimeIndex.fromBuffer(timeBytes, Number(RELATIVE_OFFSET_MAX));
    if (offsetIndex === null || timeIndex === null) return false;
    this.#resetState();
    this.#offsetIndex = offsetIndex;
    this.#timeIndex = timeIndex;
    const lastEntry = offsetIndex.lastEntry();
    const lastTime = timeIndex.lastEntry();
    if (lastTime !== null) {
      this.#maxTimestamp = lastTime.timestamp;
      this.#offsetOfMaxTimestamp = lastTime.relativeOffset;
    }
    if (this.#sizeBytes >= BATCH_HEADER_BYTES) {
      const first = inspectBatch(this.readBytes(0, BATCH_HEADER_BYTES), 0, this.#sizeBytes);
      if (typeof first === 'string' || first.baseOffset < nextOffsetMin) return false;
      this.#firstBatchTimestamp = first.maxTimestamp;
    }
    const expectedFirst = lastEntry === null ? null : this.baseOffset + BigInt(lastEntry.relativeOffset);
    let firstSeen = true;
    let entryMatches = true;
    const tail = this.#scan(lastEntry?.position ?? 0, false, (batch) => {
      if (firstSeen && expectedFirst !== null) entryMatches = batch.baseOffset === expectedFirst;
      firstSeen = false;
      this.#indexBatchQuietly(batch, batch.position === lastEntry?.position);
      return entryMatches;
    });
    const relativeEnd = Number(this.#nextOffset - this.baseOffset);
    const timeOk = lastTime === null || lastTime.relativeOffset < relativeEnd;
    return tail.invalidReason === null && entryMatches && timeOk && this.#nextOffset >= nextOffsetMin;
  }

  /** Like #indexBatch for a trusted tail, except that the batch already in the index is not re-added. */
  #indexBatchQuietly(batch: BatchInfo, alreadyIndexed: boolean): void {
    if (alreadyIndexed) this.#bytesSinceLastIndexEntry = 0;
    this.#indexBatch(batch);
  }
}

function lastOffsetAt(buffer: Buffer, at: number): bigint {
  return buffer.readBigInt64BE(at + BATCH_OFFSETS.baseOffset) + BigInt(buffer.readInt32BE(at + BATCH_OFFSETS.lastOffsetDelta));
}

function readIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
