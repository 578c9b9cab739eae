// Clicks joined with impressions, end to end: impressions and clicks for a handful of ads (both
// topics keyed by ad id, so they are co-partitioned), the StreamsApp pairs each click with every
// impression of the same ad in the ten seconds before it, and the example compares the pairs on
// `attributed-clicks` with the pairs computed here. Run: npx tsx examples/ad-clicks/main.ts
import path from 'node:path';
import { Serdes, serde } from '../../dsl/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { ensureTopics, exampleBroker, exampleDirectory, exampleProducer, isMain, OutputTopic, until, type TypedRecord } from '../support.ts';
import { ATTRIBUTED_CLICKS, AttributedClick, CLICK_WINDOW_MS, CLICKS, Click, IMPRESSIONS, Impression, adClicksTopology } from './topology.ts';

export interface AdTraffic {
  readonly impressions: TypedRecord<string, Impression>[];
  readonly clicks: TypedRecord<string, Click>[];
}

/** Impressions every 700 ms over `ads` ads; every third one is clicked 1 to 14 s later (so some too late). */
export function generateTraffic(count: number, startMs: number, ads = 6): AdTraffic {
  const impressions: TypedRecord<string, Impression>[] = [];
  const clicks: TypedRecord<string, Click>[] = [];
  for (let index = 0; index < count; index++) {
    const adId = `ad-${index % ads}`;
    const at = startMs + index * 700;
    const user = `user-${(index * 31) % 97}`;
    impressions.push({ key: adId, value: { impressionId: `i${index}`, user, at }, timestamp: at });
    if (index % 3 === 0) {
      const clickAt = at + 1_000 + ((index * 1_300) % 13_000);
      clicks.push({ key: adId, value: { clickId: `c${index}`, user, at: clickAt }, timestamp: clickAt });
    }
  }
  return { impressions, clicks };
}

/** Every (impression, click) pair of one ad with the click 0 to 10 s after the impression. */
export function expectedAttributions(traffic: AdTraffic): Set<string> {
  const pairs = new Set<string>();
  for (const click of traffic.clicks) {
    for (const impression of traffic.impressions) {
      if (impression.key !== click.key || impression.value === null || click.value === null) continue;
      const gap = click.value.at - impression.value.at;
      if (gap >= 0 && gap <= CLICK_WINDOW_MS) pairs.add(`${impression.value.impressionId}->${click.value.clickId}`);
    }
  }
  return pairs;
}

/** Runs the join over `traffic` and returns the attributed pairs seen on the output topic. */
export async function runAdClicks(bootstrap: string, stateDir: string, traffic: AdTraffic, applicationId = 'ad-clicks'): Promise<Set<string>> {
  await ensureTopics(bootstrap, [{ topic: IMPRESSIONS, partitions: 3 }, { topic: CLICKS, partitions: 3 }, { topic: ATTRIBUTED_CLICKS, partitions: 3 }]);
  const app = new StreamsApp(adClicksTopology(), { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 200 });
  const output = new OutputTopic(bootstrap, ATTRIBUTED_CLICKS, { key: Serdes.string(), value: serde(AttributedClick) });
  const expected = expectedAttributions(traffic);
  const seen = (): Set<string> => new Set(output.records.flatMap((record) => (record.value === null ? [] : [`${record.value.impressionId}->${record.value.clickId}`])));
  const producer = exampleProducer(bootstrap);
  try {
    await app.start();
    // Impressions first, then clicks: whichever the application reads first, the other side is
    // within the join's ten minutes of grace (the traffic spans seven), so no pair is lost.
    await producer.typed({ key: Serdes.string(), value: serde(Impression) }).send({ topic: IMPRESSIONS, messages: traffic.impressions });
    await producer.typed({ key: Serdes.string(), value: serde(Click) }).send({ topic: CLICKS, messages: traffic.clicks });
    await until(async () => { await output.poll(); return seen().size >= expected.size; }, 'every attributed click');
    // A little longer, so that a wrong extra pair would show up too.
    for (let extra = 0; extra < 5; extra++) await output.poll();
    return seen();
  } finally {
    await producer.close();
    await output.close();
    await app.close();
  }
}

if (isMain(import.meta.url)) {
  const directory = exampleDirectory('ad-clicks');
  const broker = await exampleBroker(directory);
  try {
    const traffic = generateTraffic(600, Date.UTC(2026, 10, 21, 12));
    const pairs = await runAdClicks(broker.bootstrap, path.join(directory, 'state'), traffic);
    const expected = expectedAttributions(traffic);
    const ok = pairs.size === expected.size && [...expected].every((pair) => pairs.has(pair));
    console.log(`${traffic.impressions.length} impressions, ${traffic.clicks.length} clicks, ${pairs.size} attributed (expected ${expected.size}): ${ok ? 'match' : 'MISMATCH'}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await broker.stop();
  }
}
