// Durations a user types are luxon Durations or plain milliseconds; inside, everything is ms.
import { Duration } from 'luxon';

export type DurationLike = number | Duration;

export function durationMs(duration: DurationLike, what: string): number {
  const ms = Duration.isDuration(duration) ? duration.toMillis() : duration;
  if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms)) {
    throw new RangeError(`${what} must be a whole, non-negative number of milliseconds, got ${String(ms)}`);
  }
  return ms;
}
