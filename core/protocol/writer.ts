// A chainable writer that grows one Buffer, for the Kafka wire encodings (see reader.ts for
// the grammar). Writing into one growing buffer means a frame is assembled with a single copy
// of each records payload and no list of chunks to concatenate at the end.

/** A value that cannot be encoded: a programmer error in the caller, never bad client input. */
export class ProtocolEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolEncodeError';
  }
}

const CAPACITY_INITIAL = 256;
const UUID_PATTERN = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/** Bytes an unsigned varint of `value` (0..2^32-1) takes. */
export function unsignedVarIntSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Zigzag mapping of a signed 32-bit integer onto an unsigned one. */
export function zigZag32(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

/** Zigzag mapping of a signed 64-bit integer onto an unsigned one. */
export function zigZag64(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/** Bytes a zigzag varint of `value` takes. */
export function varIntSize(value: number): number {
  return unsignedVarIntSize(zigZag32(value));
}

/** Bytes a zigzag varlong of `value` takes. */
export function varLongSize(value: bigint): number {
  let unsigned = zigZag64(value);
  let size = 1;
  while (unsigned >= 0x80n) {
    unsigned >>= 7n;
    size++;
  }
  return size;
}

export class Writer {
  buffer: Buffer;
  offset = 0;

  constructor(capacity = CAPACITY_INITIAL) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacity, 16));
  }

  /** Makes room for `count` more bytes, doubling so appends stay amortised O(1). */
  ensure(count: number): void {
    const needed = this.offset + count;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  /** The bytes written so far, as a view (no copy). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }

  int8(value: number): this {
    this.ensure(1);
    this.offset = this.buffer.writeInt8(value, this.offset);
    return this;
  }

  uint8(value: number): this {
    this.ensure(1);
    this.offset = this.buffer.writeUInt8(value, this.offset);
    return this;
  }

  bool(value: boolean): this {
    return this.uint8(value ? 1 : 0);
  }

  int16(value: number): this {
    this.ensure(2);
    this.offset = this.buffer.writeInt16BE(value, this.offset);
    return this;
  }

  uint16(value: number): this {
    this.ensure(2);
    this.offset = this.buffer.writeUInt16BE(value, this.offset);
    return this;
  }

  int32(value: number): this {
    this.ensure(4);
    this.offset = this.buffer.writeInt32BE(value, this.offset);
    return this;
  }

  uint32(value: number): this {
    this.ensure(4);
    this.offset = this.buffer.writeUInt32BE(value, this.offset);
    return this;
  }

  int64(value: bigint): this {
    this.ensure(8);
    this.offset = this.buffer.writeBigInt64BE(value, this.offset);
    return this;
  }

  float64(value: number): this {
    this.ensure(8);
    this.offset = this.buffer.writeDoubleBE(value, this.offset);
    return this;
  }

  /** Accepts the canonical 8-4-4-4-12 form or 32 hex digits. */
  uuid(value: string): this {
    if (!UUID_PATTERN.test(value)) throw new ProtocolEncodeError(`not a UUID: ${JSON.stringify(value)}`);
    this.ensure(16);
    this.offset += this.buffer.write(value.replaceAll('-', ''), this.offset, 16, 'hex');
    return this;
  }

  unsignedVarInt(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new ProtocolEncodeError(`unsigned varint out of range: ${value}`);
    }
    this.ensure(5);
    while (value >= 0x80) {
      this.buffer[this.offset++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.offset++] = value;
    return this;
  }

  varInt(value: number): this {
    return this.unsignedVarInt(zigZag32(value));
  }

  varLong(value: bigint): this {
    let unsigned = zigZag64(value);
    this.ensure(10);
    while (unsigned >= 0x80n) {
      this.buffer[this.offset++] = Number(unsigned & 0x7fn) | 0x80;
      unsigned >>= 7n;
    }
    this.buffer[this.offset++] = Number(unsigned);
    return this;
  }

  /** Appends bytes as they are (records payloads, pre-encoded parts). */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  private utf8(value: string, length: number): this {
    this.ensure(length);
    this.offset += this.buffer.write(value, this.offset, length, 'utf8');
    return this;
  }

  string(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    if (length > 0x7fff) throw new ProtocolEncodeError(`string of ${length} bytes exceeds int16 length`);
    return this.int16(length).utf8(value, length);
  }

  nullableString(value: string | null): this {
    return value === null ? this.int16(-1) : this.string(value);
  }

  compactString(value: string): this {
    const length = Buffer.byteLength(value, 'utf8');
    return this.unsignedVarInt(length + 1).utf8(value, length);
  }

  compactNullableString(value: string | null): this {
    return value === null ? this.unsignedVarInt(0) : this.compactString(value);
  }

  bytes(value: Uint8Array): this {
    return this.int32(value.length).raw(value);
  }

  nullableBytes(value: Uint8Array | null): this {
    return value === null ? this.int32(-1) : this.bytes(value);
  }

  compactBytes(value: Uint8Array): this {
    return this.unsignedVarInt(value.length + 1).raw(value);
  }

  compactNullableBytes(value: Uint8Array | null): this {
    return value === null ? this.unsignedVarInt(0) : this.compactBytes(value);
  }

  array<T>(values: readonly T[] | null, writeElement: (writer: Writer, value: T) => void): this {
    if (values === null) return this.int32(-1);
    this.int32(values.length);
    for (const value of values) writeElement(this, value);
    return this;
  }

  compactArray<T>(values: readonly T[] | null, writeElement: (writer: Writer, value: T) => void): this {
    if (values === null) return this.unsignedVarInt(0);
    this.unsignedVarInt(values.length + 1);
    for (const value of values) writeElement(this, value);
    return this;
  }

  /** Writes a tagged-field section; `fields` must be sorted by ascending tag. */
  taggedFields(fields: readonly { tag: number; data: Uint8Array }[] = []): this {
    this.unsignedVarInt(fields.length);
    for (const field of fields) this.unsignedVarInt(field.tag).unsignedVarInt(field.data.length).raw(field.data);
    return this;
  }
}
