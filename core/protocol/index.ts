// The Kafka wire protocol: the one module the broker and the client share.
//
// Broker side: read the size prefix, then decodeRequestHeader(frame); answer status
// 'unknown-api' / 'unsupported-version' with an error, else decodeRequestBody(apiKey,
// apiVersion, frame, bodyOffset) and reply with encodeResponseFrame (or the Chunks variant for
// large fetches). Client side: encodeRequestFrame, then decodeResponseFrame with the version
// it sent. Body types are RequestBodyByKey[K] / ResponseBodyByKey[K]; per-API struct types
// live in messages/NN-name.ts. Fields left out of a body are encoded as their defaults.
// The schemas are generated: npx tsx core/protocol/generate.ts <path-to-kafka-messages-dir>.
export {
  apiName,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  encodeResponseFrameChunks,
  isFlexible,
  peekCorrelationId,
  supportedVersions,
} from './codec.ts';
export type { BodyInput, RequestHeader, RequestHeaderStatus } from './codec.ts';
export { ErrorCode, KAFKA_ERRORS, errorByCode, errorName, isRetriable } from './errors.ts';
export type { ErrorCodeValue, ErrorName, KafkaErrorInfo } from './errors.ts';
export { API_SCHEMAS, ApiKey } from './messages/index.ts';
export type { RequestBodyByKey, ResponseBodyByKey } from './messages/index.ts';
export { ProtocolDecodeError, Reader, uuidToString } from './reader.ts';
export { VERSION_MAX } from './schema.ts';
export type { ApiSchema, FieldSchema, MessageSchema, PrimitiveType, StructSchema, VersionRange } from './schema.ts';
export { ProtocolEncodeError, Writer, unsignedVarIntSize, varIntSize, varLongSize, zigZag32, zigZag64 } from './writer.ts';
