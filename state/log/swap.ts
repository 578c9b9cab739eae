// The file protocol that puts a cleaned segment in place of the segments it was made from, so
// that a crash at any moment leaves either the old segments or the cleaned one, never both and
// never neither.
//
//   1. The cleaner writes `<base>.log.cleaned`, `<base>.index.cleaned`, `<base>.timeindex.cleaned`
//      and `<base>.txnindex.cleaned` (base = the first replaced segment's base offset; the
//      transaction index carries over the replaced segments' aborted transactions) and fsyncs
//      them and the directory.
//   2. Commit point: `<base>.swap` is written atomically. It lists the base offsets of every
//      segment the cleaned one replaces and whether a cleaned segment exists at all (a group
//      whose every record was removed leaves none, and its segments are simply deleted).
//   3. The replaced segments other than `<base>` are deleted, then each `<base>.*.cleaned` file is
//      renamed over its final name (indexes first, the log last); the directory is fsynced.
//   4. `<base>.swap` is removed and the directory fsynced again, so a finished swap can never be
//      replayed against segments created later.
//
// Recovery on open (completeInterruptedSwaps): a `.swap` manifest means the commit happened, so
// steps 3 and 4 are repeated (each is idempotent); `.cleaned` files without a manifest are the
// leftovers of an uncommitted clean and are removed, which rolls it back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  TIME_INDEX_SUFFIX,
  TXN_INDEX_SUFFIX,
  deleteSegmentFiles,
  fsyncDirectory,
  segmentFileName,
  writeFileAtomically,
} from './files.ts';

export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';

const SWAP_VERSION = 'runnel-segment-swap 1';
const SWAP_FILE_PATTERN = /^(\d{20})\.swap$/;

/** The steps of a swap, in order; tests throw from a hook after each to simulate a crash. */
export type SwapStep = 'cleaned-written' | 'swap-committed' | 'replaced-deleted' | 'cleaned-renamed' | 'swap-finished';

export type SwapHook = (step: SwapStep) => void;

/** Index files go before the log so that a half-renamed set is completed, never mistaken. */
const CLEANED_FILE_ORDER = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, LOG_SUFFIX] as const;

export function cleanedFileName(baseOffset: bigint, suffix: string): string {
  return segmentFileName(baseOffset, suffix) + CLEANED_SUFFIX;
}

export interface SwapManifest {
  /** Base offsets of the replaced segments, ascending; the cleaned segment takes the first. */
  replacedBases: readonly bigint[];
  /** False when the cleaning removed every record, so the replaced segments simply go. */
  hasCleanedSegment: boolean;
}

/** Step 2: makes the swap durable; from here on recovery completes it. */
export function commitSwap(directory: string, manifest: SwapManifest): void {
  const first = manifest.replacedBases[0];
  if (first === undefined) throw new Error(`swap in ${directory}: nothing to replace`);
  const bases = manifest.replacedBases.map((base) => `${base}\n`).join('');
  const text = `${SWAP_VERSION}\ncleaned ${manifest.hasCleanedSegment ? 1 : 0}\n${bases}`;
  writeFileAtomically(path.join(directory, segmentFileName(first, SWAP_SUFFIX)), text);
}

/** Step 3, first half: removes the replaced segments other than the one the cleaned files take over. */
export function deleteReplacedSegments(directory: string, replacedBases: readonly bigint[]): void {
  for (const base of replacedBases.slice(1)) deleteSegmentFiles(directory, base);
}

/**
 * Step 3, second half: renames whichever `.cleaned` files of `baseOffset` remain over their final
 * names, or deletes the segment at `baseOffset` when the cleaning left nothing.
 */
export function promoteCleanedFiles(directory: string, baseOffset: bigint, hasCleanedSegment: boolean): void {
  if (!hasCleanedSegment) {
    deleteSegmentFiles(directory, baseOffset);
    return;
  }
  for (const suffix of CLEANED_FILE_ORDER) {
    const cleaned = path.join(directory, cleanedFileName(baseOffset, suffix));
    if (fs.existsSync(cleaned)) fs.renameSync(cleaned, path.join(directory, segmentFileName(baseOffset, suffix)));
  }
  fsyncDirectory(directory);
}

/** Step 4. */
export function finishSwap(directory: string, baseOffset: bigint): void {
  fs.rmSync(path.join(directory, segmentFileName(baseOffset, SWAP_SUFFIX)), { force: true });
  fsyncDirectory(directory);
}

/** Removes `.cleaned` files of `baseOffset`: an abandoned clean that was never committed. */
export function removeCleanedFiles(directory: string, baseOffset: bigint): void {
  for (const suffix of CLEANED_FILE_ORDER) {
    fs.rmSync(path.join(directory, cleanedFileName(baseOffset, suffix)), { force: true });
  }
}

export interface SwapRecoveryReport {
  /** Committed swaps that a crash interrupted and open() finished. */
  completed: number;
  /** Uncommitted cleaned segments that open() threw away. */
  rolledBack: number;
}

/**
 * Finishes every committed swap and rolls back every uncommitted one; runs on open before the
 * segments are listed. A manifest that cannot be read was being written when the crash hit
 * (it is replaced atomically, so that means it never existed) and is treated as absent.
 */
export function completeInterruptedSwaps(directory: string, log: (line: string) => void): SwapRecoveryReport {
  const report = { completed: 0, rolledBack: 0 };
  for (const name of fs.readdirSync(directory)) {
    const match = SWAP_FILE_PATTERN.exec(name);
    if (match?.[1] === undefined) continue;
    const manifest = readSwapManifest(path.join(directory, name));
    const first = manifest?.replacedBases[0];
    if (manifest === null || first === undefined || first !== BigInt(match[1])) {
      log(`log ${directory}: ignoring unreadable swap manifest ${name}`);
      fs.rmSync(path.join(directory, name), { force: true });
      continue;
    }
    deleteReplacedSegments(directory, manifest.replacedBases);
    // Until the cleaned log is renamed, the final index files may still describe the old log
    // (if the crash hit before the cleaned ones were renamed or even made durable); without
    // them the segment's indexes are rebuilt from the log, which is always right.
    if (fs.existsSync(path.join(directory, cleanedFileName(first, LOG_SUFFIX)))) {
      for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]) {
        if (!fs.existsSync(path.join(directory, cleanedFileName(first, suffix)))) {
          fs.rmSync(path.join(directory, segmentFileName(first, suffix)), { force: true });
        }
      }
    }
    promoteCleanedFiles(directory, first, manifest.hasCleanedSegment);
    finishSwap(directory, first);
    log(`log ${directory}: completed an interrupted segment swap at ${first} (${manifest.replacedBases.length} segment(s))`);
    report.completed += 1;
  }
  for (const name of fs.readdirSync(directory)) {
    if (!name.endsWith(CLEANED_SUFFIX)) continue;
    fs.rmSync(path.join(directory, name), { force: true });
    if (name.endsWith(LOG_SUFFIX + CLEANED_SUFFIX)) report.rolledBack += 1;
  }
  if (report.rolledBack > 0) log(`log ${directory}: rolled back ${report.rolledBack} uncommitted cleaned segment(s)`);
  return report;
}

function readSwapManifest(file: string): SwapManifest | null {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const cleaned = /^cleaned ([01])$/.exec(lines[1] ?? '')?.[1];
  if (lines[0] !== SWAP_VERSION || cleaned === undefined || lines[lines.length - 1] !== '') return null;
  const replacedBases: bigint[] = [];
  for (const line of lines.slice(2, -1)) {
    if (!/^\d+$/.test(line)) return null;
    replacedBases.push(BigInt(line));
  }
  return { replacedBases, hasCleanedSegment: cleaned === '1' };
}
