// File names and small durable files of a partition directory.
//
// <topic>-<partition>/
//   00000000000000000000.log        record batches, append-only
//   00000000000000000000.index      sparse offset index (see offset-index.ts)
//   00000000000000000000.timeindex  sparse time index (see time-index.ts)
//   00000000000000000000.txnindex   aborted transactions whose marker is in the segment (txn-index.ts)
//   partition.checkpoint            logStartOffset, recovery point, clean-shutdown flag
//   cleaner.checkpoint              the log cleaner's first dirty offset (compacted logs only)
//   <base>.log.cleaned, ...         a cleaned segment being written (see swap.ts)
//   <base>.swap                     a committed, unfinished segment swap (see swap.ts)
//
// Small files are replaced atomically (write a temporary file, fsync it, rename it over the old
// one, fsync the directory) so a crash leaves either the old or the new content, never a mix.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const TXN_INDEX_SUFFIX = '.txnindex';
export const TEMPORARY_SUFFIX = '.tmp';
export const CHECKPOINT_FILE = 'partition.checkpoint';

const OFFSET_DIGITS = 20;
const SEGMENT_FILE_PATTERN = /^(\d{20})\.log$/;

/** Segment files are named by base offset, zero-padded so that name order is offset order. */
export function segmentFileName(baseOffset: bigint, suffix: string): string {
  return baseOffset.toString().padStart(OFFSET_DIGITS, '0') + suffix;
}

/** Base offsets of the segments in `directory`, ascending, judged by their .log files. */
export function listSegmentBaseOffsets(directory: string): bigint[] {
  const offsets: bigint[] = [];
  for (const name of fs.readdirSync(directory)) {
    const match = SEGMENT_FILE_PATTERN.exec(name);
    if (match?.[1] !== undefined) offsets.push(BigInt(match[1]));
  }
  return offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Removes a segment's log and index files. */
export function deleteSegmentFiles(directory: string, baseOffset: bigint): void {
  for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, LOG_SUFFIX]) {
    fs.rmSync(path.join(directory, segmentFileName(baseOffset, suffix)), { force: true });
  }
}

/** Removes leftovers of interrupted atomic writes; their content was never made current. */
export function removeTemporaryFiles(directory: string): void {
  for (const name of fs.readdirSync(directory)) {
    if (name.endsWith(TEMPORARY_SUFFIX)) fs.rmSync(path.join(directory, name), { force: true });
  }
}

export function fsyncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces `file` with `content` so that readers see the old or the new bytes, never a mix. */
export function writeFileAtomically(file: string, content: Buffer | string, durable = true): void {
  writeFilesAtomically(path.dirname(file), [{ file, content }], durable);
}

/**
 * Replaces each file atomically (each on its own, not as a group), sharing one directory fsync
 * for all the renames in `directory`.
 */
export function writeFilesAtomically(
  directory: string,
  files: readonly { file: string; content: Buffer | string }[],
  durable = true,
): void {
  for (const { file, content } of files) {
    const temporary = file + TEMPORARY_SUFFIX;
    const fd = fs.openSync(temporary, 'w');
    try {
      fs.writeFileSync(fd, content);
      if (durable) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  }
  if (durable) fsyncDirectory(directory);
}

/** writeFilesAtomically (durable) without blocking the thread on its fsyncs. */
export async function writeFilesAtomicallyAsync(directory: string, files: readonly { file: string; content: Buffer | string }[]): Promise<void> {
  for (const { file, content } of files) {
    const temporary = file + TEMPORARY_SUFFIX;
    const handle = await fs.promises.open(temporary, 'w');
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(temporary, file);
  }
  const handle = await fs.promises.open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface PartitionCheckpoint {
  /** First offset a consumer may fetch; advanced by retention and DeleteRecords. */
  logStartOffset: bigint;
  /** Every offset below this is fsynced and its segments have complete index files. */
  recoveryPoint: bigint;
  /** True only between a clean close and the next open; lets that open skip recovery. */
  cleanShutdown: boolean;
}

const CHECKPOINT_VERSION = 'runnel-partition-checkpoint 1';

export function writeCheckpoint(directory: string, checkpoint: PartitionCheckpoint): void {
  const text =
    `${CHECKPOINT_VERSION}\n` +
    `logStartOffset ${checkpoint.logStartOffset}\n` +
    `recoveryPoint ${checkpoint.recoveryPoint}\n` +
    `cleanShutdown ${checkpoint.cleanShutdown ? 1 : 0}\n`;
  writeFileAtomically(path.join(directory, CHECKPOINT_FILE), text);
}

/** Reads the checkpoint; null when it is missing or unreadable, which forces a full recovery. */
export function readCheckpoint(directory: string): PartitionCheckpoint | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(directory, CHECKPOINT_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const lines = text.split('\n');
  const logStart = /^logStartOffset (\d+)$/.exec(lines[1] ?? '')?.[1];
  const recovery = /^recoveryPoint (\d+)$/.exec(lines[2] ?? '')?.[1];
  const clean = /^cleanShutdown ([01])$/.exec(lines[3] ?? '')?.[1];
  if (lines[0] !== CHECKPOINT_VERSION || logStart === undefined || recovery === undefined || clean === undefined) {
    return null;
  }
  return { logStartOffset: BigInt(logStart), recoveryPoint: BigInt(recovery), cleanShutdown: clean === '1' };
}

/**
 * The log cleaner's progress (Kafka's cleaner-offset-checkpoint, kept per partition): every
 * offset below firstDirtyOffset has been compacted once. A lost or stale file only makes the
 * next pass do more work, never less, because the cleaner writes it after its swaps are durable.
 */
export const CLEANER_CHECKPOINT_FILE = 'cleaner.checkpoint';
const CLEANER_CHECKPOINT_VERSION = 'runnel-cleaner-checkpoint 1';

export function writeCleanerCheckpoint(directory: string, firstDirtyOffset: bigint): void {
  writeFileAtomically(path.join(directory, CLEANER_CHECKPOINT_FILE), `${CLEANER_CHECKPOINT_VERSION}\nfirstDirtyOffset ${firstDirtyOffset}\n`);
}

/** The first dirty offset, or null when the file is missing or unreadable (everything is dirty). */
export function readCleanerCheckpoint(directory: string): bigint | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(directory, CLEANER_CHECKPOINT_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const lines = text.split('\n');
  const offset = /^firstDirtyOffset (\d+)$/.exec(lines[1] ?? '')?.[1];
  return lines[0] === CLEANER_CHECKPOINT_VERSION && offset !== undefined ? BigInt(offset) : null;
}
