// Serializers and deserializers for keys and values, and typed views of the producer and the
// consumer built on them. Bytes, UTF-8 strings, JSON, and JSON checked by a zod schema whose
// type the producer and consumer then carry: `Serdes.json(Order)` makes a producer that only
// accepts orders and a consumer whose records' values are orders, validated on the way out and
// on the way in (outside data is checked at the boundary; inside, types are trusted).
import type { z } from 'zod';
import type { ConsumerRecord } from './fetch-records.ts';
import type { HeaderInput } from './batch-builder.ts';
import { KafkaClientError } from './errors.ts';
import type { Consumer } from './consumer.ts';
import type { Producer, RecordMetadata } from './producer.ts';

/** A value that could not be turned into bytes, or bytes that could not be turned into a value. */
export class KafkaSerializationError extends KafkaClientError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, false, options);
  }
}

export interface Serde<T> {
  serialize(value: T, topic: string): Buffer | null;
  deserialize(data: Buffer | null, topic: string): T;
}

const bytes: Serde<Buffer | null> = {
  serialize: (value) => value,
  deserialize: (data) => data,
};

const string: Serde<string | null> = {
  serialize: (value) => (value === null ? null : Buffer.from(value, 'utf8')),
  deserialize: (data) => (data === null ? null : data.toString('utf8')),
};

function parseJson(data: Buffer, topic: string): unknown {
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch (error) {
    throw new KafkaSerializationError(`a record of ${topic} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function json(): Serde<unknown>;
function json<S extends z.ZodType>(schema: S): Serde<z.output<S>>;
function json<S extends z.ZodType>(schema?: S): Serde<unknown> {
  const check = (value: unknown, topic: string, direction: string): unknown => {
    if (schema === undefined) return value;
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw new KafkaSerializationError(`${direction} ${topic} does not match its schema: ${problems}`);
  };
  return {
    // A null value stays null: a tombstone, not the JSON text 'null'.
    serialize: (value, topic) => (value === null ? null : Buffer.from(JSON.stringify(check(value, topic, 'a record for')), 'utf8')),
    deserialize: (data, topic) => (data === null ? check(null, topic, 'a record of') : check(parseJson(data, topic), topic, 'a record of')),
  };
}

/** The built-in serdes. `json(schema)` validates both ways and carries the schema's type. */
export const Serdes = { bytes: (): Serde<Buffer | null> => bytes, string: (): Serde<string | null> => string, json };

export interface TypedMessage<K, V> {
  key?: K;
  value: V;
  headers?: Readonly<Record<string, Buffer | string | null>> | readonly HeaderInput[];
  partition?: number;
  timestamp?: number | bigint | Date;
}

export interface TypedRecord<K, V> {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: K;
  value: V;
  headers: ConsumerRecord['headers'];
}

/** A producer that takes typed keys and values; the key serde is bytes when not given. */
export class TypedProducer<K, V> {
  constructor(readonly producer: Producer, private readonly serdes: { key?: Serde<K>; value: Serde<V> }) {}

  /** Serializes every message first, so one bad value fails the call before anything is sent. */
  async send(record: { topic: string; messages: readonly TypedMessage<K, V>[] }): Promise<RecordMetadata[]> {
    const { topic } = record;
    const messages = record.messages.map((message) => {
      const key = message.key === undefined ? null : this.serializeKey(message.key, topic);
      const encoded = { ...message, key, value: this.serdes.value.serialize(message.value, topic) };
      return encoded;
    });
    return this.producer.send({ topic, messages });
  }

  private serializeKey(key: K, topic: string): Buffer | null {
    if (this.serdes.key !== undefined) return this.serdes.key.serialize(key, topic);
    if (key === null || Buffer.isBuffer(key)) return key as Buffer | null;
    throw new KafkaSerializationError(`a key for ${topic} is not bytes; give the typed producer a key serde`);
  }
}

/** A consumer whose records carry typed keys and values. */
export class TypedConsumer<K, V> implements AsyncIterable<TypedRecord<K, V>> {
  private readonly serdes: { key: Serde<K>; value: Serde<V> };

  /** The key serde defaults to bytes. */
  constructor(readonly consumer: Consumer, serdes: { key?: Serde<K>; value: Serde<V> }) {
    this.serdes = { key: serdes.key ?? (bytes as unknown as Serde<K>), value: serdes.value };
  }

  /**
   * Polls and deserializes. A record that does not deserialize throws a KafkaSerializationError
   * naming its topic, partition and offset; the consumer's position is already past the records
   * of this poll, so the application decides whether to seek back or skip.
   */
  async poll(options: { timeoutMs?: number; maxRecords?: number } = {}): Promise<TypedRecord<K, V>[]> {
    return (await this.consumer.poll(options)).map((record) => this.convert(record));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TypedRecord<K, V>> {
    for await (const record of this.consumer) yield this.convert(record);
  }

  private convert(record: ConsumerRecord): TypedRecord<K, V> {
    try {
      return {
        topic: record.topic, partition: record.partition, offset: record.offset, timestamp: record.timestamp, headers: record.headers,
        key: this.serdes.key.deserialize(record.key, record.topic),
        value: this.serdes.value.deserialize(record.value, record.topic),
      };
    } catch (error) {
      const where = `${record.topic}-${record.partition} at offset ${record.offset}`;
      if (error instanceof KafkaSerializationError) throw new KafkaSerializationError(`${error.message} (${where})`, { cause: error });
      throw new KafkaSerializationError(`cannot deserialize the record of ${where}: ${(error as Error).message}`, { cause: error });
    }
  }
}
