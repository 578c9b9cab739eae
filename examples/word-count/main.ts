// Word count, end to end: a few known lines into `text-lines`, the StreamsApp counts words, and
// the example prints the counts read back from the `word-counts` topic and from the queryable
// store, checking both against counts computed here. Run: npx tsx examples/word-count/main.ts
import path from 'node:path';
import { Serdes } from '../../dsl/index.ts';
import { StreamsApp } from '../../runtime/streams/app/index.ts';
import { ensureTopics, exampleBroker, exampleDirectory, exampleProducer, isMain, OutputTopic, until } from '../support.ts';
import { TEXT_LINES, WORD_COUNTS, wordCountTopology, wordsOf } from './topology.ts';

export const SAMPLE_LINES = [
  'All streams flow to the sea',
  'yet the sea is not full',
  'to the place the streams come from',
  'there they return again',
];

export function countWords(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of lines.flatMap(wordsOf)) counts.set(word, (counts.get(word) ?? 0) + 1);
  return counts;
}

export interface WordCountResult {
  /** Latest count per word on the output topic. */
  readonly topic: Map<string, number>;
  /** Count per word from the application's queryable store. */
  readonly store: Map<string, number>;
}

/** Produces `lines`, runs the application until the output holds every count, and returns what it saw. */
export async function runWordCount(bootstrap: string, stateDir: string, lines: readonly string[], applicationId = 'word-count'): Promise<WordCountResult> {
  await ensureTopics(bootstrap, [{ topic: TEXT_LINES, partitions: 3 }, { topic: WORD_COUNTS, partitions: 3 }]);
  const producer = exampleProducer(bootstrap);
  const messages = lines.map((line, index) => ({ key: `line-${index}`, value: line }));
  await producer.typed({ key: Serdes.string(), value: Serdes.string() }).send({ topic: TEXT_LINES, messages }).finally(() => producer.close());
  const app = new StreamsApp(wordCountTopology(), { applicationId, bootstrapServers: bootstrap, stateDir, commitIntervalMs: 200 });
  const output = new OutputTopic(bootstrap, WORD_COUNTS, { key: Serdes.string(), value: Serdes.long() });
  const expected = countWords(lines);
  try {
    await app.start();
    await until(async () => {
      await output.poll();
      const table = output.table();
      return [...expected].every(([word, count]) => table.get(word) === count);
    }, 'the word counts on the output topic');
    const store = app.keyValueStore<string, number>('word-counts');
    return { topic: output.table(), store: new Map(store.all().map((entry) => [entry.key, entry.value])) };
  } finally {
    await output.close();
    await app.close();
  }
}

if (isMain(import.meta.url)) {
  const directory = exampleDirectory('word-count');
  const broker = await exampleBroker(directory);
  try {
    const result = await runWordCount(broker.bootstrap, path.join(directory, 'state'), SAMPLE_LINES);
    for (const [word, count] of [...result.store].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`${word.padEnd(10)} ${count}`);
  } finally {
    await broker.stop();
  }
}
