// The shape of the generated protocol schemas (core/protocol/messages/*). One schema per API
// and direction covers every version: each field carries the versions it is present in, so
// the codec derives the layout of any version from the same data (franz-go's kmsg idea).

/** Inclusive version range; an open-ended range ("3+") ends at VERSION_MAX. */
export type VersionRange = readonly [number, number];

export const VERSION_MAX = 0x7fff;

export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'string'
  | 'uuid'
  | 'bytes'
  | 'records';

export type DefaultValue = string | number | bigint | boolean | null;

export interface StructSchema {
  /** The struct's name in the Kafka definitions, e.g. "TopicProduceData". */
  readonly name: string;
  readonly fields: readonly FieldSchema[];
}

export interface FieldSchema {
  /** camelCase property name, e.g. "topicData". */
  readonly name: string;
  /** 'array' and 'struct' use `element` / `struct`; everything else is a primitive. */
  readonly type: PrimitiveType | 'array' | 'struct';
  /** Element type of an array: a primitive or 'struct' (then `struct` describes it). */
  readonly element?: PrimitiveType | 'struct';
  readonly struct?: StructSchema;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  /** Set for tagged fields, which are tagged in every version they appear in. */
  readonly tag?: number;
  /** Explicit default from the definition; absent means the type's zero value. */
  readonly default?: DefaultValue;
  /** True when the field is a map key in Kafka's generated classes (informational). */
  readonly mapKey?: boolean;
  /** True when dropping the field in an older version loses nothing important. */
  readonly ignorable?: boolean;
}

export interface MessageSchema {
  readonly apiKey: number;
  /** API name without the Request/Response suffix, e.g. "Produce". */
  readonly apiName: string;
  readonly direction: 'request' | 'response';
  readonly validVersions: VersionRange;
  /** Versions using compact encodings and tagged fields; null when none are flexible. */
  readonly flexibleVersions: VersionRange | null;
  /** The newest valid version is still under development in Kafka. */
  readonly latestVersionUnstable: boolean;
  readonly fields: readonly FieldSchema[];
}

export interface ApiSchema {
  readonly apiKey: number;
  readonly apiName: string;
  readonly request: MessageSchema;
  readonly response: MessageSchema;
}

export function inRange(range: VersionRange | null | undefined, version: number): boolean {
  return range !== null && range !== undefined && version >= range[0] && version <= range[1];
}
