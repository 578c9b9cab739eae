// Clicks joined with the impressions they follow: an ad impression and a click on the same ad
// (both keyed by ad id) join when the click comes at most ten seconds after the impression. Click
// and impression streams arrive separately and may run minutes apart (a mobile client uploads
// its clicks in bursts), so the join accepts records up to ten minutes behind stream time.
// Each match is one attributed click.
import { Duration } from 'luxon';
import { z } from 'zod';
import { JoinWindows, Serdes, StreamsBuilder, serde, type Topology } from '../../dsl/index.ts';

export const IMPRESSIONS = 'ad-impressions';
export const CLICKS = 'ad-clicks';
export const ATTRIBUTED_CLICKS = 'attributed-clicks';
export const CLICK_WINDOW_MS = 10_000;

export const Impression = z.object({ impressionId: z.string(), user: z.string(), at: z.number() });
export type Impression = z.infer<typeof Impression>;
export const Click = z.object({ clickId: z.string(), user: z.string(), at: z.number() });
export type Click = z.infer<typeof Click>;
export const AttributedClick = z.object({ adId: z.string(), impressionId: z.string(), clickId: z.string(), user: z.string(), secondsToClick: z.number() });
export type AttributedClick = z.infer<typeof AttributedClick>;

export function adClicksTopology(): Topology {
  const builder = new StreamsBuilder({ strictNames: true });
  const impressions = builder.stream(IMPRESSIONS, { key: Serdes.string(), value: serde(Impression) });
  const clicks = builder.stream(CLICKS, { key: Serdes.string(), value: serde(Click) });
  impressions
    .join(
      clicks,
      (impression, click, adId): AttributedClick => ({ adId, impressionId: impression.impressionId, clickId: click.clickId, user: click.user, secondsToClick: (click.at - impression.at) / 1000 }),
      // A click may not come before its impression: the window reaches 10 s forward only.
      JoinWindows.ofTimeDifferenceAndGrace(CLICK_WINDOW_MS, Duration.fromObject({ minutes: 10 })).before(0),
      { name: 'impressions-clicks', storeName: 'impressions-clicks', key: Serdes.string(), value: serde(Impression), otherValue: serde(Click) },
    )
    .filter((attributed) => attributed.user !== '', { name: 'known-users' })
    .to(ATTRIBUTED_CLICKS, { key: Serdes.string(), value: serde(AttributedClick) });
  return builder.build();
}
