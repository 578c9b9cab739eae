// Compiles a schema (all versions of one message) into an encoder and a decoder for one
// version. The field walk, version checks, nullability and encoding choices (classic or
// compact) happen once here; what remains per message is a loop over small closures.
import { ProtocolDecodeError } from './reader.ts';
import type { Reader } from './reader.ts';
import { inRange } from './schema.ts';
import type { DefaultValue, FieldSchema, PrimitiveType, StructSchema } from './schema.ts';
import { ProtocolEncodeError, Writer } from './writer.ts';

type Encode = (writer: Writer, value: unknown) => void;
type Decode = (reader: Reader) => unknown;
type Body = Record<string, unknown>;

export interface CompiledStruct {
  encode(writer: Writer, value: Body): void;
  decode(reader: Reader): Body;
  /** Smallest number of bytes one encoded struct takes, to bound forged array counts. */
  readonly bytesMin: number;
}

interface ValueCodec {
  encode: Encode;
  decode: Decode;
  bytesMin: number;
}

interface RegularField {
  field: FieldSchema;
  /** Whether null may be written (nullable in this version, or a records field). */
  nullable: boolean;
  encode: Encode;
  /** Reads the field, or produces its default when the field is absent from the version. */
  decode: Decode;
  /** Shared, read-only value used when the caller leaves the field out. */
  fallback: unknown;
  present: boolean;
  bytesMin: number;
}

interface TaggedField {
  name: string;
  tag: number;
  codec: ValueCodec;
  fallback: unknown;
  /** The encoding of the default; a value that encodes the same is not sent. */
  defaultBytes: Buffer;
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
const EMPTY_BYTES = Buffer.alloc(0);

/** The value of an absent field: the definition's default, else the type's zero value. */
function zeroValue(field: FieldSchema): DefaultValue | Buffer | Body | unknown[] {
  if (field.default !== undefined) return field.default;
  switch (field.type) {
    case 'bool':
      return false;
    case 'int64':
      return 0n;
    case 'string':
      return '';
    case 'uuid':
      return ZERO_UUID;
    case 'bytes':
      return EMPTY_BYTES;
    case 'records':
      return null;
    case 'array':
      return [];
    case 'struct':
      return defaultStruct(field.struct as StructSchema);
    default:
      return 0;
  }
}

/** A fresh object holding every field's default, so decoded objects never share arrays. */
export function defaultStruct(struct: StructSchema): Body {
  const value: Body = {};
  for (const field of struct.fields) value[field.name] = freshDefault(field);
  return value;
}

function freshDefault(field: FieldSchema): unknown {
  const zero = zeroValue(field);
  if (Array.isArray(zero)) return [];
  if (Buffer.isBuffer(zero)) return Buffer.alloc(0);
  return zero;
}

function primitiveCodec(type: PrimitiveType, flexible: boolean, nullable: boolean): ValueCodec {
  switch (type) {
    case 'bool':
      return { encode: (w, v) => w.bool(v as boolean), decode: (r) => r.bool(), bytesMin: 1 };
    case 'int8':
      return { encode: (w, v) => w.int8(v as number), decode: (r) => r.int8(), bytesMin: 1 };
    case 'int16':
      return { encode: (w, v) => w.int16(v as number), decode: (r) => r.int16(), bytesMin: 2 };
    case 'uint16':
      return { encode: (w, v) => w.uint16(v as number), decode: (r) => r.uint16(), bytesMin: 2 };
    case 'int32':
      return { encode: (w, v) => w.int32(v as number), decode: (r) => r.int32(), bytesMin: 4 };
    case 'uint32':
      return { encode: (w, v) => w.uint32(v as number), decode: (r) => r.uint32(), bytesMin: 4 };
    case 'int64':
      return { encode: (w, v) => w.int64(typeof v === 'bigint' ? v : BigInt(v as number)), decode: (r) => r.int64(), bytesMin: 8 };
    case 'float64':
      return { encode: (w, v) => w.float64(v as number), decode: (r) => r.float64(), bytesMin: 8 };
    case 'uuid':
      return { encode: (w, v) => w.uuid(v as string), decode: (r) => r.uuid(), bytesMin: 16 };
    case 'string':
      return stringCodec(flexible, nullable);
    case 'bytes':
      return bytesCodec(flexible, nullable);
    case 'records':
      return recordsCodec(flexible);
  }
}

function stringCodec(flexible: boolean, nullable: boolean): ValueCodec {
  if (flexible) {
    return nullable
      ? { encode: (w, v) => w.compactNullableString(v as string | null), decode: (r) => r.compactNullableString(), bytesMin: 1 }
      : { encode: (w, v) => w.compactString(v as string), decode: (r) => r.compactString(), bytesMin: 1 };
  }
  return nullable
    ? { encode: (w, v) => w.nullableString(v as string | null), decode: (r) => r.nullableString(), bytesMin: 2 }
    : { encode: (w, v) => w.string(v as string), decode: (r) => r.string(), bytesMin: 2 };
}

function bytesCodec(flexible: boolean, nullable: boolean): ValueCodec {
  if (flexible) {
    return nullable
      ? { encode: (w, v) => w.compactNullableBytes(v as Buffer | null), decode: (r) => r.compactNullableBytes(), bytesMin: 1 }
      : { encode: (w, v) => w.compactBytes(v as Buffer), decode: (r) => r.compactBytes(), bytesMin: 1 };
  }
  return nullable
    ? { encode: (w, v) => w.nullableBytes(v as Buffer | null), decode: (r) => r.nullableBytes(), bytesMin: 4 }
    : { encode: (w, v) => w.bytes(v as Buffer), decode: (r) => r.bytes(), bytesMin: 4 };
}

/**
 * Records are copied as opaque bytes and decoded as a view into the frame (no copy): the
 * record batches are validated and parsed by core/records only where that is needed.
 * A null records field is written as null even where the definition says non-nullable,
 * because the only such field (FetchSnapshot) treats both the same.
 */
function recordsCodec(flexible: boolean): ValueCodec {
  if (flexible) {
    return {
      encode: (w, v) => w.compactNullableBytes(v as Buffer | null),
      decode: (r) => {
        const lengthPlusOne = r.unsignedVarInt();
        return lengthPlusOne === 0 ? null : r.rawBytes(lengthPlusOne - 1);
      },
      bytesMin: 1,
    };
  }
  return {
    encode: (w, v) => w.nullableBytes(v as Buffer | null),
    decode: (r) => {
      const length = r.int32();
      if (length < -1) throw new ProtocolDecodeError(`records have length ${length}`);
      return length === -1 ? null : r.rawBytes(length);
    },
    bytesMin: 4,
  };
}

function arrayCodec(element: ValueCodec, flexible: boolean, nullable: boolean): ValueCodec {
  const { encode: encodeElement, decode: decodeElement, bytesMin } = element;
  const encode: Encode = flexible
    ? (w, v) => w.compactArray(v as unknown[] | null, encodeElement)
    : (w, v) => w.array(v as unknown[] | null, encodeElement);
  const readCount = flexible ? (r: Reader) => r.compactArrayLength(bytesMin) : (r: Reader) => r.arrayLength(bytesMin);
  const decode: Decode = (r) => {
    const count = readCount(r);
    if (count === -1) {
      if (!nullable) throw new ProtocolDecodeError('non-nullable array is null');
      return null;
    }
    const values = new Array<unknown>(count);
    for (let index = 0; index < count; index++) values[index] = decodeElement(r);
    return values;
  };
  return { encode, decode, bytesMin: flexible ? 1 : 4 };
}

/** A nullable struct is preceded by an int8 marker: -1 for null, 1 for present. */
function nullableStructCodec(inner: ValueCodec): ValueCodec {
  return {
    encode: (w, v) => {
      if (v === null) {
        w.int8(-1);
        return;
      }
      w.int8(1);
      inner.encode(w, v);
    },
    decode: (r) => (r.int8() < 0 ? null : inner.decode(r)),
    bytesMin: 1,
  };
}

/** Rejects null for fields that are not nullable in this version, naming the field. */
function guardNull(codec: ValueCodec, field: FieldSchema, version: number): ValueCodec {
  const { encode } = codec;
  return {
    ...codec,
    encode: (w, v) => {
      if (v === null) throw new ProtocolEncodeError(`null is not allowed in version ${version}`);
      encode(w, v);
    },
  };
}

function valueCodec(field: FieldSchema, version: number, flexible: boolean): ValueCodec {
  const nullable = inRange(field.nullableVersions, version);
  let codec: ValueCodec;
  if (field.type === 'array') {
    const elementField: FieldSchema = { ...field, type: field.element ?? 'struct', nullableVersions: [1, 0] };
    codec = arrayCodec(valueCodec(elementField, version, flexible), flexible, nullable);
  } else if (field.type === 'struct') {
    const struct = compileStruct(field.struct as StructSchema, version, flexible);
    codec = { encode: (w, v) => struct.encode(w, v as Body), decode: (r) => struct.decode(r), bytesMin: struct.bytesMin };
    if (nullable) codec = nullableStructCodec(codec);
  } else {
    codec = primitiveCodec(field.type, flexible, nullable);
  }
  return nullable || field.type === 'records' ? codec : guardNull(codec, field, version);
}

function encodeToBuffer(codec: ValueCodec, value: unknown): Buffer {
  const writer = new Writer(32);
  codec.encode(writer, value);
  return writer.finish();
}

function compileFields(struct: StructSchema, version: number, flexible: boolean): { regular: RegularField[]; tagged: TaggedField[] } {
  const regular: RegularField[] = [];
  const tagged: TaggedField[] = [];
  for (const field of struct.fields) {
    const present = inRange(field.versions, version) && (field.tag === undefined || flexible);
    const fallback = zeroValue(field);
    if (present && field.tag !== undefined) {
      const codec = valueCodec(field, version, true);
      tagged.push({ name: field.name, tag: field.tag, codec, fallback, defaultBytes: encodeToBuffer(codec, fallback) });
    }
    if (!present || field.tag !== undefined) {
      regular.push({ field, nullable: true, encode: () => {}, decode: () => freshDefault(field), fallback, present: false, bytesMin: 0 });
      continue;
    }
    const codec = valueCodec(field, version, flexible);
    const nullable = inRange(field.nullableVersions, version) || field.type === 'records';
    regular.push({ field, nullable, encode: codec.encode, decode: codec.decode, fallback, present: true, bytesMin: codec.bytesMin });
  }
  tagged.sort((a, b) => a.tag - b.tag);
  return { regular, tagged };
}

const compiledStructs = new WeakMap<StructSchema, Map<number, CompiledStruct>>();

/** Compiles (and caches) the codec for one struct at one version and encoding style. */
export function compileStruct(struct: StructSchema, version: number, flexible: boolean): CompiledStruct {
  let byVersion = compiledStructs.get(struct);
  if (byVersion === undefined) {
    byVersion = new Map();
    compiledStructs.set(struct, byVersion);
  }
  const key = version * 2 + (flexible ? 1 : 0);
  let compiled = byVersion.get(key);
  if (compiled === undefined) {
    compiled = buildStruct(struct, version, flexible);
    byVersion.set(key, compiled);
  }
  return compiled;
}

function buildStruct(struct: StructSchema, version: number, flexible: boolean): CompiledStruct {
  const { regular, tagged } = compileFields(struct, version, flexible);
  // Fields absent from the version count 0.
  const bytesMin = regular.reduce((sum, field) => sum + field.bytesMin, flexible ? 1 : 0);
  const encodeTagged = flexible ? taggedEncoder(tagged) : null;
  const decodeTagged = flexible ? taggedDecoder(tagged) : null;
  return generatedStruct(regular, version, flexible, encodeTagged, decodeTagged, bytesMin);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A field name as an object-literal key and as a property access in generated code. */
function propertySource(name: string): { key: string; access: string } {
  // "__proto__" as a plain key would set the prototype; a computed key makes an own property.
  if (IDENTIFIER.test(name) && name !== '__proto__') return { key: name, access: `.${name}` };
  const quoted = JSON.stringify(name);
  return { key: `[${quoted}]`, access: `[${quoted}]` };
}

/** The Reader and Writer methods of a primitive field, by nullability and encoding style. */
function primitiveMethods(type: PrimitiveType, flexible: boolean, nullable: boolean): { read: string; write: string } | null {
  switch (type) {
    case 'string':
    case 'bytes': {
      const suffix = type === 'string' ? 'String' : 'Bytes';
      const method = flexible ? (nullable ? `compactNullable${suffix}` : `compact${suffix}`) : nullable ? `nullable${suffix}` : type;
      return { read: method, write: method };
    }
    case 'records':
      return null;
    default:
      return { read: type, write: type };
  }
}

/**
 * The same codec written out as one function per direction (new Function), so that each
 * field is a property with a fixed name read or written at its own site: decoded objects get
 * one shape per struct, and the reads and writes of primitive fields call the Reader and
 * Writer directly instead of through a closure per field. Field names come from the Kafka
 * message definitions; one that is not a plain identifier is written as a quoted key.
 */
function generatedStruct(
  regular: RegularField[],
  version: number,
  flexible: boolean,
  encodeTagged: ((writer: Writer, value: Body) => void) | null,
  decodeTagged: ((reader: Reader, value: Body) => void) | null,
  bytesMin: number,
): CompiledStruct {
  const names = regular.map((entry) => entry.field.name);
  const nullMessage = `null is not allowed in version ${version}`;
  const decodeParts: string[] = [];
  const encodeLines: string[] = [];
  regular.forEach((entry, index) => {
    const { field } = entry;
    const property = propertySource(field.name);
    const primitive = entry.present && field.type !== 'array' && field.type !== 'struct'
      ? primitiveMethods(field.type, flexible, entry.nullable)
      : null;
    const immutableDefault = entry.fallback === null || typeof entry.fallback !== 'object';
    let read: string;
    if (!entry.present) read = immutableDefault ? `K[${index}]` : `D[${index}](r)`;
    else if (primitive !== null) read = `r.${primitive.read}()`;
    else read = `D[${index}](r)`;
    decodeParts.push(`${property.key}: (k = ${index}, ${read})`);
    if (!entry.present) return;
    const lines = [`k = ${index}; x = v${property.access}; if (x === undefined) x = K[${index}];`];
    if (primitive !== null) {
      if (!entry.nullable) lines.push(`if (x === null) throw new EncodeError(NULL);`);
      lines.push(field.type === 'int64' ? `w.int64(typeof x === 'bigint' ? x : BigInt(x));` : `w.${primitive.write}(x);`);
    } else {
      lines.push(`E[${index}](w, x);`);
    }
    encodeLines.push(lines.join(' '));
  });
  const decodeSource = [
    'let k = 0;',
    'try {',
    `  const o = { ${decodeParts.join(', ')} };`,
    // Tagged fields name themselves in their errors (taggedDecoder): k = -1 passes those on.
    '  k = -1;',
    '  if (decodeTagged !== null) decodeTagged(r, o);',
    '  return o;',
    '} catch (error) {',
    '  if (k < 0) throw error;',
    '  throw decodeFailure(error, N[k]);',
    '}',
  ].join('\n');
  const encodeSource = [
    'let k = -1;',
    'let x;',
    'try {',
    ...encodeLines.map((line) => `  ${line}`),
    '} catch (error) {',
    '  throw encodeFailure(error, N[k]);',
    '}',
    'if (encodeTagged !== null) encodeTagged(w, v);',
  ].join('\n');
  const constants = {
    K: regular.map((entry) => entry.fallback),
    D: regular.map((entry) => entry.decode),
    E: regular.map((entry) => entry.encode),
    N: names,
  };
  const decode = new Function(
    'K', 'D', 'N', 'decodeTagged', 'decodeFailure',
    `return function decodeStruct(r) {\n${decodeSource}\n};`,
  )(constants.K, constants.D, constants.N, decodeTagged, decodeFailure) as (reader: Reader) => Body;
  const encode = new Function(
    'K', 'E', 'N', 'NULL', 'EncodeError', 'encodeTagged', 'encodeFailure',
    `return function encodeStruct(w, v) {\n${encodeSource}\n};`,
  )(constants.K, constants.E, constants.N, nullMessage, ProtocolEncodeError, encodeTagged, encodeFailure) as (writer: Writer, value: Body) => void;
  return { bytesMin, encode, decode };
}

function taggedEncoder(tagged: TaggedField[]): (writer: Writer, value: Body) => void {
  return (writer, value) => {
    // Most structs carry only default tagged values, so the list is made only when needed.
    let sections: { tag: number; data: Buffer }[] | undefined;
    for (const field of tagged) {
      const fieldValue = value[field.name];
      if (fieldValue === undefined || fieldValue === field.fallback) continue;
      let data: Buffer;
      try {
        data = encodeToBuffer(field.codec, fieldValue);
      } catch (error) {
        throw encodeFailure(error, field.name);
      }
      if (!data.equals(field.defaultBytes)) (sections ??= []).push({ tag: field.tag, data });
    }
    writer.taggedFields(sections);
  };
}

function taggedDecoder(tagged: TaggedField[]): (reader: Reader, value: Body) => void {
  const byTag = new Map(tagged.map((field) => [field.tag, field]));
  return (reader, value) => {
    let current = '(tagged fields)';
    try {
      reader.taggedFields((tag, fieldReader) => {
        const field = byTag.get(tag);
        if (field === undefined) return false;
        current = field.name;
        value[field.name] = field.codec.decode(fieldReader);
        return true;
      });
    } catch (error) {
      throw decodeFailure(error, current);
    }
  };
}

function decodeFailure(error: unknown, fieldName: string): ProtocolDecodeError {
  const failure = error instanceof ProtocolDecodeError ? error : new ProtocolDecodeError(String(error));
  return failure.withField(fieldName);
}

function encodeFailure(error: unknown, fieldName: string): ProtocolEncodeError {
  const failure = error instanceof ProtocolEncodeError ? error : new ProtocolEncodeError(error instanceof Error ? error.message : String(error));
  return failure.withField(fieldName);
}
