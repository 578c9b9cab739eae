// The records that flow between processors, and the context of the input record that caused them.

export interface Header {
  readonly key: string;
  readonly value: Uint8Array | null;
}
export type Headers = readonly Header[];

/** No headers: one shared frozen array, since records made by processors (flushes, joins) carry none. */
export const NO_HEADERS: Headers = Object.freeze([]);

/** A record inside a topology: typed key and value, event time in ms, and headers. */
export interface StreamRecord<K, V> {
  readonly key: K;
  readonly value: V;
  /** Event time in milliseconds since the epoch. */
  readonly timestamp: number;
  readonly headers: Headers;
}

/**
 * Where the record being processed came from. Punctuations run with topic null and offset -1,
 * because they are caused by time rather than by an input record.
 */
export interface RecordContext {
  readonly topic: string | null;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: number;
  readonly headers: Headers;
}

/** An update to a table row: the new value and the value it replaced (null when absent). */
export interface Change<V> {
  readonly newValue: V | null;
  readonly oldValue: V | null;
}

/** A table value together with the timestamp of the record that last set it. */
export interface ValueAndTimestamp<V> {
  readonly value: V;
  readonly timestamp: number;
}

export function streamRecord<K, V>(key: K, value: V, timestamp: number, headers: Headers = []): StreamRecord<K, V> {
  return { key, value, timestamp, headers };
}

/** A raw record as it sits in a topic: bytes plus position. */
export interface TopicRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestamp: number;
  readonly headers: Headers;
  readonly partition: number;
  readonly offset: bigint;
}
