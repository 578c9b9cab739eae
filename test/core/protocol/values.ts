// A schema-driven value generator for round-trip tests. For one version it fills every field
// present in that version with a value that differs from the field's default, and every
// absent field with its default, which is exactly what a decode of the encoding must return.
// The defaults are worked out here from the schema on their own, not taken from the codec.
import { inRange } from '../../../core/protocol/schema.ts';
import type { FieldSchema, PrimitiveType, StructSchema } from '../../../core/protocol/schema.ts';

export type Body = Record<string, unknown>;

export interface GenerateOptions {
  version: number;
  flexible: boolean;
  /** Set nullable fields to null instead of a value (covers the null encodings). */
  nulls: boolean;
}

function isPresent(field: FieldSchema, options: GenerateOptions): boolean {
  return inRange(field.versions, options.version) && (field.tag === undefined || options.flexible);
}

export function expectedDefault(field: FieldSchema): unknown {
  if (field.default !== undefined) return field.default;
  if (field.type === 'array') return [];
  if (field.type === 'struct') return defaultsOf(field.struct as StructSchema);
  const zeros: Record<PrimitiveType, unknown> = {
    bool: false,
    int8: 0,
    int16: 0,
    uint16: 0,
    int32: 0,
    uint32: 0,
    int64: 0n,
    float64: 0,
    string: '',
    uuid: '00000000-0000-0000-0000-000000000000',
    bytes: Buffer.alloc(0),
    records: null,
  };
  return zeros[field.type];
}

export function defaultsOf(struct: StructSchema): Body {
  const body: Body = {};
  for (const field of struct.fields) body[field.name] = expectedDefault(field);
  return body;
}

/** A counter so that neighbouring fields get different values (catches swapped fields). */
class Seed {
  private value = 0;
  next(): number {
    this.value = (this.value % 97) + 1;
    return this.value;
  }
}

function primitiveValue(type: PrimitiveType, seed: number, fallback: unknown): unknown {
  const candidates: Record<PrimitiveType, (seed: number) => unknown> = {
    bool: () => fallback !== true,
    int8: (n) => -n,
    int16: (n) => 1000 + n,
    uint16: (n) => 60000 + n,
    int32: (n) => 100000 * n + 7,
    uint32: (n) => 4000000000 + n,
    int64: (n) => (1n << 40n) * BigInt(n) + 3n,
    float64: (n) => n + 0.25,
    string: (n) => `s${n}-\u00e9\u4e2d`,
    uuid: (n) => `${n.toString(16).padStart(8, '0')}-0001-4abc-8def-${n.toString(16).padStart(12, '0')}`,
    bytes: (n) => Buffer.from([n, 0, 255, n]),
    records: (n) => Buffer.from(`records-${n}`),
  };
  const value = candidates[type](seed);
  return value === fallback ? candidates[type](seed + 1) : value;
}

function fieldValue(field: FieldSchema, options: GenerateOptions, seed: Seed, absentSeed?: Seed): unknown {
  if (options.nulls && inRange(field.nullableVersions, options.version)) return null;
  if (field.type === 'array') {
    const element: FieldSchema = { ...field, type: field.element ?? 'struct', nullableVersions: [1, 0] };
    delete (element as { default?: unknown }).default;
    return [fieldValue(element, options, seed, absentSeed), fieldValue(element, options, seed, absentSeed)];
  }
  if (field.type === 'struct') return generateStruct(field.struct as StructSchema, options, seed, absentSeed);
  return primitiveValue(field.type, seed.next(), expectedDefault(field));
}

/**
 * Fills present fields with non-default values. Absent fields get their defaults, or with
 * `absentSeed` non-default values of their own, which an encoder must ignore.
 */
export function generateStruct(struct: StructSchema, options: GenerateOptions, seed = new Seed(), absentSeed?: Seed): Body {
  const body: Body = {};
  for (const field of struct.fields) {
    if (isPresent(field, options)) {
      body[field.name] = fieldValue(field, options, seed, absentSeed);
    } else {
      body[field.name] = absentSeed === undefined ? expectedDefault(field) : fieldValue(field, { ...options, nulls: false }, absentSeed);
    }
  }
  return body;
}

export function newSeed(): Seed {
  return new Seed();
}

/** Keeps only the fields present in the version (what a sender would bother to fill in). */
export function presentOnly(struct: StructSchema, body: Body, options: GenerateOptions): Body {
  const result: Body = {};
  for (const field of struct.fields) {
    if (!isPresent(field, options)) continue;
    const value = body[field.name];
    if (field.type === 'struct' && value !== null) result[field.name] = presentOnly(field.struct as StructSchema, value as Body, options);
    else if (field.type === 'array' && field.element === 'struct' && Array.isArray(value)) {
      result[field.name] = value.map((element) => presentOnly(field.struct as StructSchema, element as Body, options));
    } else result[field.name] = value;
  }
  return result;
}
