// A stable id for one instance's state directory, kept in `<state.dir>/<application.id>/process-id`.
// Under exactly-once it names the transactional producer (`<application.id>-<process id>`), so an
// instance restarted on the same state directory fences its crashed predecessor and aborts the
// transaction it left open at once, instead of read_committed readers waiting for its timeout.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

const FILE = 'process-id';
const PATTERN = /^[0-9a-f-]{36}$/;

export async function readOrCreateProcessId(applicationDirectory: string): Promise<string> {
  const file = path.join(applicationDirectory, FILE);
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (PATTERN.test(text)) return text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(applicationDirectory, { recursive: true });
  const id = randomUUID();
  await writeFile(`${file}.tmp`, `${id}\n`);
  await rename(`${file}.tmp`, file);
  return id;
}
