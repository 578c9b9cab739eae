// Window definitions and their math. Window boundaries follow Kafka Streams: time windows are
// aligned to the epoch and half-open [start, end); session windows are closed [start, end].
import { durationMs, type DurationLike } from './duration.ts';
import { LIMITS } from '../limits.ts';

export interface Window {
  readonly startMs: number;
  readonly endMs: number;
}

/** A key tagged with the window it was aggregated in. */
export interface Windowed<K> {
  readonly key: K;
  readonly window: Window;
}

/** Tumbling (advance = size) or hopping (advance < size) windows. */
export class TimeWindows {
  readonly kind = 'time' as const;
  private constructor(
    readonly sizeMs: number,
    readonly advanceMs: number,
    readonly graceMs: number,
  ) {
    if (sizeMs <= 0) throw new RangeError('window size must be positive');
    if (advanceMs <= 0 || advanceMs > sizeMs) throw new RangeError('window advance must be positive and at most the size');
    if (Math.ceil(sizeMs / advanceMs) > LIMITS.windowsPerRecordMax) {
      throw new RangeError(`a record would fall into more than ${LIMITS.windowsPerRecordMax} hopping windows`);
    }
  }
  static ofSizeWithNoGrace(size: DurationLike): TimeWindows {
    const sizeMs = durationMs(size, 'window size');
    return new TimeWindows(sizeMs, sizeMs, 0);
  }
  static ofSizeAndGrace(size: DurationLike, grace: DurationLike): TimeWindows {
    const sizeMs = durationMs(size, 'window size');
    return new TimeWindows(sizeMs, sizeMs, durationMs(grace, 'grace'));
  }
  advanceBy(advance: DurationLike): TimeWindows {
    return new TimeWindows(this.sizeMs, durationMs(advance, 'window advance'), this.graceMs);
  }
  /** Every window that contains the timestamp, oldest first. */
  windowsFor(timestampMs: number): Window[] {
    let startMs = Math.max(0, timestampMs - this.sizeMs + this.advanceMs);
    startMs -= startMs % this.advanceMs;
    // Tumbling windows (one per record) skip the growing array: this runs once per record.
    if (this.advanceMs === this.sizeMs) return [{ startMs, endMs: startMs + this.sizeMs }];
    const windows: Window[] = [];
    for (; startMs <= timestampMs; startMs += this.advanceMs) {
      if (startMs + this.sizeMs > timestampMs) windows.push({ startMs, endMs: startMs + this.sizeMs });
    }
    return windows;
  }
  /** How long a store must keep windows: the size plus the grace period. */
  retentionMs(): number {
    return this.sizeMs + this.graceMs;
  }
}

/**
 * Sliding windows of a fixed size over the difference of record timestamps: two records are in
 * a common window when their timestamps differ by at most the size. Windows are [start, end].
 */
export class SlidingWindows {
  readonly kind = 'sliding' as const;
  private constructor(
    readonly timeDifferenceMs: number,
    readonly graceMs: number,
  ) {
    if (timeDifferenceMs <= 0) throw new RangeError('time difference must be positive');
  }
  static ofTimeDifferenceWithNoGrace(difference: DurationLike): SlidingWindows {
    return new SlidingWindows(durationMs(difference, 'time difference'), 0);
  }
  static ofTimeDifferenceAndGrace(difference: DurationLike, grace: DurationLike): SlidingWindows {
    return new SlidingWindows(durationMs(difference, 'time difference'), durationMs(grace, 'grace'));
  }
}

/** Sessions of activity separated by gaps longer than the inactivity gap. */
export class SessionWindows {
  readonly kind = 'session' as const;
  private constructor(
    readonly inactivityGapMs: number,
    readonly graceMs: number,
  ) {
    if (inactivityGapMs <= 0) throw new RangeError('inactivity gap must be positive');
  }
  static ofInactivityGapWithNoGrace(gap: DurationLike): SessionWindows {
    return new SessionWindows(durationMs(gap, 'inactivity gap'), 0);
  }
  static ofInactivityGapAndGrace(gap: DurationLike, grace: DurationLike): SessionWindows {
    return new SessionWindows(durationMs(gap, 'inactivity gap'), durationMs(grace, 'grace'));
  }
}

/**
 * The window of a stream-stream join: a right record joins a left record when
 * left.ts - before <= right.ts <= left.ts + after.
 */
export class JoinWindows {
  readonly kind = 'join' as const;
  private constructor(
    readonly beforeMs: number,
    readonly afterMs: number,
    readonly graceMs: number,
  ) {}
  static ofTimeDifferenceWithNoGrace(difference: DurationLike): JoinWindows {
    const ms = durationMs(difference, 'time difference');
    return new JoinWindows(ms, ms, 0);
  }
  static ofTimeDifferenceAndGrace(difference: DurationLike, grace: DurationLike): JoinWindows {
    const ms = durationMs(difference, 'time difference');
    return new JoinWindows(ms, ms, durationMs(grace, 'grace'));
  }
  before(before: DurationLike): JoinWindows {
    return new JoinWindows(durationMs(before, 'before'), this.afterMs, this.graceMs);
  }
  after(after: DurationLike): JoinWindows {
    return new JoinWindows(this.beforeMs, durationMs(after, 'after'), this.graceMs);
  }
  sizeMs(): number {
    return this.beforeMs + this.afterMs;
  }
}

export function windowsEqual(a: Window, b: Window): boolean {
  return a.startMs === b.startMs && a.endMs === b.endMs;
}
