// A deterministic stream of page views for the examples and the demo, and the window counts an
// application must emit for it, computed here without any streams code.
//
// Views come every `stepMs` of event time, pages in turn, so every partition's stream time stays
// within a few steps of the newest view. Now and then a view arrives late: one second late (inside
// the ten-second grace, so it still counts) or eight minutes late (past every window it belongs
// to, one-minute or five-minute, plus grace, so it is dropped).
import { Duration } from 'luxon';
import type { TypedRecord } from '../support.ts';
import { GRACE_MS, windowKey, type PageView, type WindowCount } from './topology.ts';

export const PAGES = ['/home', '/docs', '/pricing', '/blog', '/careers'] as const;
const MINUTE = Duration.fromObject({ minutes: 1 }).toMillis();
const SLIGHTLY_LATE_MS = 1_000;
const TOO_LATE_MS = 8 * MINUTE;

export interface GenerateOptions {
  readonly count: number;
  readonly startMs: number;
  readonly stepMs: number;
}

export function generatePageViews({ count, startMs, stepMs }: GenerateOptions): TypedRecord<string, PageView>[] {
  const records: TypedRecord<string, PageView>[] = [];
  for (let index = 0; index < count; index++) {
    const page = PAGES[index % PAGES.length] as string;
    let timestamp = startMs + index * stepMs;
    if (index % 97 === 96) timestamp -= SLIGHTLY_LATE_MS;
    else if (index % 211 === 210 && timestamp - TOO_LATE_MS >= startMs) timestamp -= TOO_LATE_MS;
    records.push({ key: page, value: { page, user: `user-${(index * 7919) % 1000}`, durationMs: (index * 37) % 5000 }, timestamp });
  }
  return records;
}

/** One view per page at `atMs`: it moves every partition's stream time there, closing older windows. */
export function closingViews(atMs: number): TypedRecord<string, PageView>[] {
  return PAGES.map((page) => ({ key: page, value: { page, user: 'closer', durationMs: 0 }, timestamp: atMs }));
}

/** Window starts containing `timestamp`, as Kafka Streams' hopping windows assign them (none below 0). */
export function windowStarts(timestamp: number, sizeMs: number, advanceMs: number): number[] {
  const starts: number[] = [];
  for (let start = Math.floor(timestamp / advanceMs) * advanceMs; start > timestamp - sizeMs && start >= 0; start -= advanceMs) starts.push(start);
  return starts.reverse();
}

/**
 * The closed windows an emit-on-close count must put out for `records` once stream time reaches
 * `closeAtMs`: key `windowKey(...)`, value the count. A view more than five minutes older than
 * the newest one before it is dropped (the generator's eight-minute-late views); others count.
 */
export function expectedWindowCounts(records: readonly TypedRecord<string, PageView>[], sizeMs: number, advanceMs: number, closeAtMs: number): Map<string, WindowCount> {
  const counts = new Map<string, WindowCount>();
  let newest = -Infinity;
  for (const record of records) {
    newest = Math.max(newest, record.timestamp);
    if (newest - record.timestamp > 5 * MINUTE || record.value === null) continue;
    for (const start of windowStarts(record.timestamp, sizeMs, advanceMs)) {
      if (start + sizeMs + GRACE_MS > closeAtMs) continue;
      const window = { page: record.value.page, windowStart: start, windowEnd: start + sizeMs, views: 0 };
      const key = windowKey(window);
      const entry = counts.get(key) ?? window;
      counts.set(key, { ...entry, views: entry.views + 1 });
    }
  }
  return counts;
}
