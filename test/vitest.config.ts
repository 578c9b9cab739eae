import { defineConfig } from 'vitest/config';

// Integration suites start real broker processes, so files run in forked workers and
// each test gets generous time for process start-up on a loaded 2-core machine.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    // Above the helpers' process start deadline (PROCESS_START_DEADLINE_MS, 90 s), so a slow
    // start is reported by the helper with the process's log rather than as a bare hook timeout.
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
