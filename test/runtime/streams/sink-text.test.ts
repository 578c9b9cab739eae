// A sink whose serde has serializeText (strings, JSON) hands the producer text instead of bytes,
// and the producer hashes and encodes it where it writes it. These tests pin down that the text
// path gives the same bytes and the same partitions as serializing first did, for every serde
// kind, and that a sink's custom partitioner still sees the typed key and value.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Serdes, StreamsBuilder, type Serde } from '../../../dsl/index.ts';
import { murmur2, murmur2Utf8, partitionForKey } from '../../../core/partitioner.ts';
import { encodeUtf8 } from '../../../core/serdes/serde.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import type { TopicRecord } from '../../../core/topology/record.ts';
import { BatchBuilder } from '../../../runtime/client/batch-builder.ts';
import { StreamTask, type OutgoingRecord } from '../../../runtime/streams/task.ts';

/** ASCII of every length around the hand-written limits, and text that is not ASCII anywhere in it. */
const TEXTS: readonly string[] = [
  '', 'a', 'ab', 'abc', 'abcd', 'abcde', 'key-12345',
  ...[31, 32, 33, 63, 64, 65, 200].map((length) => 'k'.repeat(length)),
  'é', 'aé', 'abcé', 'ééé', '日本語のキー', 'emoji 🎉 key', '\u007f\u0080', 'x'.repeat(40) + 'ü',
  // A lone surrogate: both encoders write U+FFFD for it.
  'lone \ud800 surrogate', '\udc00',
];

/** The bytes a sink's field stands for, as a plain list, so a Buffer and a Uint8Array compare equal. */
function bytesOf(field: Uint8Array | string | null): number[] | null {
  if (field === null) return null;
  return [...(typeof field === 'string' ? encodeUtf8(field) : field)];
}

describe('serializeText', () => {
  it('is the text of serialize() for the string, JSON and zod serdes', () => {
    for (const text of TEXTS) {
      const string = Serdes.string();
      expect(encodeUtf8(string.serializeText?.(text, 't') as string)).toEqual(string.serialize(text, 't'));
      const json = Serdes.json<unknown>();
      const value = { text, list: [1, text], nested: { n: 2.5 } };
      expect(encodeUtf8(json.serializeText?.(value, 't') as string)).toEqual(json.serialize(value, 't'));
    }
    const zod = Serdes.zod(z.object({ name: z.string() }));
    expect(encodeUtf8(zod.serializeText?.({ name: 'é1' }, 't') as string)).toEqual(zod.serialize({ name: 'é1' }, 't'));
    expect(() => zod.serializeText?.({ name: 1 } as unknown as { name: string }, 't')).toThrow(/fails its schema/);
  });
});

describe('the producer side of text fields', () => {
  it('murmur2 of a string is murmur2 of its UTF-8 bytes, for every tail length and non-ASCII place', () => {
    const texts = [...TEXTS];
    for (let index = 0; index < 2_000; index++) texts.push(`key-${index}-${'x'.repeat(index % 5)}`);
    for (const text of texts) {
      const bytes = Buffer.from(text, 'utf8');
      expect(murmur2Utf8(text)).toBe(murmur2(bytes));
      for (const partitionCount of [1, 4, 7]) expect(partitionForKey(text, partitionCount)).toBe(partitionForKey(bytes, partitionCount));
    }
  });

  it('a batch of string fields has the bytes of the same batch made of their UTF-8 bytes', () => {
    const fromText = new BatchBuilder(64 * 1024);
    const fromBytes = new BatchBuilder(64 * 1024);
    for (const [index, text] of TEXTS.entries()) {
      const other = TEXTS[(index + 7) % TEXTS.length] as string;
      const headers = [{ key: 'h', value: other }];
      const headerBytes = [{ key: 'h', value: Buffer.from(other, 'utf8') }];
      expect(fromText.tryAppend(text, other, headers, 1_000 + index)).toBe(true);
      expect(fromBytes.tryAppend(Buffer.from(text, 'utf8'), Buffer.from(other, 'utf8'), headerBytes, 1_000 + index)).toBe(true);
      expect(fromText.size).toBe(fromBytes.size);
    }
    expect(fromText.seal(CompressionCodec.None, false)).toEqual(fromBytes.seal(CompressionCodec.None, false));
  });
});

describe('the batch builder with text and no headers', () => {
  it('writes the bytes of the same records given as bytes, and refuses the same record when full', () => {
    for (const capacity of [200, 1_000, 64 * 1_024]) {
      const fromText = new BatchBuilder(capacity);
      const fromBytes = new BatchBuilder(capacity);
      for (let index = 0; ; index++) {
        // Values that are not ASCII grow past the length prefix guessed for ASCII text.
        const key = index % 5 === 4 ? null : (TEXTS[index % TEXTS.length] as string);
        const value = `${TEXTS[(index + 3) % TEXTS.length] as string}${'é'.repeat(index % 45)}`;
        const textFits = fromText.tryAppend(key, value, null, 1_000 + index);
        const bytesFits = fromBytes.tryAppend(key === null ? null : Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8'), null, 1_000 + index);
        expect(textFits).toBe(bytesFits);
        expect(fromText.size).toBe(fromBytes.size);
        if (!textFits) break;
      }
      expect(fromText.recordCount).toBeGreaterThan(0);
      expect(fromText.seal(CompressionCodec.None, false)).toEqual(fromBytes.seal(CompressionCodec.None, false));
    }
  });
});

/** A serde without serializeText, whose bytes are not its text: the sink must serialize() it. */
const reversed: Serde<string> = {
  name: 'reversed',
  serialize: (value) => encodeUtf8([...value].reverse().join('')),
  deserialize: (bytes) => [...Buffer.from(bytes).toString('utf8')].reverse().join(''),
};

/** TEXTS as a string serde reads them back from their bytes (a lone surrogate becomes U+FFFD). */
const INPUTS = TEXTS.map((text) => Serdes.string().deserialize(encodeUtf8(text), 't'));

/** A serde made by spreading the string serde with a serialize of its own, as users do. */
const shouted: Serde<string> = { ...Serdes.string(), name: 'shouted', serialize: (value) => encodeUtf8(value.toUpperCase()) };

function taskFor(builder: StreamsBuilder, sent: OutgoingRecord[]): StreamTask {
  const task = new StreamTask({
    applicationId: 'app', topology: builder.build(), subtopologyId: 0, partition: 0,
    collector: { send: (record) => void sent.push(record) }, changelogWriter: null, clock: () => 0,
    deserializationErrorHandler: 'fail', globalStores: new Map(), log: () => undefined,
    partitionCount: () => 5,
  });
  task.init();
  return task;
}

describe('sinks', () => {
  it('send, for every serde kind, what serialize() makes, and a custom partitioner sees typed records', () => {
    const strings = Serdes.string();
    const json = Serdes.json<{ text: string }>();
    const seen: unknown[] = [];
    const builder = new StreamsBuilder();
    const input = builder.stream('in', { key: strings, value: strings });
    input.to('as-strings', { key: strings, value: strings });
    input.mapValues((value) => ({ text: value })).to('as-json', { key: strings, value: json });
    input.map((value, key): readonly [Uint8Array, Uint8Array] => [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')]).to('as-bytes', { key: Serdes.bytes(), value: Serdes.bytes() });
    input.to('as-custom', { key: reversed, value: reversed });
    input.to('as-shouted', { key: shouted, value: shouted });
    input.mapValues((value) => ({ text: value })).to('partitioned', {
      key: strings, value: json,
      partitioner: (topic, key, value, partitionCount) => {
        seen.push({ topic, key, value, partitionCount });
        return key.length % partitionCount;
      },
    });
    const sent: OutgoingRecord[] = [];
    const task = taskFor(builder, sent);
    for (const [index, text] of INPUTS.entries()) {
      const record: TopicRecord = { key: encodeUtf8(text), value: encodeUtf8(`v${index}${text}`), timestamp: index, headers: [{ key: 'h', value: encodeUtf8('x') }], partition: 0, offset: BigInt(index) };
      task.process('in', record);
    }
    const byTopic = (topic: string): OutgoingRecord[] => sent.filter((record) => record.topic === topic);
    const expected = (topic: string, keySerde: Serde<string>, valueOf: (value: string) => Uint8Array) =>
      INPUTS.map((text, index) => ({ key: bytesOf(keySerde.serialize(text, topic)), value: bytesOf(valueOf(`v${index}${text}`)), timestamp: index, partition: null }));
    const actual = (topic: string) => byTopic(topic).map((record) => ({ key: bytesOf(record.key), value: bytesOf(record.value), timestamp: record.timestamp, partition: record.partition }));
    expect(actual('as-strings')).toEqual(expected('as-strings', strings, (value) => strings.serialize(value, 't')));
    expect(actual('as-json')).toEqual(expected('as-json', strings, (value) => json.serialize({ text: value }, 't')));
    expect(actual('as-bytes')).toEqual(expected('as-bytes', strings, (value) => Buffer.from(value, 'utf8')));
    expect(actual('as-custom')).toEqual(expected('as-custom', reversed, (value) => reversed.serialize(value, 't')));
    // The spread copy has no serializeText of the string serde's: its own serialize() decides.
    expect(shouted.serializeText).toBeUndefined();
    expect(actual('as-shouted')).toEqual(expected('as-shouted', shouted, (value) => shouted.serialize(value, 't')));
    // Strings and JSON go as text, bytes as the very arrays the stream carried, a custom serde as its bytes.
    expect(byTopic('as-strings').every((record) => typeof record.key === 'string' && typeof record.value === 'string')).toBe(true);
    expect(byTopic('as-json').every((record) => typeof record.value === 'string')).toBe(true);
    expect(byTopic('as-custom').every((record) => record.key instanceof Uint8Array && record.value instanceof Uint8Array)).toBe(true);
    expect(byTopic('as-strings').map((record) => record.headers)).toEqual(INPUTS.map(() => [{ key: 'h', value: encodeUtf8('x') }]));
    // The partitioner got the typed key and value, and its choice is what the record carries.
    expect(seen).toEqual(INPUTS.map((text, index) => ({ topic: 'partitioned', key: text, value: { text: `v${index}${text}` }, partitionCount: 5 })));
    expect(byTopic('partitioned').map((record) => record.partition)).toEqual(INPUTS.map((text) => text.length % 5));
  });
});
