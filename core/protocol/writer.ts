// A chainable writer that grows a Buffer, for the Kafka wire encodings (see reader.ts for the
// grammar). Small values go into the growing buffer. Large byte payloads (record batches)
// are not copied in: the writer closes the current segment, keeps a reference to the payload
// and carries on, and finish() joins the segments once. So a Fetch response of many batches
// costs one copy of its records instead of one per buffer doubling plus one on the way in.

/** A value that cannot be encoded: a programmer error in the caller, never bad client input. */
export class ProtocolEncodeError extends Error {
  /** Field names from the outermost struct to the field that failed. */
  readonly fieldPath: string[] = [];
  readonly detail: string;
  context = '';

  constructor(detail: string) {
    super(detail);
    this.name = 'ProtocolEncodeError';
    this.detail = detail;
  }

  /** Adds the enclosing field name; called by struct encoders while the error unwinds. */
  withField(fieldName: string): this {
    this.fieldPath.unshift(fieldName);
    this.message = this.render();
    return this;
  }

  /** Adds what was being encoded, e.g. "Produce v9 request". */
  withContext(context: string): this {
    this.context = context;
    this.message = this.render();
    return this;
  }

  private render(): string {
    const field = this.fieldPath.length > 0 ? `field ${this.fieldPath.join('.')}: ` : '';
    const context = this.context === '' ? '' : `${this.context}: `;
    return `${context}${field}${this.detail}`;
  }
}

const CAPACITY_INITIAL = 256;
/** Payloads at least this large are referenced rather than copied until finish(). */
const RAW_REFERENCE_BYTES_MIN = 2048;
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
  private buffer: Buffer;
  /** Next write position in `buffer`. */
  private offset = 0;
  /** Where the segment not yet moved to `chunks` starts in `buffer`. */
  private segmentStart = 0;
  /** Finished segments and referenced payloads, in order, when any exist. */
  private readonly chunks: Buffer[] = [];
  private chunksBytes = 0;

  constructor(capacity = CAPACITY_INITIAL) {
    this.buffer = Buffer.allocUnsafe(Math.max(capacity, 16));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunksBytes + this.offset - this.segmentStart;
  }

  /** Makes room for `count` more bytes, doubling so appends stay amortised O(1). */
  private ensure(count: number): void {
    if (this.offset + count <= this.buffer.length) return;
    const segmentBytes = this.offset - this.segmentStart;
    let capacity = this.buffer.length * 2;
    while (capacity < segmentBytes + count) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.buffer.copy(grown, 0, this.segmentStart, this.offset);
    this.buffer = grown;
    this.segmentStart = 0;
    this.offset = segmentBytes;
  }

  /**
   * The bytes written so far: a view of the buffer when everything is in one segment, else
   * one new Buffer joining the segments. The writer must not be used afterwards.
   */
  finish(): Buffer {
    const segment = this.buffer.subarray(this.segmentStart, this.offset);
    if (this.chunks.length === 0) return segment;
    this.chunks.push(segment);
    return Buffer.concat(this.chunks, this.chunksBytes + segment.length);
  }

  /**
   * The bytes written so far as a list of buffers, without joining them, for a socket write
   * per chunk (or writev). Large payloads appear as the caller's own buffers. The writer must
   * not be used afterwards.
   */
  finishChunks(): Buffer[] {
    const segment = this.buffer.subarray(this.segmentStart, this.offset);
    const chunks = segment.length > 0 ? [...this.chunks, segment] : [...this.chunks];
    return chunks.filter((chunk) => chunk.length > 0);
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

  /**
   * Appends bytes as they are (records payloads, pre-encoded parts). Large payloads are
   * referenced until finish(), so the caller must not change them before then.
   */
  raw(bytes: Uint8Array): this {
    if (bytes.length >= RAW_REFERENCE_BYTES_MIN) return this.reference(bytes);
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  private reference(bytes: Uint8Array): this {
    const segment = this.buffer.subarray(this.segmentStart, this.offset);
    const payload = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    this.chunks.push(segment, payload);
    this.chunksBytes += segment.length + payload.length;
    this.segmentStart = this.offset;
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
