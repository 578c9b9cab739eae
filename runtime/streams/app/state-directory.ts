// The application's state directory `<state.dir>/<application.id>`: one folder per task that
// has had state here, named `<subtopology>_<partition>`. The assignor is told which task
// folders exist, so stateful tasks go back where their state is.
import { readdir } from 'node:fs/promises';

const TASK_DIRECTORY = /^\d+_\d+$/;

/** Task ids with a folder under the application directory; none when it does not exist yet. */
export async function listTaskDirectories(applicationDirectory: string): Promise<string[]> {
  try {
    const entries = await readdir(applicationDirectory, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory() && TASK_DIRECTORY.test(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
