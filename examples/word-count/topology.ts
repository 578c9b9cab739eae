// Word count: lines of text in, a running count per word out, in a table named `word-counts`
// that interactive queries can read.
import { Serdes, StreamsBuilder, type Topology } from '../../dsl/index.ts';

export const TEXT_LINES = 'text-lines';
export const WORD_COUNTS = 'word-counts';

/** Lower-cased words of a line; anything that is not a letter or digit separates words. */
export function wordsOf(line: string): string[] {
  return line.toLowerCase().split(/[^\p{L}\p{N}']+/u).filter((word) => word !== '');
}

export function wordCountTopology(): Topology {
  const builder = new StreamsBuilder({ strictNames: true });
  builder
    .stream(TEXT_LINES, { key: Serdes.string(), value: Serdes.string() })
    .flatMapValues((line) => wordsOf(line), { name: 'split-words' })
    .groupBy((word) => word, { name: 'words', key: Serdes.string(), value: Serdes.string() })
    .count({ name: 'word-counts', key: Serdes.string(), value: Serdes.long() })
    .toStream({ name: 'word-count-updates' })
    .to(WORD_COUNTS, { key: Serdes.string(), value: Serdes.long() });
  return builder.build();
}
