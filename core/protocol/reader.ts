// A bounds-checked cursor over a Buffer for the Kafka wire encodings.
//
// Every read checks the bytes left before it touches the buffer, so a short or hostile frame
// surfaces as a ProtocolDecodeError (which the broker turns into a closed connection) instead
// of a RangeError from Node, a hang, or a huge allocation from a forged length.
//
// Encodings (Kafka protocol guide):
//   STRING          int16 length, then UTF-8 bytes; NULLABLE_STRING uses length -1 for null
//   BYTES           int32 length, then bytes; NULLABLE_BYTES uses length -1 for null
//   ARRAY           int32 count, then elements; -1 is a null array
//   COMPACT_*       unsigned varint (length + 1) then the data; 0 is null
//   VARINT/VARLONG  zigzag then unsigned LEB128, at most 5 / 10 bytes
//   TAGGED_FIELDS   unsigned varint count, then per field: uvarint tag, uvarint size, data

/** Malformed or truncated wire data. The field path grows as the error bubbles up. */
export class ProtocolDecodeError extends Error {
  /** Field names from the outermost struct to the field that failed, e.g. ['topics', 'name']. */
  readonly fieldPath: string[] = [];
  /** The bare cause, kept so the message can be rebuilt when context is added. */
  readonly detail: string;
  context = '';

  constructor(detail: string) {
    super(detail);
    this.name = 'ProtocolDecodeError';
    this.detail = detail;
  }

  /** Adds the enclosing field name; called by struct decoders while the error unwinds. */
  withField(fieldName: string): this {
    this.fieldPath.unshift(fieldName);
    this.message = this.render();
    return this;
  }

  /** Adds what was being decoded, e.g. "Produce v9 request". */
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

const UUID_BYTES = 16;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Formats 16 bytes as a canonical lowercase UUID (8-4-4-4-12). */
export function uuidToString(buffer: Buffer, offset: number): string {
  let text = '';
  for (let index = 0; index < UUID_BYTES; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) text += '-';
    text += HEX[buffer[offset + index] as number];
  }
  return text;
}

export class Reader {
  readonly buffer: Buffer;
  offset: number;
  /** Exclusive end of the readable region; narrowed while a tagged field is decoded. */
  end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    if (offset < 0 || end > buffer.length || offset > end) {
      throw new ProtocolDecodeError(`bad reader bounds ${offset}..${end} of ${buffer.length}`);
    }
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `count` more bytes are available. */
  need(count: number): void {
    if (count > this.end - this.offset) {
      throw new ProtocolDecodeError(`needs ${count} bytes at offset ${this.offset}, only ${this.end - this.offset} left`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buffer.readInt8(this.offset++);
  }

  uint8(): number {
    this.need(1);
    return this.buffer[this.offset++] as number;
  }

  bool(): boolean {
    return this.uint8() !== 0;
  }

  int16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  uint16(): number {
    this.need(2);
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  int64(): bigint {
    this.need(8);
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  float64(): number {
    this.need(8);
    const value = this.buffer.readDoubleBE(this.offset);
    this.offset += 8;
    return value;
  }

  uuid(): string {
    this.need(UUID_BYTES);
    const text = uuidToString(this.buffer, this.offset);
    this.offset += UUID_BYTES;
    return text;
  }

  /** Unsigned LEB128 of at most 5 bytes, as Kafka's ByteUtils.readUnsignedVarint. */
  unsignedVarInt(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.uint8();
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) throw new ProtocolDecodeError('unsigned varint exceeds 32 bits');
        return value;
      }
    }
    throw new ProtocolDecodeError('unsigned varint longer than 5 bytes');
  }

  /** Zigzag-encoded signed 32-bit varint (record fields). */
  varInt(): number {
    const unsigned = this.unsignedVarInt();
    return (unsigned >>> 1) ^ -(unsigned & 1);
  }

  /** Zigzag-encoded signed 64-bit varint of at most 10 bytes. */
  varLong(): bigint {
    let unsigned = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.uint8();
      unsigned |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (unsigned > 0xffffffffffffffffn) throw new ProtocolDecodeError('varlong exceeds 64 bits');
        return BigInt.asIntN(64, (unsigned >> 1n) ^ -(unsigned & 1n));
      }
    }
    throw new ProtocolDecodeError('varlong longer than 10 bytes');
  }

  /** Checks a declared length against the bytes left before anything is allocated. */
  private checkedLength(length: number, what: string): number {
    if (length > this.end - this.offset) {
      throw new ProtocolDecodeError(`${what} length ${length} exceeds the ${this.end - this.offset} bytes left`);
    }
    return length;
  }

  private utf8(length: number): string {
    const start = this.offset;
    this.offset += length;
    return this.buffer.toString('utf8', start, start + length);
  }

  string(): string {
    const length = this.int16();
    if (length < 0) throw new ProtocolDecodeError(`non-nullable string has length ${length}`);
    return this.utf8(this.checkedLength(length, 'string'));
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < -1) throw new ProtocolDecodeError(`string has length ${length}`);
    return this.utf8(this.checkedLength(length, 'string'));
  }

  compactString(): string {
    const value = this.compactNullableString();
    if (value === null) throw new ProtocolDecodeError('non-nullable compact string is null');
    return value;
  }

  compactNullableString(): string | null {
    const lengthPlusOne = this.unsignedVarInt();
    if (lengthPlusOne === 0) return null;
    return this.utf8(this.checkedLength(lengthPlusOne - 1, 'compact string'));
  }

  /** Copies `length` bytes so the result stays valid after the frame buffer is reused. */
  private copyBytes(length: number): Buffer {
    const start = this.offset;
    this.offset += length;
    return Buffer.from(this.buffer.subarray(start, start + length));
  }

  /** A view into the frame, without copying; the caller must not keep it past the frame. */
  rawBytes(length: number): Buffer {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return this.buffer.subarray(start, start + length);
  }

  bytes(): Buffer {
    const value = this.nullableBytes();
    if (value === null) throw new ProtocolDecodeError('non-nullable bytes are null');
    return value;
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < -1) throw new ProtocolDecodeError(`bytes have length ${length}`);
    return this.copyBytes(this.checkedLength(length, 'bytes'));
  }

  compactBytes(): Buffer {
    const value = this.compactNullableBytes();
    if (value === null) throw new ProtocolDecodeError('non-nullable compact bytes are null');
    return value;
  }

  compactNullableBytes(): Buffer | null {
    const lengthPlusOne = this.unsignedVarInt();
    if (lengthPlusOne === 0) return null;
    return this.copyBytes(this.checkedLength(lengthPlusOne - 1, 'compact bytes'));
  }

  /**
   * Reads an array count (int32, -1 = null) and checks that `count` elements of at least
   * `elementBytesMin` bytes each can fit in what is left, so a forged count cannot allocate.
   */
  arrayLength(elementBytesMin: number): number {
    const count = this.int32();
    if (count === -1) return -1;
    if (count < -1) throw new ProtocolDecodeError(`array has count ${count}`);
    return this.checkedCount(count, elementBytesMin);
  }

  /** Compact array count (uvarint count + 1, 0 = null), returning -1 for null. */
  compactArrayLength(elementBytesMin: number): number {
    const countPlusOne = this.unsignedVarInt();
    if (countPlusOne === 0) return -1;
    return this.checkedCount(countPlusOne - 1, elementBytesMin);
  }

  private checkedCount(count: number, elementBytesMin: number): number {
    if (count * Math.max(elementBytesMin, 1) > this.end - this.offset) {
      throw new ProtocolDecodeError(`array count ${count} cannot fit in the ${this.end - this.offset} bytes left`);
    }
    return count;
  }

  array<T>(readElement: (reader: Reader) => T, elementBytesMin = 1): T[] | null {
    return this.readElements(this.arrayLength(elementBytesMin), readElement);
  }

  compactArray<T>(readElement: (reader: Reader) => T, elementBytesMin = 1): T[] | null {
    return this.readElements(this.compactArrayLength(elementBytesMin), readElement);
  }

  private readElements<T>(count: number, readElement: (reader: Reader) => T): T[] | null {
    if (count === -1) return null;
    const elements = new Array<T>(count);
    for (let index = 0; index < count; index++) elements[index] = readElement(this);
    return elements;
  }

  /**
   * Reads a tagged-field section. `readField` gets each tag with the reader narrowed to that
   * field's bytes and returns false for tags it does not know; those are skipped, as Kafka
   * requires for forward compatibility.
   */
  taggedFields(readField?: (tag: number, reader: Reader) => boolean): void {
    const count = this.unsignedVarInt();
    this.checkedCount(count, 2);
    for (let index = 0; index < count; index++) {
      const tag = this.unsignedVarInt();
      const size = this.checkedLength(this.unsignedVarInt(), 'tagged field');
      const fieldEnd = this.offset + size;
      if (readField !== undefined) this.readTaggedField(tag, fieldEnd, readField);
      this.offset = fieldEnd;
    }
  }

  private readTaggedField(tag: number, fieldEnd: number, readField: (tag: number, reader: Reader) => boolean): void {
    const outerEnd = this.end;
    this.end = fieldEnd;
    try {
      if (readField(tag, this) && this.offset !== fieldEnd) {
        throw new ProtocolDecodeError(`tagged field ${tag} left ${fieldEnd - this.offset} of its bytes unread`);
      }
    } finally {
      this.end = outerEnd;
    }
  }
}
