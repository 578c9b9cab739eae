// The primitive encodings, checked against values worked out by hand from the Kafka
// protocol guide (zigzag varints, compact lengths, UUIDs) and at their range limits.
import { describe, expect, it } from 'vitest';
import {
  ProtocolDecodeError,
  ProtocolEncodeError,
  Reader,
  unsignedVarIntSize,
  varIntSize,
  varLongSize,
  Writer,
} from '../../../core/protocol/index.ts';

function written(write: (writer: Writer) => void): string {
  const writer = new Writer(16);
  write(writer);
  return writer.finish().toString('hex');
}

function reader(hex: string): Reader {
  return new Reader(Buffer.from(hex, 'hex'));
}

describe('varints', () => {
  const signed: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [64, '8001'],
    [300, 'd804'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ];

  it.each(signed)('zigzag varint %i is %s', (value, hex) => {
    expect(written((writer) => writer.varInt(value))).toBe(hex);
    expect(reader(hex).varInt()).toBe(value);
    expect(varIntSize(value)).toBe(hex.length / 2);
  });

  const longs: [bigint, string][] = [
    [0n, '00'],
    [-1n, '01'],
    [150n, 'ac02'],
    [9223372036854775807n, 'feffffffffffffffff01'],
    [-9223372036854775808n, 'ffffffffffffffffff01'],
  ];

  it.each(longs)('zigzag varlong %s is %s', (value, hex) => {
    expect(written((writer) => writer.varLong(value))).toBe(hex);
    expect(reader(hex).varLong()).toBe(value);
    expect(varLongSize(value)).toBe(hex.length / 2);
  });

  it('writes and reads unsigned varints up to 2^32-1', () => {
    expect(written((writer) => writer.unsignedVarInt(0xffffffff))).toBe('ffffffff0f');
    expect(reader('ffffffff0f').unsignedVarInt()).toBe(0xffffffff);
    expect(unsignedVarIntSize(127)).toBe(1);
    expect(unsignedVarIntSize(128)).toBe(2);
    expect(() => new Writer().unsignedVarInt(-1)).toThrow(ProtocolEncodeError);
  });

  it('rejects varints that are too long or too large', () => {
    expect(() => reader('ffffffff1f').unsignedVarInt()).toThrow(/exceeds 32 bits/);
    expect(() => reader('8080808080').unsignedVarInt()).toThrow(/longer than 5 bytes/);
    expect(() => reader('80808080808080808080').varLong()).toThrow(/longer than 10 bytes/);
    expect(() => reader('ffffffffffffffffff7f').varLong()).toThrow(/exceeds 64 bits/);
    expect(() => reader('80').varInt()).toThrow(ProtocolDecodeError);
  });
});

describe('fixed-width values', () => {
  it('round-trips every fixed-width type at its limits', () => {
    const hex = written((writer) =>
      writer
        .int8(-128)
        .int16(-32768)
        .uint16(65535)
        .int32(-2147483648)
        .uint32(4294967295)
        .int64(-9223372036854775808n)
        .float64(-0.5)
        .bool(true),
    );
    expect(hex).toBe('80' + '8000' + 'ffff' + '80000000' + 'ffffffff' + '8000000000000000' + 'bfe0000000000000' + '01');
    const input = reader(hex);
    expect([input.int8(), input.int16(), input.uint16(), input.int32(), input.uint32()]).toEqual([-128, -32768, 65535, -2147483648, 4294967295]);
    expect([input.int64(), input.float64(), input.bool()]).toEqual([-9223372036854775808n, -0.5, true]);
    expect(input.remaining).toBe(0);
    expect(() => input.int8()).toThrow(ProtocolDecodeError);
  });

  it('writes UUIDs from canonical or bare hex and reads them in canonical form', () => {
    const canonical = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const hex = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
    expect(written((writer) => writer.uuid(canonical))).toBe(hex);
    expect(written((writer) => writer.uuid(hex.toUpperCase()))).toBe(hex);
    expect(reader(hex).uuid()).toBe(canonical);
    expect(() => new Writer().uuid('not-a-uuid')).toThrow(ProtocolEncodeError);
  });

  it('grows its buffer across many writes without losing bytes', () => {
    const writer = new Writer(16);
    for (let index = 0; index < 1000; index++) writer.int32(index);
    const input = new Reader(writer.finish());
    for (let index = 0; index < 1000; index++) expect(input.int32()).toBe(index);
  });
});

describe('large payloads', () => {
  function build(writer: Writer, payloads: Buffer[]): Writer {
    writer.int32(-1);
    for (const payload of payloads) writer.bytes(payload).int16(7);
    return writer;
  }

  function expected(payloads: Buffer[]): string {
    return 'ffffffff' + payloads.map((payload) => payload.length.toString(16).padStart(8, '0') + payload.toString('hex') + '0007').join('');
  }

  const payloads = [Buffer.alloc(5000, 1), Buffer.alloc(10, 2), Buffer.alloc(70000, 3), Buffer.alloc(2048, 4)];

  it('joins referenced payloads and small writes in order', () => {
    const writer = build(new Writer(16), payloads);
    expect(writer.length).toBe(4 + payloads.reduce((sum, payload) => sum + payload.length + 6, 0));
    expect(writer.finish().toString('hex')).toBe(expected(payloads));
  });

  it('hands out chunks that concatenate to the same bytes, with payloads uncopied', () => {
    const chunks = build(new Writer(16), payloads).finishChunks();
    expect(Buffer.concat(chunks).toString('hex')).toBe(expected(payloads));
    expect(chunks).toContain(payloads[2]);
    expect(chunks.every((chunk) => chunk.length > 0)).toBe(true);
  });
});

describe('strings, bytes and arrays', () => {
  it('encodes classic and compact strings, with null', () => {
    expect(written((writer) => writer.string('h\u00e9'))).toBe('000368c3a9');
    expect(written((writer) => writer.nullableString(null))).toBe('ffff');
    expect(written((writer) => writer.compactString('ab'))).toBe('036162');
    expect(written((writer) => writer.compactNullableString(null))).toBe('00');
    expect(reader('000368c3a9').string()).toBe('h\u00e9');
    expect(reader('ffff').nullableString()).toBeNull();
    expect(reader('036162').compactString()).toBe('ab');
    expect(reader('00').compactNullableString()).toBeNull();
    expect(() => reader('ffff').string()).toThrow(/non-nullable string/);
    expect(() => reader('00').compactString()).toThrow(/non-nullable compact string/);
  });

  it('encodes classic and compact bytes, with null, and copies what it reads', () => {
    expect(written((writer) => writer.bytes(Buffer.from([1, 2])))).toBe('000000020102');
    expect(written((writer) => writer.nullableBytes(null))).toBe('ffffffff');
    expect(written((writer) => writer.compactBytes(Buffer.from([1])))).toBe('0201');
    const source = Buffer.from('000000020102', 'hex');
    const bytes = new Reader(source).bytes();
    source[4] = 9;
    expect([...bytes]).toEqual([1, 2]);
    expect(reader('00').compactNullableBytes()).toBeNull();
  });

  it('encodes classic and compact arrays, with null', () => {
    const int32 = (writer: Writer, value: number): void => void writer.int32(value);
    expect(written((writer) => writer.array([1, 2], int32))).toBe('000000020000000100000002');
    expect(written((writer) => writer.compactArray([7], int32))).toBe('0200000007');
    expect(written((writer) => writer.compactArray(null, int32))).toBe('00');
    expect(reader('000000020000000100000002').array((input) => input.int32(), 4)).toEqual([1, 2]);
    expect(reader('ffffffff').array((input) => input.int32())).toBeNull();
    expect(reader('0200000007').compactArray((input) => input.int32(), 4)).toEqual([7]);
    expect(() => reader('00000003 00000001'.replace(' ', '')).array((input) => input.int32(), 4)).toThrow(/cannot fit/);
  });

  it('writes tagged fields and skips the ones the reader does not claim', () => {
    const hex = written((writer) => writer.taggedFields([{ tag: 1, data: Buffer.from([5]) }, { tag: 300, data: Buffer.from([6, 7]) }]));
    expect(hex).toBe('02' + '010105' + 'ac02020607');
    const seen: number[] = [];
    const input = reader(`${hex}aa`);
    input.taggedFields((tag, fieldReader) => {
      seen.push(tag);
      if (tag !== 1) return false;
      expect(fieldReader.int8()).toBe(5);
      return true;
    });
    expect(seen).toEqual([1, 300]);
    expect(input.uint8()).toBe(0xaa);
  });

  it('keeps a tagged field from reading past its declared size', () => {
    const input = reader('01 01 01 05 06'.replaceAll(' ', ''));
    expect(() => input.taggedFields((_tag, fieldReader) => fieldReader.int16() > 0)).toThrow(ProtocolDecodeError);
  });
});
