export {
  applicationDirectory,
  defaultStateDir,
  LOCK_FILE,
  parseTaskDirectoryName,
  StateDirectory,
  StateDirectoryLockedError,
  taskDirectory,
  taskDirectoryName,
} from './state-directory.ts';
export type { CleanupOptions, LockOwner, StateDirectoryOptions, TaskDirectoryInfo, TaskId } from './state-directory.ts';
