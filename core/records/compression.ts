// The five codecs of a record batch (attributes bits 0-2), compressing and decompressing the
// records section as one block, synchronously: batches are small (message.max.bytes) and the
// callers are already off the latency-critical path when they need this.
//
// Every decompression is bounded by `decompressedBytesMax` BEFORE the output is allocated
// where the format allows it (gzip via zlib's maxOutputLength, snappy and lz4 from their
// length fields, zstd by streaming into bounded chunks), so a small hostile batch cannot make
// the broker allocate gigabytes. Any failure becomes a CorruptRecordError.
import { gunzipSync, gzipSync } from 'node:zlib';
import snappy from 'snappy';
import lz4 from 'lz4-napi';
import { compress as zstdCompress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { CorruptRecordError } from './errors.ts';

export { CorruptRecordError } from './errors.ts';

// Members are PascalCase like a TypeScript enum; it is a const object so the module stays
// erasable TypeScript.
export const CompressionCodec = { None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 } as const;
export type CompressionCodec = (typeof CompressionCodec)[keyof typeof CompressionCodec];

/**
 * Default ceiling on the decompressed size of one batch's records. It lives here rather than in
 * core/limits.ts (owned by someone else); it matches LIMITS.responseFrameBytesMax, since a
 * client could never have been sent more than that, compressed or not.
 */
export const DECOMPRESSED_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;

const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

export function isCompressionCodec(value: number): value is CompressionCodec {
  return Number.isInteger(value) && value >= 0 && value < CODEC_NAMES.length;
}

export function compressionCodecName(codec: CompressionCodec): string {
  return CODEC_NAMES[codec] ?? `unknown(${codec})`;
}

export function compress(codec: CompressionCodec, data: Buffer): Buffer {
  switch (codec) {
    case CompressionCodec.None:
      return data;
    case CompressionCodec.Gzip:
      return gzipSync(data);
    case CompressionCodec.Snappy:
      return compressXerialSnappy(data);
    case CompressionCodec.Lz4:
      return lz4.compressFrameSync(data);
    case CompressionCodec.Zstd:
      return zstdCompress(data);
    default:
      throw new CorruptRecordError(`unknown compression codec ${String(codec)}`);
  }
}

export function decompress(
  codec: number,
  data: Buffer,
  decompressedBytesMax: number = DECOMPRESSED_BYTES_MAX_DEFAULT,
): Buffer {
  if (!isCompressionCodec(codec)) throw new CorruptRecordError(`unknown compression codec ${codec}`);
  const output = decompressUnchecked(codec, data, decompressedBytesMax);
  if (output.length > decompressedBytesMax) throw tooLarge(codec, output.length, decompressedBytesMax);
  return output;
}

function decompressUnchecked(codec: CompressionCodec, data: Buffer, limit: number): Buffer {
  try {
    switch (codec) {
      case CompressionCodec.None:
        return data;
      case CompressionCodec.Gzip:
        return gunzipSync(data, { maxOutputLength: Math.max(1, limit) });
      case CompressionCodec.Snappy:
        return decompressSnappy(data, limit);
      case CompressionCodec.Lz4:
        return decompressLz4(data, limit);
      case CompressionCodec.Zstd:
        return decompressZstd(data, limit);
    }
  } catch (error) {
    if (error instanceof CorruptRecordError) throw error;
    if (isNodeError(error) && error.code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(codec, `more than ${limit}`, limit);
    const reason = error instanceof Error ? error.message : String(error);
    throw new CorruptRecordError(`${CODEC_NAMES[codec]} data is corrupt: ${reason}`, { cause: error });
  }
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && 'code' in error;
}

function tooLarge(codec: number, size: number | string, limit: number): CorruptRecordError {
  return new CorruptRecordError(
    `${CODEC_NAMES[codec] ?? codec} data decompresses to ${size} bytes, more than the limit of ${limit}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Snappy. Java clients wrap raw snappy in the xerial snappy-java stream framing:
//
//   header  = 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00 | version i32 (1) | compatibleVersion i32 (1)
//   block*  = compressedLength i32 | raw snappy block of that many bytes
//
// Each raw block starts with its uncompressed length as an unsigned little-endian base-128
// varint, which is what lets us check the size limit before decompressing anything.

export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size; Kafka's producer uses it unchanged. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

function compressXerialSnappy(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  parts.push(header);
  for (let start = 0; start < data.length; start += XERIAL_BLOCK_BYTES) {
    const block = snappy.compressSync(data.subarray(start, start + XERIAL_BLOCK_BYTES));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

function decompressSnappy(data: Buffer, limit: number): Buffer {
  if (!isXerialFramed(data)) return decompressRawSnappy(data, limit);
  const blocks: Buffer[] = [];
  let total = 0;
  let position = XERIAL_HEADER_BYTES;
  while (position < data.length) {
    if (data.length - position < 4) throw new CorruptRecordError('xerial snappy block length is truncated');
    const length = data.readInt32BE(position);
    position += 4;
    if (length < 0 || length > data.length - position) {
      throw new CorruptRecordError(`xerial snappy block of ${length} bytes overruns the data`);
    }
    const block = decompressRawSnappy(data.subarray(position, position + length), limit - total);
    total += block.length;
    blocks.push(block);
    position += length;
  }
  return Buffer.concat(blocks, total);
}

function decompressRawSnappy(block: Buffer, limit: number): Buffer {
  const size = rawSnappyLength(block);
  if (size > limit) throw tooLarge(CompressionCodec.Snappy, size, limit);
  const output = snappy.uncompressSync(block, { asBuffer: true });
  if (!Buffer.isBuffer(output) || output.length !== size) {
    throw new CorruptRecordError('snappy block decompressed to a different length than it declares');
  }
  return output;
}

/** The uncompressed length a raw snappy block declares in its leading varint. */
function rawSnappyLength(block: Buffer): number {
  let value = 0;
  for (let index = 0; index < 5; index++) {
    const byte = block[index];
    if (byte === undefined) break;
    value += (byte & 0x7f) * 2 ** (7 * index);
    if ((byte & 0x80) === 0) return value;
  }
  throw new CorruptRecordError('snappy block has no valid length prefix');
}

// ---------------------------------------------------------------------------------------------
// LZ4 frame format (what Kafka's KafkaLZ4BlockOutputStream writes since magic 1):
//
//   frame  = magic u32le 0x184D2204 | FLG u8 | BD u8 | [contentSize u64le] | [dictId u32le] |
//            headerChecksum u8 | block* | endMark u32le 0 | [contentChecksum u32le]
//   block  = size u32le (high bit: stored uncompressed) | data | [blockChecksum u32le]
//
// Walking the block headers (no decompression) gives an upper bound on the output: a stored
// block is exactly its size, a compressed one at most min(blockMax, 255 * its size), because
// one LZ4 input byte can produce at most 255 output bytes.

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

// The bound overshoots by up to one block per frame (a short last block is counted whole), so
// it is compared with the limit plus the largest block size; the exact length is checked after
// decompression. Memory stays bounded by the limit plus 4 MiB.
const LZ4_BOUND_SLACK_BYTES = 4 * 1024 * 1024;

function decompressLz4(data: Buffer, limit: number): Buffer {
  const bound = lz4FrameBound(data);
  if (bound > limit + LZ4_BOUND_SLACK_BYTES) throw tooLarge(CompressionCodec.Lz4, `up to ${bound}`, limit);
  return lz4.decompressFrameSync(data);
}

function lz4FrameBound(data: Buffer): number {
  let bound = 0;
  let position = 0;
  while (position < data.length) {
    const frame = lz4FrameHeader(data, position);
    position = frame.blocksStart;
    for (;;) {
      if (data.length - position < 4) throw new CorruptRecordError('lz4 block header is truncated');
      const word = data.readUInt32LE(position);
      position += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      const stored = (word & 0x80000000) !== 0;
      if (size > frame.blockMaxBytes) throw new CorruptRecordError(`lz4 block of ${size} bytes exceeds the frame's block size`);
      bound += stored ? size : Math.min(frame.blockMaxBytes, 255 * size);
      position += size + (frame.blockChecksums ? 4 : 0);
      if (position > data.length) throw new CorruptRecordError('lz4 block overruns the data');
    }
    position += frame.contentChecksum ? 4 : 0;
  }
  if (position > data.length) throw new CorruptRecordError('lz4 content checksum is truncated');
  return bound;
}

interface Lz4FrameHeader {
  blocksStart: number;
  blockMaxBytes: number;
  blockChecksums: boolean;
  contentChecksum: boolean;
}

function lz4FrameHeader(data: Buffer, position: number): Lz4FrameHeader {
  if (data.length - position < 7) throw new CorruptRecordError('lz4 frame header is truncated');
  if (data.readUInt32LE(position) !== LZ4_MAGIC) throw new CorruptRecordError('lz4 frame magic is wrong');
  const flags = data.readUInt8(position + 4);
  const descriptor = data.readUInt8(position + 5);
  if (flags >> 6 !== 1) throw new CorruptRecordError(`lz4 frame version ${flags >> 6} is not 1`);
  const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(descriptor >> 4) & 0x07] ?? 0;
  if (blockMaxBytes === 0) throw new CorruptRecordError('lz4 frame block size is invalid');
  const hasContentSize = (flags & 0x08) !== 0;
  const hasDictionary = (flags & 0x01) !== 0;
  const headerBytes = 4 + 2 + (hasContentSize ? 8 : 0) + (hasDictionary ? 4 : 0) + 1;
  return {
    blocksStart: position + headerBytes,
    blockMaxBytes,
    blockChecksums: (flags & 0x10) !== 0,
    contentChecksum: (flags & 0x04) !== 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Zstandard. zstd-napi's one-shot decompress trusts the frame's declared content size and, for
// frames without one, returns partial output on truncated input; so we drive the streaming
// decoder ourselves, bounded chunk by chunk, and demand that the last frame ends cleanly.

const ZSTD_CHUNK_BYTES = zstdBinding.dStreamOutSize();
let zstdContext: zstdBinding.DCtx | undefined;

function decompressZstd(data: Buffer, limit: number): Buffer {
  zstdContext ??= new zstdBinding.DCtx();
  const context = zstdContext;
  context.reset(zstdBinding.ResetDirective.sessionOnly);
  const chunks: Buffer[] = [];
  let total = 0;
  let input = data;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(ZSTD_CHUNK_BYTES, limit - total + 1));
    const [remaining, produced, consumed] = context.decompressStream(chunk, input);
    input = input.subarray(consumed);
    total += produced;
    if (total > limit) throw tooLarge(CompressionCodec.Zstd, `more than ${limit}`, limit);
    chunks.push(chunk.subarray(0, produced));
    if (input.length === 0 && remaining === 0) return Buffer.concat(chunks, total);
    const stalled = produced < chunk.length && (input.length === 0 || consumed === 0);
    if (stalled) throw new CorruptRecordError('zstd data is truncated');
  }
}
