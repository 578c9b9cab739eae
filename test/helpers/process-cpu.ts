// CPU time of another process (a broker, an app instance), for the benchmarks' per-process columns,
// and of each thread of one.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ, which /proc/<pid>/stat counts in. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; NaN where there is no /proc. */
export function processCpuSeconds(pid: number): number {
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of a /proc stat line: after the command name (which may hold spaces), utime and stime are the 12th and 13th fields. */
function statCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** CPU seconds and name of each thread of a process (this one by default), by thread id; /proc counts in 10 ms ticks. */
export function threadCpuSeconds(pid: number = process.pid): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      threads.set(Number(tid), { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: statCpuSeconds(stat) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/**
 * Nanoseconds a thread of a process has spent on a CPU and waiting in the run queue for one
 * (Linux's /proc/<pid>/task/<tid>/schedstat, the main thread by default); NaN where it is missing.
 * The rest of a wall-clock interval the thread was blocked: waiting for I/O, timers or locks.
 */
export function threadScheduling(pid: number = process.pid, tid: number = pid): { onCpuNs: number; runQueueNs: number } {
  try {
    const [onCpu, runQueue] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ');
    return { onCpuNs: Number(onCpu), runQueueNs: Number(runQueue) };
  } catch {
    return { onCpuNs: Number.NaN, runQueueNs: Number.NaN };
  }
}
