// The `.checkpoint` file of a task: for each changelog topic-partition, the offset up to which the
// task's stores hold the changelog (the next offset to restore from). Written on commit and on
// clean close by writing a temporary file, fsyncing it, renaming it over the old file and
// fsyncing the directory, so a crash at any point leaves either the old file or the new one.
// Format (text, one entry per line, topic names cannot hold spaces):
//   runnel-checkpoint 1
//   <entry count>
//   <topic> <partition> <offset>      (entry count lines)
//   crc32c <hex of the CRC-32C of every line above, newline-terminated>
// A file that fails any check is treated as absent, which means a full restore, and is logged.
import { crc32c } from '@node-rs/crc32';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const CHECKPOINT_FILE = '.checkpoint';
const HEADER = 'runnel-checkpoint 1';
const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;
/** Entries one task may checkpoint; a task has a handful of stores, one changelog partition each. */
const ENTRIES_MAX = 10_000;

export interface ChangelogOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next changelog offset to restore from. */
  readonly offset: bigint;
}

export interface CheckpointLogger {
  warn(message: string): void;
}

const consoleLogger: CheckpointLogger = { warn: (message) => console.warn(message) };

export function checkpointPath(taskDirectory: string): string {
  return join(taskDirectory, CHECKPOINT_FILE);
}

export function encodeCheckpoint(offsets: readonly ChangelogOffset[]): string {
  if (offsets.length > ENTRIES_MAX) throw new Error(`checkpoint of ${offsets.length} entries exceeds ${ENTRIES_MAX}`);
  const lines = [HEADER, String(offsets.length)];
  for (const entry of offsets) {
    if (!TOPIC_PATTERN.test(entry.topic)) throw new Error(`checkpoint topic ${JSON.stringify(entry.topic)} is not a legal topic name`);
    if (!Number.isInteger(entry.partition) || entry.partition < 0) throw new Error(`checkpoint partition ${entry.partition} is invalid`);
    if (entry.offset < 0n) throw new Error(`checkpoint offset ${entry.offset} is negative`);
    lines.push(`${entry.topic} ${entry.partition} ${entry.offset}`);
  }
  const body = `${lines.join('\n')}\n`;
  return `${body}crc32c ${crc32c(body).toString(16).padStart(8, '0')}\n`;
}

/** Parses a checkpoint file's text, or returns a reason it is unusable. */
export function decodeCheckpoint(text: string): ChangelogOffset[] | string {
  const crcAt = text.lastIndexOf('crc32c ');
  if (crcAt < 0 || !text.endsWith('\n')) return 'no checksum line';
  const body = text.slice(0, crcAt);
  const stored = Number.parseInt(text.slice(crcAt + 7, -1), 16);
  if (stored !== crc32c(body)) return 'checksum mismatch';
  const lines = body.split('\n');
  if (lines[0] !== HEADER) return `unknown header ${JSON.stringify(lines[0])}`;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || count > ENTRIES_MAX || lines.length !== count + 3) return 'entry count does not match';
  const offsets: ChangelogOffset[] = [];
  for (const line of lines.slice(2, 2 + count)) {
    const match = /^([A-Za-z0-9._-]{1,249}) (\d{1,9}) (\d{1,19})$/.exec(line);
    if (match === null) return `malformed entry ${JSON.stringify(line)}`;
    offsets.push({ topic: match[1] as string, partition: Number(match[2]), offset: BigInt(match[3] as string) });
  }
  return offsets;
}

/**
 * Reads the checkpoint; a missing file is an empty checkpoint, and so is a corrupt one, which is
 * logged because it costs a full restore.
 */
export async function readCheckpoint(taskDirectory: string, logger: CheckpointLogger = consoleLogger): Promise<Map<string, ChangelogOffset>> {
  const path = checkpointPath(taskDirectory);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  const decoded = decodeCheckpoint(text);
  if (typeof decoded === 'string') {
    logger.warn(`checkpoint ${path} is corrupt (${decoded}); treating it as absent, stores restore from the start of their changelogs`);
    return new Map();
  }
  return new Map(decoded.map((entry) => [topicPartitionKey(entry.topic, entry.partition), entry]));
}

export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Writes and fsyncs the temporary file; the first half of writeCheckpoint. */
export async function writeCheckpointTemporary(taskDirectory: string, offsets: readonly ChangelogOffset[]): Promise<string> {
  const temporary = `${checkpointPath(taskDirectory)}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(encodeCheckpoint(offsets), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temporary;
}

/** Renames the temporary file over the checkpoint and fsyncs the directory; the second half. */
export async function commitCheckpointTemporary(temporary: string, taskDirectory: string): Promise<void> {
  await rename(temporary, checkpointPath(taskDirectory));
  const directory = await open(dirname(checkpointPath(taskDirectory)), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Replaces the task's checkpoint atomically: temporary file, fsync, rename, directory fsync. */
export async function writeCheckpoint(taskDirectory: string, offsets: readonly ChangelogOffset[]): Promise<void> {
  const temporary = await writeCheckpointTemporary(taskDirectory, offsets);
  await commitCheckpointTemporary(temporary, taskDirectory);
}

/** Removes the checkpoint, as a task must before it processes under exactly-once after a crash. */
export async function deleteCheckpoint(taskDirectory: string): Promise<void> {
  try {
    await unlink(checkpointPath(taskDirectory));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
