// Upgrading a running application to a new topology keeps its state only if the names that
// decide stores and internal topics survive. This compares two topology descriptions (the
// previous one may come from a file) and reports what the new one would orphan or reinterpret.
import type { TopologyDescription } from './describe.ts';

export interface CompatibilityReport {
  readonly compatible: boolean;
  readonly problems: readonly string[];
}

export function checkCompatibility(previous: TopologyDescription, next: TopologyDescription): CompatibilityReport {
  const problems: string[] = [];
  const nextStores = new Map(next.stores.map((store) => [store.name, store]));
  for (const store of previous.stores) {
    const successor = nextStores.get(store.name);
    if (successor === undefined) problems.push(`store ${store.name} is gone: its state and changelog would be orphaned`);
    else if (successor.kind !== store.kind) problems.push(`store ${store.name} changes kind from ${store.kind} to ${successor.kind}`);
    else if (successor.changelogTopic !== store.changelogTopic) {
      problems.push(`store ${store.name} changes changelog from ${store.changelogTopic ?? 'none'} to ${successor.changelogTopic ?? 'none'}`);
    }
  }
  const nextTopics = new Set(next.internalTopics.map((topic) => topic.name));
  for (const topic of previous.internalTopics) {
    if (!nextTopics.has(topic.name)) problems.push(`internal topic ${topic.name} is gone: records in it would be orphaned`);
  }
  return { compatible: problems.length === 0, problems };
}
