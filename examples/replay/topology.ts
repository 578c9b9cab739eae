// Two versions of one application (`page-stats`) over a topic of page views (`site-visits`). Version 1 counts the
// views of each page; version 2, the changed aggregation, keeps per page the number of views and
// the total time spent on it. Both write the `page-stats` table topic under the same
// application id, so moving from one to the other needs a reset for version 2 to see the
// history version 1 already consumed.
import { z } from 'zod';
import { Serdes, StreamsBuilder, serde, type Topology } from '../../dsl/index.ts';
import { PageView } from '../page-views/topology.ts';

/** Page views as the page-views example writes them, in a topic of this example's own. */
export const VISITS = 'site-visits';
export const PAGE_STATS = 'page-stats';
export const PageStats = z.object({ views: z.number(), totalDurationMs: z.number() });
export type PageStats = z.infer<typeof PageStats>;

function pageViews(builder: StreamsBuilder) {
  return builder.stream(VISITS, { key: Serdes.string(), value: serde(PageView) }).groupByKey({ key: Serdes.string(), value: serde(PageView) });
}

export function pageStatsV1(): Topology {
  const builder = new StreamsBuilder({ strictNames: true });
  pageViews(builder)
    .count({ name: 'page-stats-store' })
    .toStream({ name: 'page-stats-updates' })
    .mapValues((views): PageStats => ({ views, totalDurationMs: 0 }), { name: 'page-stats-v1' })
    .to(PAGE_STATS, { key: Serdes.string(), value: serde(PageStats) });
  return builder.build();
}

export function pageStatsV2(): Topology {
  const builder = new StreamsBuilder({ strictNames: true });
  pageViews(builder)
    .aggregate(
      (): PageStats => ({ views: 0, totalDurationMs: 0 }),
      (_page, view, stats): PageStats => ({ views: stats.views + 1, totalDurationMs: stats.totalDurationMs + view.durationMs }),
      { name: 'page-stats-store', value: serde(PageStats) },
    )
    .toStream({ name: 'page-stats-updates' })
    .to(PAGE_STATS, { key: Serdes.string(), value: serde(PageStats) });
  return builder.build();
}
