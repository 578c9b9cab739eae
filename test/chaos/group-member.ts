// One member of the chaos consumer group, run as a child process by consumer-group.test.ts.
// It polls, "processes" each record by reporting it on stdout, then commits the offsets after
// what it processed (manual commits after processing) and reports which records that commit
// covered. SIGTERM makes it close cleanly (leaving the group); SIGKILL is the crash.
//
// Lines: `processed <json [partition, offset][]>`, `committed <json [partition, offset][]>`,
//        `assigned|revoked|lost <json partitions>`, `closed`.
import { Consumer, type TopicPartition } from '../../runtime/client/consumer.ts';

const [bootstrapServers = '', topic = '', groupId = '', name = ''] = process.argv.slice(2);
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
/** Per partition, offsets processed but not yet covered by a successful commit. */
const uncommitted = new Map<number, bigint[]>();
const forget = (partitions: TopicPartition[]): void => { for (const entry of partitions) uncommitted.delete(entry.partition); };

const consumer = new Consumer({
  bootstrapServers, groupId, clientId: name, autoCommit: false, autoOffsetReset: 'earliest',
  sessionTimeoutMs: 6_000, heartbeatIntervalMs: 300, fetchMaxWaitMs: 100, maxPollRecords: 40, retryBackoffMs: 50,
  partitionAssignors: ['cooperative-sticky'],
  onPartitionsAssigned: (partitions) => say(`assigned ${JSON.stringify(partitions.map((entry) => entry.partition))}`),
  onPartitionsRevoked: (partitions) => { say(`revoked ${JSON.stringify(partitions.map((entry) => entry.partition))}`); forget(partitions); },
  onPartitionsLost: (partitions) => { say(`lost ${JSON.stringify(partitions.map((entry) => entry.partition))}`); forget(partitions); },
});
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
consumer.subscribe({ topics: [topic] });

let lastOwned = '';
while (!stopping) {
  const records = await consumer.poll({ timeoutMs: 200 });
  const now = JSON.stringify(consumer.assignment().map((entry) => entry.partition).sort());
  if (now !== lastOwned) say(`owns ${now}`);
  lastOwned = now;
  if (records.length === 0) continue;
  say(`processed ${JSON.stringify(records.map((record) => [record.partition, String(record.offset)]))}`);
  for (const record of records) uncommitted.set(record.partition, [...(uncommitted.get(record.partition) ?? []), record.offset]);
  const owned = new Set(consumer.assignment().map((entry) => entry.partition));
  const offsets = [...uncommitted]
    .filter(([partition, list]) => owned.has(partition) && list.length > 0)
    .map(([partition, list]) => ({ topic, partition, offset: list.reduce((a, b) => (a > b ? a : b)) + 1n }));
  try {
    await consumer.commit(offsets);
    const covered: [number, string][] = [];
    for (const { partition, offset } of offsets) {
      for (const processed of uncommitted.get(partition) ?? []) if (processed < offset) covered.push([partition, String(processed)]);
      uncommitted.set(partition, (uncommitted.get(partition) ?? []).filter((processed) => processed >= offset));
    }
    say(`committed ${JSON.stringify(covered)}`);
  } catch (error) {
    say(`commit-failed ${(error as Error).message}`);
  }
}
await consumer.close();
say('closed');
process.exit(0);
