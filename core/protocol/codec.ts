// Frames and headers around the compiled message codecs.
//
// Request frame:  size i32 | api_key i16 | api_version i16 | correlation_id i32 |
//                 client_id NULLABLE_STRING (never compact) | [tagged fields if flexible] | body
// Response frame: size i32 | correlation_id i32 | [tagged fields if flexible] | body
//
// The header is v2 (request) / v1 (response) exactly when the API version is flexible, with
// one exception: ApiVersions responses always use header v0, because a client that sent a
// version the broker does not know must still be able to read the error in the answer.
// Every `frame` argument below is the bytes after the 4-byte size prefix.
//
// Decoded `records` fields are views into the frame, not copies (the Produce and Fetch hot
// paths move batches without touching them), so a caller that reuses frame buffers must copy
// the records it keeps. `bytes` fields are copied. Decoded uuids are canonical 8-4-4-4-12
// lowercase strings; encoders accept that form or 32 bare hex digits.
import { compileStruct } from './compile.ts';
import { ErrorCode } from './errors.ts';
import type { CompiledStruct } from './compile.ts';
import { API_SCHEMAS, ApiKey } from './messages/index.ts';
import type { RequestBodyByKey, ResponseBodyByKey } from './messages/index.ts';
import { ProtocolDecodeError, Reader } from './reader.ts';
import { inRange } from './schema.ts';
import type { MessageSchema } from './schema.ts';
import { ProtocolEncodeError, Writer } from './writer.ts';

/** A body to encode: every field may be left out, and then its schema default is sent. */
export type BodyInput<T> = T extends Buffer
  ? T
  : T extends readonly (infer Element)[]
    ? BodyInput<Element>[]
    : T extends object
      ? { [Field in keyof T]?: BodyInput<T[Field]> | undefined }
      : T;

export type RequestHeaderStatus = 'ok' | 'unknown-api' | 'unsupported-version';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Where the body starts in the frame. */
  bodyOffset: number;
  /** 'ok' when this codec can decode the body; otherwise the broker answers with an error. */
  status: RequestHeaderStatus;
}

const SIZE_PREFIX_BYTES = 4;
const DIRECTION_REQUEST = 0;
const DIRECTION_RESPONSE = 1;
const compiled: Map<number, CompiledStruct>[] = [new Map(), new Map()];

function schemaOf(apiKey: number, direction: number): MessageSchema | undefined {
  const api = API_SCHEMAS.get(apiKey);
  if (api === undefined) return undefined;
  return direction === DIRECTION_REQUEST ? api.request : api.response;
}

function describe(apiKey: number, apiVersion: number, direction: number): string {
  const side = direction === DIRECTION_REQUEST ? 'request' : 'response';
  return `${apiName(apiKey) ?? `API key ${apiKey}`} v${apiVersion} ${side}`;
}

/**
 * The codec for one (API, version, direction), built on first use and cached, so the hot
 * paths never walk the schema. Returns undefined for unknown APIs and versions.
 */
function codecFor(apiKey: number, apiVersion: number, direction: number): CompiledStruct | undefined {
  const cacheKey = apiKey * 0x10000 + apiVersion;
  const cache = compiled[direction] as Map<number, CompiledStruct>;
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const schema = schemaOf(apiKey, direction);
  if (schema === undefined || !inRange(schema.validVersions, apiVersion)) return undefined;
  const struct = { name: `${schema.apiName}${direction === DIRECTION_REQUEST ? 'Request' : 'Response'}`, fields: schema.fields };
  const codec = compileStruct(struct, apiVersion, inRange(schema.flexibleVersions, apiVersion));
  cache.set(cacheKey, codec);
  return codec;
}

function requireEncoder(apiKey: number, apiVersion: number, direction: number): CompiledStruct {
  const codec = codecFor(apiKey, apiVersion, direction);
  if (codec === undefined) throw new ProtocolEncodeError('not a known API version').withContext(describe(apiKey, apiVersion, direction));
  return codec;
}

function requireDecoder(apiKey: number, apiVersion: number, direction: number): CompiledStruct {
  const codec = codecFor(apiKey, apiVersion, direction);
  if (codec === undefined) {
    throw new ProtocolDecodeError('not a known API version').withContext(describe(apiKey, apiVersion, direction));
  }
  return codec;
}

/** True when the version uses compact encodings and tagged fields (by the request schema). */
export function isFlexible(apiKey: number, apiVersion: number): boolean {
  return inRange(API_SCHEMAS.get(apiKey)?.request.flexibleVersions, apiVersion);
}

export function apiName(apiKey: number): string | undefined {
  return API_SCHEMAS.get(apiKey)?.apiName;
}

/** The versions the definitions describe, from validVersions; undefined for unknown keys. */
export function supportedVersions(apiKey: number): { min: number; max: number } | undefined {
  const api = API_SCHEMAS.get(apiKey);
  if (api === undefined) return undefined;
  return { min: api.request.validVersions[0], max: api.request.validVersions[1] };
}

function usesTaggedResponseHeader(apiKey: number, apiVersion: number): boolean {
  return apiKey !== ApiKey.ApiVersions && isFlexible(apiKey, apiVersion);
}

/** Encodes a body; the error names the API, version and direction (formatted only on failure). */
function encodeBody(writer: Writer, codec: CompiledStruct, body: object, apiKey: number, apiVersion: number, direction: number): void {
  try {
    codec.encode(writer, body as Record<string, unknown>);
  } catch (error) {
    const failure = error instanceof ProtocolEncodeError ? error : new ProtocolEncodeError(error instanceof Error ? error.message : String(error));
    throw failure.withContext(describe(apiKey, apiVersion, direction));
  }
}

/** Joins the frame and fills in the size prefix reserved at its start. */
function finishFrame(writer: Writer): Buffer {
  const frame = writer.finish();
  frame.writeInt32BE(frame.length - SIZE_PREFIX_BYTES, 0);
  return frame;
}

/** Encodes a request with its header and 4-byte size prefix. */
export function encodeRequestFrame<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: BodyInput<RequestBodyByKey[K]>,
): Buffer {
  const codec = requireEncoder(apiKey, apiVersion, DIRECTION_REQUEST);
  const writer = new Writer(512);
  writer.int32(0).int16(apiKey).int16(apiVersion).int32(correlationId).nullableString(clientId);
  if (isFlexible(apiKey, apiVersion)) writer.taggedFields();
  encodeBody(writer, codec, body, apiKey, apiVersion, DIRECTION_REQUEST);
  return finishFrame(writer);
}

/**
 * Reads a request header. Unknown API keys and versions are reported in `status` rather than
 * thrown, so the broker can answer (UNSUPPORTED_VERSION) instead of dropping the connection;
 * for an unknown key only the v1 header fields are read.
 */
export function decodeRequestHeader(frame: Buffer): RequestHeader {
  const reader = new Reader(frame);
  try {
    const apiKey = reader.int16();
    const apiVersion = reader.int16();
    const correlationId = reader.int32();
    const clientId = reader.nullableString();
    const api = API_SCHEMAS.get(apiKey);
    if (api !== undefined && inRange(api.request.flexibleVersions, apiVersion)) reader.taggedFields();
    let status: RequestHeaderStatus = 'ok';
    if (api === undefined) status = 'unknown-api';
    else if (!inRange(api.request.validVersions, apiVersion)) status = 'unsupported-version';
    return { apiKey, apiVersion, correlationId, clientId, bodyOffset: reader.offset, status };
  } catch (error) {
    throw asDecodeError(error, 'request header');
  }
}

export function decodeRequestBody<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  bodyOffset: number,
): RequestBodyByKey[K] {
  const codec = requireDecoder(apiKey, apiVersion, DIRECTION_REQUEST);
  try {
    return codec.decode(new Reader(frame, bodyOffset)) as unknown as RequestBodyByKey[K];
  } catch (error) {
    throw asDecodeError(error, describe(apiKey, apiVersion, DIRECTION_REQUEST));
  }
}

/** Encodes a response with its header and 4-byte size prefix. */
export function encodeResponseFrame<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: BodyInput<ResponseBodyByKey[K]>,
): Buffer {
  const codec = requireEncoder(apiKey, apiVersion, DIRECTION_RESPONSE);
  const writer = new Writer(512);
  writer.int32(0).int32(correlationId);
  if (usesTaggedResponseHeader(apiKey, apiVersion)) writer.taggedFields();
  encodeBody(writer, codec, body, apiKey, apiVersion, DIRECTION_RESPONSE);
  return finishFrame(writer);
}

/**
 * Encodes a response like encodeResponseFrame, but returns the frame as chunks whose
 * concatenation is the frame, so large record payloads reach the socket without a copy.
 * The records buffers in `body` must stay unchanged until the chunks are written.
 */
export function encodeResponseFrameChunks<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: BodyInput<ResponseBodyByKey[K]>,
): Buffer[] {
  const codec = requireEncoder(apiKey, apiVersion, DIRECTION_RESPONSE);
  const writer = new Writer(512);
  writer.int32(0).int32(correlationId);
  if (usesTaggedResponseHeader(apiKey, apiVersion)) writer.taggedFields();
  encodeBody(writer, codec, body, apiKey, apiVersion, DIRECTION_RESPONSE);
  const chunks = writer.finishChunks();
  const sizeBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0) - SIZE_PREFIX_BYTES;
  (chunks[0] as Buffer).writeInt32BE(sizeBytes, 0);
  return chunks;
}

/** Decodes a response frame (without its size prefix) for the request the client sent. */
export function decodeResponseFrame<K extends ApiKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
): { correlationId: number; body: ResponseBodyByKey[K] } {
  const codec = requireDecoder(apiKey, apiVersion, DIRECTION_RESPONSE);
  try {
    const reader = new Reader(frame);
    const correlationId = reader.int32();
    if (usesTaggedResponseHeader(apiKey, apiVersion)) reader.taggedFields();
    const bodyOffset = reader.offset;
    try {
      return { correlationId, body: codec.decode(reader) as unknown as ResponseBodyByKey[K] };
    } catch (error) {
      const fallback = apiKey === ApiKey.ApiVersions ? unsupportedApiVersionsBody(frame, bodyOffset) : undefined;
      if (fallback === undefined) throw error;
      return { correlationId, body: fallback as unknown as ResponseBodyByKey[K] };
    }
  } catch (error) {
    throw asDecodeError(error, describe(apiKey, apiVersion, DIRECTION_RESPONSE));
  }
}

/**
 * A broker that does not know the ApiVersions version a client sent answers in version 0
 * with UNSUPPORTED_VERSION and its own range, so the client can retry lower. When a newer
 * version fails to decode, this reads the body as version 0 and keeps it only if it is that
 * answer; anything else stays a decode error.
 */
function unsupportedApiVersionsBody(frame: Buffer, bodyOffset: number): object | undefined {
  const codec = requireDecoder(ApiKey.ApiVersions, 0, DIRECTION_RESPONSE);
  try {
    const reader = new Reader(frame, bodyOffset);
    const body = codec.decode(reader);
    return body.errorCode === ErrorCode.UNSUPPORTED_VERSION && reader.remaining === 0 ? body : undefined;
  } catch {
    return undefined;
  }
}

/** Reads just the correlation id, so a client can route a response before decoding it. */
export function peekCorrelationId(frame: Buffer): number {
  if (frame.length < 4) throw new ProtocolDecodeError(`response frame of ${frame.length} bytes has no correlation id`);
  return frame.readInt32BE(0);
}

function asDecodeError(error: unknown, context: string): ProtocolDecodeError {
  const failure = error instanceof ProtocolDecodeError ? error : new ProtocolDecodeError(String(error));
  return failure.withContext(context);
}
