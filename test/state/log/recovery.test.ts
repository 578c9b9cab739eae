import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogConfig } from '../../../state/log/config.ts';
import type { PartitionLog } from '../../../state/log/partition-log.ts';
import { parseBatches, simpleBatch } from './batches.ts';
import { cleanup, openLog, smallConfig, temporaryDirectory } from './helpers.ts';

let root: string;
let config: LogConfig;
/** A partition directory copied while its log was still open: what a crash leaves behind. */
let crashed: string;
/** The same log after a clean close. */
let closed: string;
let lastSegmentFile: string;
let lastBatch: { baseOffset: bigint; position: number; sizeBytes: number };
let endOffset: bigint;
let copies = 0;

beforeAll(() => {
  root = temporaryDirectory();
  config = smallConfig();
  const source = path.join(root, 'source-0');
  const { log } = openLog(source, config);
  for (let i = 0; i < 40; i += 1) log.append(simpleBatch((i % 3) + 1, BigInt(1000 + i), 12));
  endOffset = log.logEndOffset;
  const lastBase = log.segmentBaseOffsets[log.segmentCount - 1]!;
  lastSegmentFile = `${lastBase.toString().padStart(20, '0')}.log`;
  const tail = log.read(endOffset - 1n, 1 << 20);
  const batch = parseBatches(tail.records)[0]!;
  const segmentSize = fs.statSync(path.join(source, lastSegmentFile)).size;
  lastBatch = { baseOffset: batch.baseOffset, position: segmentSize - batch.sizeBytes, sizeBytes: batch.sizeBytes };
  crashed = path.join(root, 'crashed-0');
  fs.cpSync(source, crashed, { recursive: true });
  log.close();
  closed = path.join(root, 'closed-0');
  fs.cpSync(source, closed, { recursive: true });
  expect(lastBatch.position).toBeGreaterThan(0);
});
afterAll(() => cleanup(root));

/**
 * Rewrites `directory` to hold exactly the files of `template`. Loops reuse one directory this
 * way because creating and removing whole directories is far slower here than small writes.
 */
function restore(directory: string, template: string): void {
  fs.mkdirSync(directory, { recursive: true });
  const wanted = new Set(fs.readdirSync(template));
  for (const name of fs.readdirSync(directory)) if (!wanted.has(name)) fs.rmSync(path.join(directory, name));
  for (const name of wanted) fs.writeFileSync(path.join(directory, name), fs.readFileSync(path.join(template, name)));
}

function copyOf(template: string): string {
  copies += 1;
  const target = path.join(root, `copy${copies}-0`);
  fs.cpSync(template, target, { recursive: true });
  return target;
}

/** Every offset below the log end is readable and the next append continues at the end. */
function expectConsistent(log: PartitionLog, expectedEnd: bigint): void {
  expect(log.logEndOffset).toBe(expectedEnd);
  for (let offset = 0n; offset < expectedEnd; offset += 1n) {
    const read = log.read(offset, 1);
    const batch = parseBatches(read.records)[0]!;
    expect(batch.baseOffset <= offset && offset <= batch.lastOffset).toBe(true);
  }
  expect(log.append(simpleBatch(2, 5000n)).baseOffset).toBe(expectedEnd);
  expect(log.read(expectedEnd, 1 << 20).records.length).toBeGreaterThan(0);
}

/** The cheap version for loops: the end, the last batch before it, and the next append. */
function expectRecovered(log: PartitionLog, expectedEnd: bigint): void {
  expect(log.logEndOffset).toBe(expectedEnd);
  const last = parseBatches(log.read(expectedEnd - 1n, 1).records)[0]!;
  expect(last.lastOffset).toBe(expectedEnd - 1n);
  expect(log.append(simpleBatch(2, 5000n)).baseOffset).toBe(expectedEnd);
}

describe('recovery of a torn tail', () => {
  it('cuts the last batch at every byte position back to the previous batch', () => {
    const directory = path.join(root, 'cut-0');
    for (let cut = lastBatch.position; cut < lastBatch.position + lastBatch.sizeBytes; cut += 1) {
      restore(directory, crashed);
      fs.truncateSync(path.join(directory, lastSegmentFile), cut);
      const { log, lines } = openLog(directory, config);
      expect(log.openReport).toMatchObject({ cleanShutdown: false, truncatedBytes: cut - lastBatch.position });
      if (cut > lastBatch.position) expect(lines.join('\n')).toContain(`dropped ${cut - lastBatch.position} bytes`);
      expectRecovered(log, lastBatch.baseOffset);
      log.close();
    }
  });

  it('drops a batch with a flipped bit in any byte of its offset, length, magic, CRC or CRC-covered bytes', () => {
    const positions = [...Array(lastBatch.sizeBytes).keys()].filter((at) => at < 12 || at >= 16);
    const directory = path.join(root, 'flip-0');
    for (const at of positions) {
      // One flip per byte keeps the loop fast; the masks rotate so every bit position is hit.
      for (const mask of [1 << (at % 8)]) {
        restore(directory, crashed);
        const file = path.join(directory, lastSegmentFile);
        const bytes = fs.readFileSync(file);
        bytes[lastBatch.position + at]! ^= mask;
        fs.writeFileSync(file, bytes);
        const { log } = openLog(directory, config);
        expect(log.openReport.truncatedBytes, `byte ${at} mask ${mask}`).toBe(lastBatch.sizeBytes);
        expectRecovered(log, lastBatch.baseOffset);
        log.close();
      }
    }
  });

  it('drops everything from a corrupt batch in the middle of the active segment', () => {
    const directory = copyOf(crashed);
    const file = path.join(directory, lastSegmentFile);
    const bytes = fs.readFileSync(file);
    const firstSize = 12 + bytes.readInt32BE(8);
    bytes[firstSize + 40]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    const { log } = openLog(directory, config);
    expect(log.openReport.truncatedBytes).toBe(bytes.length - firstSize);
    const lastBase = log.segmentBaseOffsets[log.segmentCount - 1]!;
    const firstBatch = parseBatches(bytes.subarray(0, firstSize))[0]!;
    expect(firstBatch.baseOffset).toBe(lastBase);
    expectConsistent(log, firstBatch.lastOffset + 1n);
    log.close();
  });

  it('also finds a torn tail after a clean close by checking the tail behind the last index entry', () => {
    const directory = copyOf(closed);
    fs.truncateSync(path.join(directory, lastSegmentFile), lastBatch.position + 30);
    const { log } = openLog(directory, config);
    expect(log.openReport.cleanShutdown).toBe(true);
    expectConsistent(log, lastBatch.baseOffset);
    log.close();
  });

  it('recovers every segment when the checkpoint is missing', () => {
    const directory = copyOf(crashed);
    fs.rmSync(path.join(directory, 'partition.checkpoint'));
    const { log } = openLog(directory, config);
    expect(log.openReport.recoveredSegments).toBe(log.segmentCount);
    expectConsistent(log, endOffset);
    log.close();
  });
});

describe('recovery across segments', () => {
  it('deletes the segments after a corrupt one when everything is recovered', () => {
    const directory = copyOf(crashed);
    fs.rmSync(path.join(directory, 'partition.checkpoint'));
    const logs = fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
    expect(logs.length).toBeGreaterThan(2);
    const second = path.join(directory, logs[1]!);
    const bytes = fs.readFileSync(second);
    const firstSize = 12 + bytes.readInt32BE(8);
    bytes[firstSize + 30]! ^= 0x04;
    fs.writeFileSync(second, bytes);
    const { log, lines } = openLog(directory, config);
    expect(log.openReport).toMatchObject({ truncatedBytes: bytes.length - firstSize, deletedSegments: logs.length - 2 });
    expect(log.segmentCount).toBe(2);
    expect(lines.filter((line) => line.includes('deleting segment'))).toHaveLength(logs.length - 2);
    const kept = parseBatches(bytes.subarray(0, firstSize))[0]!;
    expectConsistent(log, kept.lastOffset + 1n);
    log.close();
  });

  it('ignores an empty segment left by a crash during a roll', () => {
    const directory = copyOf(crashed);
    fs.writeFileSync(path.join(directory, `${endOffset.toString().padStart(20, '0')}.log`), Buffer.alloc(0));
    const { log } = openLog(directory, config);
    expectConsistent(log, endOffset);
    log.close();
  });
});

describe('index files', () => {
  const segmentFiles = (directory: string, suffix: string) =>
    fs.readdirSync(directory).filter((name) => name.endsWith(suffix)).sort();

  it('rebuilds garbage, truncated and missing index files from the log', () => {
    const directory = copyOf(closed);
    const indexes = segmentFiles(directory, '.index');
    expect(indexes.length).toBeGreaterThan(3);
    fs.writeFileSync(path.join(directory, indexes[0]!), Buffer.from('0123456789abcdef'));
    fs.writeFileSync(path.join(directory, indexes[1]!), Buffer.alloc(7));
    fs.rmSync(path.join(directory, indexes[2]!));
    fs.rmSync(path.join(directory, segmentFiles(directory, '.timeindex')[3]!));
    const { log } = openLog(directory, config);
    expect(log.openReport).toMatchObject({ cleanShutdown: true, rebuiltIndexes: 4, truncatedBytes: 0 });
    expect(fs.statSync(path.join(directory, indexes[1]!)).size % 8).toBe(0);
    expectConsistent(log, endOffset);
    log.close();
  });

  it('still answers correctly when a plausible index entry points into the middle of a batch', () => {
    const directory = copyOf(closed);
    const index = path.join(directory, segmentFiles(directory, '.index')[0]!);
    const bytes = fs.readFileSync(index);
    expect(bytes.length).toBeGreaterThanOrEqual(16);
    bytes.writeUInt32BE(bytes.readUInt32BE(4) + 1, 4);
    fs.writeFileSync(index, bytes);
    const { log } = openLog(directory, config);
    expectConsistent(log, endOffset);
    log.close();
  });
});
