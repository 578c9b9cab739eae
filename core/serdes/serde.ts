// Serdes turn typed keys and values into bytes and back. Null keys and values (tombstones) never
// reach a serde: the framework passes them through as null, as Kafka's serdes do by convention.
import { Buffer, isUtf8 } from 'node:buffer';
import type { z } from 'zod';

export interface Serde<T> {
  /** A short name for messages and describe() output. */
  readonly name: string;
  serialize(value: T, topic: string): Uint8Array;
  /** Throws DeserializationError when the bytes do not hold a valid T. */
  deserialize(bytes: Uint8Array, topic: string): T;
}

/** Raised by a serde when bytes cannot become a value; handled by the deserialization error handler. */
export class DeserializationError extends Error {
  readonly topic: string;
  constructor(topic: string, message: string, options?: { cause: unknown }) {
    super(`cannot deserialize a record from topic ${topic}: ${message}`, options);
    this.name = 'DeserializationError';
    this.topic = topic;
  }
}

const textEncoder = { encode: (text: string): Uint8Array => Buffer.from(text, 'utf8') };
// Buffer's codec is several times faster than TextDecoder for short strings; isUtf8 keeps the
// strictness of a fatal decoder.
const textDecoder = {
  decode: (bytes: Uint8Array): string => {
    if (!isUtf8(bytes)) throw new TypeError('invalid UTF-8');
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  },
};

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function expectLength(bytes: Uint8Array, length: number, topic: string, serdeName: string): void {
  if (bytes.byteLength !== length) {
    throw new DeserializationError(topic, `${serdeName} expects ${length} bytes, got ${bytes.byteLength}`);
  }
}

const bytesSerde: Serde<Uint8Array> = {
  name: 'bytes',
  serialize: (value) => value,
  deserialize: (bytes) => bytes,
};

const stringSerde: Serde<string> = {
  name: 'string',
  serialize: (value) => textEncoder.encode(value),
  deserialize: (bytes, topic) => {
    try {
      return textDecoder.decode(bytes);
    } catch (error) {
      throw new DeserializationError(topic, 'not valid UTF-8', { cause: error });
    }
  },
};

// Numbers use Kafka's big-endian layouts so Java clients read the same values.
const int32Serde: Serde<number> = {
  name: 'int32',
  serialize: (value) => {
    const bytes = new Uint8Array(4);
    view(bytes).setInt32(0, value);
    return bytes;
  },
  deserialize: (bytes, topic) => {
    expectLength(bytes, 4, topic, 'int32');
    return view(bytes).getInt32(0);
  },
};

const int64Serde: Serde<bigint> = {
  name: 'int64',
  serialize: (value) => {
    const bytes = new Uint8Array(8);
    view(bytes).setBigInt64(0, value);
    return bytes;
  },
  deserialize: (bytes, topic) => {
    expectLength(bytes, 8, topic, 'int64');
    return view(bytes).getBigInt64(0);
  },
};

/** A JavaScript number stored as an 8-byte signed integer, for counts that Java reads as Long. */
const longNumberSerde: Serde<number> = {
  name: 'long',
  // Two 32-bit halves avoid BigInt; safe integers fit (the high half is signed).
  serialize: (value) => {
    if (!Number.isSafeInteger(value)) throw new TypeError(`long serde needs a safe integer, got ${value}`);
    const bytes = new Uint8Array(8);
    const data = view(bytes);
    data.setInt32(0, Math.floor(value / 0x1_0000_0000));
    data.setUint32(4, value >>> 0);
    return bytes;
  },
  deserialize: (bytes, topic) => {
    expectLength(bytes, 8, topic, 'long');
    const data = view(bytes);
    return data.getInt32(0) * 0x1_0000_0000 + data.getUint32(4);
  },
};

const float64Serde: Serde<number> = {
  name: 'float64',
  serialize: (value) => {
    const bytes = new Uint8Array(8);
    view(bytes).setFloat64(0, value);
    return bytes;
  },
  deserialize: (bytes, topic) => {
    expectLength(bytes, 8, topic, 'float64');
    return view(bytes).getFloat64(0);
  },
};

function jsonSerde<T>(): Serde<T> {
  return {
    name: 'json',
    serialize: (value) => textEncoder.encode(JSON.stringify(value)),
    deserialize: (bytes, topic) => {
      try {
        return JSON.parse(textDecoder.decode(bytes)) as T;
      } catch (error) {
        throw new DeserializationError(topic, 'not valid JSON', { cause: error });
      }
    },
  };
}

/**
 * JSON checked against a zod schema on the way in and on the way out, so the inferred type of
 * the schema is the type the DSL carries. Invalid input raises DeserializationError, which the
 * deserialization error handler decides about; it is never dropped silently.
 */
export function serde<S extends z.ZodType>(schema: S): Serde<z.output<S>> {
  const json = jsonSerde<unknown>();
  return {
    name: 'zod-json',
    serialize: (value, topic) => {
      const checked = schema.safeParse(value);
      if (!checked.success) throw new TypeError(`value for topic ${topic} fails its schema: ${checked.error.message}`);
      return json.serialize(checked.data, topic);
    },
    deserialize: (bytes, topic) => {
      const checked = schema.safeParse(json.deserialize(bytes, topic));
      if (!checked.success) throw new DeserializationError(topic, `fails its schema: ${checked.error.message}`, { cause: checked.error });
      return checked.data;
    },
  };
}

const sharedJsonSerde = jsonSerde<unknown>();

export const Serdes = {
  bytes: (): Serde<Uint8Array> => bytesSerde,
  string: (): Serde<string> => stringSerde,
  int32: (): Serde<number> => int32Serde,
  int64: (): Serde<bigint> => int64Serde,
  long: (): Serde<number> => longNumberSerde,
  float64: (): Serde<number> => float64Serde,
  // One shared instance, so two sources of one topic with JSON values count as the same serde.
  json: <T>(): Serde<T> => sharedJsonSerde as Serde<T>,
  zod: serde,
} as const;
