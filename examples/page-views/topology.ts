// Page views counted per page in tumbling one-minute windows and in hopping five-minute windows
// that advance every minute, both with ten seconds of grace for late events and emitted once,
// when their window closes. The counts are materialized in stores that interactive queries (and
// the example's HTTP endpoint) read while the application runs; the one-minute store keeps an
// hour of windows for them.
import { Duration } from 'luxon';
import { z } from 'zod';
import { Serdes, StreamsBuilder, TimeWindows, serde, type Topology, type Windowed } from '../../dsl/index.ts';

export const PAGE_VIEWS = 'page-views';
export const VIEWS_PER_MINUTE = 'page-views-per-minute';
export const VIEWS_PER_FIVE_MINUTES = 'page-views-per-5-minutes';
export const MINUTE_STORE = 'views-per-minute';
export const FIVE_MINUTE_STORE = 'views-per-5-minutes';
export const GRACE_MS = 10_000;

export const PageView = z.object({ page: z.string(), user: z.string(), durationMs: z.number().int().nonnegative() });
export type PageView = z.infer<typeof PageView>;

/** What goes out for each closed window: the page, the window and its count. */
export const WindowCount = z.object({ page: z.string(), windowStart: z.number(), windowEnd: z.number(), views: z.number() });
export type WindowCount = z.infer<typeof WindowCount>;

function windowCount(windowed: Windowed<string>, views: number): WindowCount {
  return { page: windowed.key, windowStart: windowed.window.startMs, windowEnd: windowed.window.endMs, views };
}

/** The output key: page and window start, so each closed window is one record. */
export function windowKey(count: Pick<WindowCount, 'page' | 'windowStart'>): string {
  return `${count.page}@${new Date(count.windowStart).toISOString()}`;
}

export function pageViewsTopology(): Topology {
  const builder = new StreamsBuilder({ strictNames: true });
  // Page views are keyed by page where they are produced, so they are grouped where they are:
  // no repartition, and each page's views reach its window in the order they were written.
  const byPage = builder
    .stream(PAGE_VIEWS, { key: Serdes.string(), value: serde(PageView) })
    .groupByKey({ key: Serdes.string(), value: serde(PageView) });
  byPage
    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.fromObject({ minutes: 1 }), GRACE_MS))
    .count({ name: MINUTE_STORE, emit: 'on-window-close', retention: Duration.fromObject({ hours: 1 }) })
    .toStream({ name: 'minute-counts' })
    .map((views, windowed) => { const count = windowCount(windowed, views); return [windowKey(count), count] as const; }, { name: 'minute-count-records' })
    .to(VIEWS_PER_MINUTE, { key: Serdes.string(), value: serde(WindowCount) });
  byPage
    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.fromObject({ minutes: 5 }), GRACE_MS).advanceBy(Duration.fromObject({ minutes: 1 })))
    .count({ name: FIVE_MINUTE_STORE, emit: 'on-window-close' })
    .toStream({ name: 'five-minute-counts' })
    .map((views, windowed) => { const count = windowCount(windowed, views); return [windowKey(count), count] as const; }, { name: 'five-minute-count-records' })
    .to(VIEWS_PER_FIVE_MINUTES, { key: Serdes.string(), value: serde(WindowCount) });
  return builder.build();
}
