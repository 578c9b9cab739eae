import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkpointPath,
  commitCheckpointTemporary,
  decodeCheckpoint,
  deleteCheckpoint,
  encodeCheckpoint,
  readCheckpoint,
  writeCheckpoint,
  writeCheckpointTemporary,
} from '../../../state/checkpoint/checkpoint.ts';
import type { ChangelogOffset } from '../../../state/checkpoint/checkpoint.ts';

let directory: string;
const warnings: string[] = [];
const logger = { warn: (message: string) => void warnings.push(message) };

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'runnel-checkpoint-'));
  warnings.length = 0;
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

const first: ChangelogOffset[] = [
  { topic: 'app-counts-changelog', partition: 3, offset: 12_345n },
  { topic: 'app-windows-changelog', partition: 3, offset: 9_007_199_254_740_993n },
];

describe('task checkpoint file', () => {
  it('round-trips offsets, including ones beyond 2^53', async () => {
    await writeCheckpoint(directory, first);
    const read = await readCheckpoint(directory, logger);
    expect([...read.values()]).toEqual(first);
    expect(read.get('app-windows-changelog-3')?.offset).toBe(9_007_199_254_740_993n);
    expect(warnings).toEqual([]);
  });

  it('reads a missing file as empty without a warning', async () => {
    expect((await readCheckpoint(directory, logger)).size).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('keeps the old file when a crash comes before the rename, and the next write replaces both', async () => {
    await writeCheckpoint(directory, first);
    const second: ChangelogOffset[] = [{ topic: 'app-counts-changelog', partition: 3, offset: 20_000n }];
    await writeCheckpointTemporary(directory, second);
    // The process dies here: the temporary file is complete, the rename never happened.
    expect([...(await readCheckpoint(directory, logger)).values()]).toEqual(first);
    await writeCheckpoint(directory, second);
    expect([...(await readCheckpoint(directory, logger)).values()]).toEqual(second);
  });

  it('treats a torn temporary file as irrelevant and a corrupt checkpoint as absent, with a log line', async () => {
    await writeCheckpoint(directory, first);
    writeFileSync(`${checkpointPath(directory)}.tmp`, 'runnel-checkpoint 1\n2\napp-co');
    expect([...(await readCheckpoint(directory, logger)).values()]).toEqual(first);

    const text = readFileSync(checkpointPath(directory), 'utf8');
    writeFileSync(checkpointPath(directory), text.replace('12345', '12346'));
    expect((await readCheckpoint(directory, logger)).size).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/corrupt \(checksum mismatch\).*restore from the start/);

    writeFileSync(checkpointPath(directory), text.slice(0, 30));
    expect((await readCheckpoint(directory, logger)).size).toBe(0);
    expect(warnings).toHaveLength(2);
  });

  it('rejects malformed content that carries a valid checksum', () => {
    const encoded = encodeCheckpoint(first);
    expect(decodeCheckpoint(encoded)).toEqual(first);
    expect(decodeCheckpoint(encoded.replace('runnel-checkpoint 1', 'runnel-checkpoint 2'))).toBeTypeOf('string');
    expect(() => encodeCheckpoint([{ topic: 'bad topic', partition: 0, offset: 1n }])).toThrow(/legal topic/);
    expect(() => encodeCheckpoint([{ topic: 't', partition: 0, offset: -1n }])).toThrow(/negative/);
  });

  it('deletes the checkpoint, and deleting a missing one is fine', async () => {
    await writeCheckpoint(directory, first);
    await deleteCheckpoint(directory);
    await deleteCheckpoint(directory);
    expect((await readCheckpoint(directory, logger)).size).toBe(0);
    const temporary = await writeCheckpointTemporary(directory, first);
    await commitCheckpointTemporary(temporary, directory);
    expect((await readCheckpoint(directory, logger)).size).toBe(2);
  });
});
