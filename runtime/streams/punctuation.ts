// Punctuation schedules, Kafka Streams' way: stream-time schedules start at 0 and fire on the
// first record; wall-clock schedules start one interval after they were made. A schedule fires
// at most once per check and then skips the intervals it missed, so a jump in time does not
// cause a burst of calls.
import type { Cancellable, PunctuationType } from '../../core/topology/processor.ts';

export interface PunctuationSchedule extends Cancellable {
  readonly type: PunctuationType;
  readonly intervalMs: number;
  readonly nodeName: string;
  readonly callback: (timestampMs: number) => void;
  nextMs: number;
  cancelled: boolean;
}

export function createSchedule(
  type: PunctuationType,
  intervalMs: number,
  nodeName: string,
  callback: (timestampMs: number) => void,
  nowMs: number,
): PunctuationSchedule {
  if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new RangeError('punctuation interval must be at least 1 ms');
  const schedule: PunctuationSchedule = {
    type,
    intervalMs,
    nodeName,
    callback,
    nextMs: type === 'stream-time' ? 0 : nowMs + intervalMs,
    cancelled: false,
    cancel: () => {
      schedule.cancelled = true;
    },
  };
  return schedule;
}

/** Advances a schedule past currentMs after it fired. */
export function advanceSchedule(schedule: PunctuationSchedule, currentMs: number): void {
  const missed = Math.floor((currentMs - schedule.nextMs) / schedule.intervalMs);
  schedule.nextMs += (Math.max(0, missed) + 1) * schedule.intervalMs;
}
