// Serdes turn typed keys and values into bytes and back. Null keys and values (tombstones) never
// reach a serde: the framework passes them through as null, as Kafka's serdes do by convention.
import { Buffer, isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import { readInt32, readInt64Number, writeInt32, writeInt64Number } from './numbers.ts';

export interface Serde<T> {
  /** A short name for messages and describe() output. */
  readonly name: string;
  /** Returns new bytes the caller may keep: stores hold on to them without copying. */
  serialize(value: T, topic: string): Uint8Array;
  /** Throws DeserializationError when the bytes do not hold a valid T. */
  deserialize(bytes: Uint8Array, topic: string): T;
  /**
   * deserialize() of bytes[start, start + length) read where they lie, for callers holding a
   * larger array (the streams runtime reads fetched records this way, without a view per
   * field). Optional: without it the caller makes the view and calls deserialize().
   */
  deserializeAt?(bytes: Uint8Array, start: number, length: number, topic: string): T;
  /**
   * deserialize() of bytes that are all ASCII, given as their string (the streams runtime reads
   * text fields of a fetched batch this way, see BatchText). Optional, for serdes of text.
   */
  deserializeAscii?(text: string, topic: string): T;
  /**
   * The string whose UTF-8 encoding is exactly what serialize() returns, for serdes whose bytes
   * are text (strings, JSON). Optional: a caller that writes into a larger buffer of its own (the
   * streams runtime hands it to the producer, which encodes it into the batch) skips the bytes
   * of every record this way; without it the caller calls serialize(). The built-in serdes keep
   * it non-enumerable (withText), so a serde made by spreading one of them with a serialize of
   * its own does not carry a serializeText that disagrees with it.
   */
  serializeText?(value: T, topic: string): string;
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

// Buffer's codec is several times faster than TextEncoder/TextDecoder for short strings, and
// short ASCII strings (most keys) are faster still by hand: no Buffer view, no native UTF-8 pass.
// Longer strings are decoded first and checked after: the decoder turns every invalid sequence
// into U+FFFD, so a string without U+FFFD came from valid UTF-8 (a one-byte string, the usual
// case, is known to hold none without a scan), and only one that holds it is checked with isUtf8,
// which keeps the strictness of a fatal decoder.
const ASCII_BY_HAND_CHARS_MAX = 32;
const nativeSlices = Buffer.prototype as unknown as {
  latin1Slice(this: Uint8Array, start: number, end: number): string;
  utf8Slice(this: Uint8Array, start: number, end: number): string;
};

/** UTF-8 bytes of a string; the result is new and never reused by the serde. */
export function encodeUtf8(text: string): Uint8Array {
  const length = text.length;
  if (length > ASCII_BY_HAND_CHARS_MAX) return Buffer.from(text, 'utf8');
  // A plain typed array costs fewer instructions than a slice of Buffer's pool, and pins no pool.
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code > 0x7f) return Buffer.from(text, 'utf8');
    bytes[index] = code;
  }
  return bytes;
}

/**
 * UTF-8 bytes of a string followed by paddingBytes zero bytes, in one allocation: stores append
 * window times to string keys this way instead of copying the encoded key.
 */
export function encodeUtf8Padded(text: string, paddingBytes: number): Uint8Array {
  const length = text.length;
  if (length <= ASCII_BY_HAND_CHARS_MAX) {
    const bytes = new Uint8Array(length + paddingBytes);
    let index = 0;
    for (; index < length; index++) {
      const code = text.charCodeAt(index);
      if (code > 0x7f) break;
      bytes[index] = code;
    }
    if (index === length) return bytes;
  }
  const encoded = Buffer.from(text, 'utf8');
  const bytes = new Uint8Array(encoded.byteLength + paddingBytes);
  bytes.set(encoded, 0);
  return bytes;
}

/** Decodes bytes[start, end) as strict UTF-8; throws TypeError on invalid input. */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= ASCII_BY_HAND_CHARS_MAX) {
    let ascii = true;
    for (let index = start; index < end; index++) {
      if ((bytes[index] as number) > 0x7f) {
        ascii = false;
        break;
      }
    }
    // For ASCII, latin1 and UTF-8 agree, and the latin1 decoder does no validation pass.
    if (ascii) return end - start <= ASCII_FROM_CODES_CHARS_MAX ? asciiFromCodes(bytes, start, end - start) : nativeSlices.latin1Slice.call(bytes, start, end);
  }
  const text = nativeSlices.utf8Slice.call(bytes, start, end);
  if (text.indexOf(REPLACEMENT_CHARACTER) !== -1 && !isUtf8(start === 0 && end === bytes.byteLength ? bytes : bytes.subarray(start, end))) throw new TypeError('invalid UTF-8');
  return text;
}

/**
 * The string of `length` ASCII bytes from bytes[start], made by String.fromCharCode with one
 * argument per byte: for the shortest strings (most keys) that costs about half the call into
 * Buffer's native latin1 decoder, and a string that short is always made flat.
 */
const ASCII_FROM_CODES_CHARS_MAX = 12;
function asciiFromCodes(bytes: Uint8Array, start: number, length: number): string {
  const b = bytes;
  const s = start;
  switch (length) {
    case 0: return '';
    case 1: return String.fromCharCode(b[s] as number);
    case 2: return String.fromCharCode(b[s] as number, b[s + 1] as number);
    case 3: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number);
    case 4: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number);
    case 5: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number);
    case 6: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number);
    case 7: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number);
    case 8: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number, b[s + 7] as number);
    case 9: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number, b[s + 7] as number, b[s + 8] as number);
    case 10: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number, b[s + 7] as number, b[s + 8] as number, b[s + 9] as number);
    case 11: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number, b[s + 7] as number, b[s + 8] as number, b[s + 9] as number, b[s + 10] as number);
    default: return String.fromCharCode(b[s] as number, b[s + 1] as number, b[s + 2] as number, b[s + 3] as number, b[s + 4] as number, b[s + 5] as number, b[s + 6] as number, b[s + 7] as number, b[s + 8] as number, b[s + 9] as number, b[s + 10] as number, b[s + 11] as number);
  }
}

/** What the UTF-8 decoder puts in place of an invalid sequence (and what EF BF BD encodes). */
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * A serde whose values always take the same number of bytes and that can write into and read
 * from a larger buffer, so composite serdes (timestamped values) build one buffer, not two.
 */
export interface FixedWidthSerde<T> extends Serde<T> {
  readonly widthBytes: number;
  writeInto(value: T, bytes: Uint8Array, offset: number): void;
  /** The caller has checked that widthBytes bytes are there. */
  readFrom(bytes: Uint8Array, offset: number): T;
}

export function isFixedWidth<T>(serde: Serde<T>): serde is FixedWidthSerde<T> {
  return typeof (serde as Partial<FixedWidthSerde<T>>).widthBytes === 'number';
}

function fixedWidth<T>(name: string, widthBytes: number, writeInto: (value: T, bytes: Uint8Array, offset: number) => void, readFrom: (bytes: Uint8Array, offset: number) => T): FixedWidthSerde<T> {
  return {
    name,
    widthBytes,
    writeInto,
    readFrom,
    serialize: (value) => {
      const bytes = new Uint8Array(widthBytes);
      writeInto(value, bytes, 0);
      return bytes;
    },
    deserialize: (bytes, topic) => {
      expectLength(bytes.byteLength, widthBytes, topic, name);
      return readFrom(bytes, 0);
    },
    deserializeAt: (bytes, start, length, topic) => {
      expectLength(length, widthBytes, topic, name);
      return readFrom(bytes, start);
    },
  };
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function expectLength(length: number, expected: number, topic: string, serdeName: string): void {
  if (length !== expected) throw new DeserializationError(topic, `${serdeName} expects ${expected} bytes, got ${length}`);
}

const bytesSerde: Serde<Uint8Array> = {
  name: 'bytes',
  serialize: (value) => value,
  deserialize: (bytes) => bytes,
};

/**
 * Gives a serde its serializeText (and deserializeAscii, when given) as non-enumerable
 * properties: `{ ...serde, serialize }` copies every other field but not these, so the copy's
 * own serialize() is what the sink calls, and a copy with a deserialize() of its own is not
 * bypassed by the ASCII path of the original.
 */
function withText<T>(serde: Serde<T>, serializeText: (value: T, topic: string) => string, deserializeAscii?: (text: string, topic: string) => T): Serde<T> {
  Object.defineProperty(serde, 'serializeText', { value: serializeText, enumerable: false, writable: false, configurable: false });
  if (deserializeAscii !== undefined) Object.defineProperty(serde, 'deserializeAscii', { value: deserializeAscii, enumerable: false, writable: false, configurable: false });
  return serde;
}

const stringSerde: Serde<string> = withText<string>({
  name: 'string',
  serialize: (value) => encodeUtf8(value),
  deserialize: (bytes, topic) => decodeString(bytes, 0, bytes.byteLength, topic),
  deserializeAt: (bytes, start, length, topic) => decodeString(bytes, start, start + length, topic),
}, (value) => value, (text) => text);

function decodeString(bytes: Uint8Array, start: number, end: number, topic: string): string {
  try {
    return decodeUtf8(bytes, start, end);
  } catch (error) {
    throw new DeserializationError(topic, 'not valid UTF-8', { cause: error });
  }
}

// Numbers use Kafka's big-endian layouts so Java clients read the same values.
const int32Serde = fixedWidth<number>('int32', 4, (value, bytes, offset) => writeInt32(bytes, offset, value), readInt32);

const int64Serde: Serde<bigint> = {
  name: 'int64',
  serialize: (value) => {
    const bytes = new Uint8Array(8);
    view(bytes).setBigInt64(0, value);
    return bytes;
  },
  deserialize: (bytes, topic) => {
    expectLength(bytes.byteLength, 8, topic, 'int64');
    return view(bytes).getBigInt64(0);
  },
};

/** A JavaScript number stored as an 8-byte signed integer, for counts that Java reads as Long. */
const longNumberSerde = fixedWidth<number>(
  'long',
  8,
  (value, bytes, offset) => {
    if (!Number.isSafeInteger(value)) throw new TypeError(`long serde needs a safe integer, got ${value}`);
    writeInt64Number(bytes, offset, value);
  },
  readInt64Number,
);

// One scratch view converts doubles; copying 8 bytes costs less than a DataView per call.
const float64Scratch = new DataView(new ArrayBuffer(8));
const float64ScratchBytes = new Uint8Array(float64Scratch.buffer);
const float64Serde = fixedWidth<number>(
  'float64',
  8,
  (value, bytes, offset) => {
    float64Scratch.setFloat64(0, value);
    bytes.set(float64ScratchBytes, offset);
  },
  (bytes, offset) => {
    float64ScratchBytes.set(bytes.subarray(offset, offset + 8));
    return float64Scratch.getFloat64(0);
  },
);

function jsonSerde<T>(): Serde<T> {
  return withText<T>({
    name: 'json',
    serialize: (value) => encodeUtf8(jsonText(value)),
    deserialize: (bytes, topic) => parseJson<T>(bytes, 0, bytes.byteLength, topic),
    deserializeAt: (bytes, start, length, topic) => parseJson<T>(bytes, start, start + length, topic),
  }, jsonText, parseJsonText);
}

function jsonText(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`json serde cannot serialize ${typeof value}`);
  return text;
}

function parseJson<T>(bytes: Uint8Array, start: number, end: number, topic: string): T {
  let text: string;
  try {
    text = decodeUtf8(bytes, start, end);
  } catch (error) {
    throw new DeserializationError(topic, 'not valid JSON', { cause: error });
  }
  return parseJsonText<T>(text, topic);
}

function parseJsonText<T>(text: string, topic: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DeserializationError(topic, 'not valid JSON', { cause: error });
  }
}

/**
 * JSON checked against a zod schema on the way in and on the way out, so the inferred type of
 * the schema is the type the DSL carries. Invalid input raises DeserializationError, which the
 * deserialization error handler decides about; it is never dropped silently.
 */
export function serde<S extends z.ZodType>(schema: S): Serde<z.output<S>> {
  const json = jsonSerde<unknown>();
  const checkedText = (value: unknown, topic: string): string => {
    const checked = schema.safeParse(value);
    if (!checked.success) throw new TypeError(`value for topic ${topic} fails its schema: ${checked.error.message}`);
    return jsonText(checked.data);
  };
  return withText<z.output<S>>({
    name: 'zod-json',
    serialize: (value, topic) => encodeUtf8(checkedText(value, topic)),
    deserialize: (bytes, topic) => {
      const checked = schema.safeParse(json.deserialize(bytes, topic));
      if (!checked.success) throw new DeserializationError(topic, `fails its schema: ${checked.error.message}`, { cause: checked.error });
      return checked.data;
    },
  }, checkedText);
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
