// Typed views of the producer and the consumer over serdes. The serdes are core's (core/serdes),
// the same ones the DSL and the state stores use: bytes, strings, numbers, JSON, and JSON checked
// by a zod schema whose type the producer and consumer then carry: `Serdes.zod(Order)` makes a
// producer that only accepts orders and a consumer whose records' values are orders, validated
// on the way out and on the way in (outside data is checked at the boundary; inside, types are
// trusted). As everywhere in Runnel, null keys and values (tombstones) pass through as null and
// never reach a serde.
import { Serdes, type Serde } from '../../core/serdes/index.ts';
import type { ConsumerRecord } from './fetch-records.ts';
import type { FieldInput, HeaderInput } from './batch-builder.ts';
import { KafkaClientError } from './errors.ts';
import type { Consumer } from './consumer.ts';
import type { Producer, RecordMetadata } from './producer.ts';

export type { Serde } from '../../core/serdes/index.ts';

/** A value that could not be turned into bytes, or bytes that could not be turned into a value. */
export class KafkaSerializationError extends KafkaClientError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, false, options);
  }
}

const bytes = Serdes.bytes();

export interface TypedMessage<K, V> {
  /** Undefined or null: no key. */
  key?: K | null;
  /** Null: a tombstone. */
  value: V | null;
  headers?: Readonly<Record<string, FieldInput>> | readonly HeaderInput[];
  partition?: number;
  timestamp?: number | bigint | Date;
}

export interface TypedRecord<K, V> {
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: K | null;
  value: V | null;
  headers: ConsumerRecord['headers'];
}

/** A producer that takes typed keys and values; the key serde is bytes when not given. */
export class TypedProducer<K, V> {
  constructor(readonly producer: Producer, private readonly serdes: { key?: Serde<K>; value: Serde<V> }) {}

  /** Serializes every message first, so one bad value fails the call before anything is sent. */
  async send(record: { topic: string; messages: readonly TypedMessage<K, V>[] }): Promise<RecordMetadata[]> {
    const { topic } = record;
    const messages = record.messages.map((message) => ({
      ...message,
      key: message.key === undefined || message.key === null ? null : this.serializeKey(message.key, topic),
      value: message.value === null ? null : serialize(this.serdes.value, message.value, topic, 'value'),
    }));
    return this.producer.send({ topic, messages });
  }

  private serializeKey(key: K, topic: string): Uint8Array {
    if (this.serdes.key !== undefined) return serialize(this.serdes.key, key, topic, 'key');
    if (key instanceof Uint8Array) return key;
    throw new KafkaSerializationError(`a key for ${topic} is not bytes; give the typed producer a key serde`);
  }
}

function serialize<T>(serde: Serde<T>, value: T, topic: string, field: 'key' | 'value'): Uint8Array {
  try {
    return serde.serialize(value, topic);
  } catch (error) {
    throw new KafkaSerializationError(`a ${field} for ${topic} cannot be serialized (${serde.name}): ${(error as Error).message}`, { cause: error });
  }
}

/** A consumer whose records carry typed keys and values. */
export class TypedConsumer<K, V> implements AsyncIterable<TypedRecord<K, V>> {
  private readonly serdes: { key: Serde<K>; value: Serde<V> };

  /** The key serde defaults to bytes. */
  constructor(readonly consumer: Consumer, serdes: { key?: Serde<K>; value: Serde<V> }) {
    this.serdes = { key: serdes.key ?? (bytes as Serde<unknown> as Serde<K>), value: serdes.value };
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
        key: record.key === null ? null : this.serdes.key.deserialize(record.key, record.topic),
        value: record.value === null ? null : this.serdes.value.deserialize(record.value, record.topic),
      };
    } catch (error) {
      const where = `${record.topic}-${record.partition} at offset ${record.offset}`;
      throw new KafkaSerializationError(`cannot deserialize the record of ${where}: ${(error as Error).message}`, { cause: error });
    }
  }
}
