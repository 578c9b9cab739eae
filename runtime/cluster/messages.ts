// The four Kafka APIs a metadata quorum speaks (KIP-595): Vote, BeginQuorumEpoch,
// EndQuorumEpoch and Fetch on partition 0 of `__cluster_metadata`. The quorum logic works on
// the typed bodies from core/protocol; this file turns them into frames and back, so the same
// bytes cross a fake network in the simulation tests and a TCP socket in a real cluster.
import {
  ApiKey,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  type BodyInput,
  type RequestBodyByKey,
  type ResponseBodyByKey,
} from '../../core/protocol/index.ts';

/** The metadata log is partition 0 of this topic, as in KRaft. */
export const METADATA_TOPIC = '__cluster_metadata';
export const METADATA_PARTITION = 0;
/** KRaft's fixed topic id for the metadata topic (Uuid.METADATA_TOPIC_ID, "AAAAAAAAAAAAAAAAAAAAAQ"). */
export const METADATA_TOPIC_ID = '00000000-0000-0000-0000-000000000001';

/**
 * Versions spoken between controllers. Fetch 15 is the first with replicaState (the fetching
 * voter's id) and names the topic by id; Vote 0 and the quorum-epoch APIs 0 carry no directory
 * ids, which a static voter set does not need.
 */
export const QUORUM_VERSIONS = {
  [ApiKey.Fetch]: 15,
  [ApiKey.Vote]: 0,
  [ApiKey.BeginQuorumEpoch]: 0,
  [ApiKey.EndQuorumEpoch]: 0,
} as const;

export type QuorumApiKey = keyof typeof QUORUM_VERSIONS;

/** One member of the union, used where TypeScript cannot correlate a key with its body. */
type VoteKey = typeof ApiKey.Vote;

/** A request the quorum sends: a partial body, defaults filled in by the encoder. */
export type OutboundRequest = {
  [K in QuorumApiKey]: { apiKey: K; body: BodyInput<RequestBodyByKey[K]> };
}[QuorumApiKey];

/** A request as decoded: every field present. */
export type InboundRequest = {
  [K in QuorumApiKey]: { apiKey: K; body: RequestBodyByKey[K] };
}[QuorumApiKey];

export type OutboundResponse = {
  [K in QuorumApiKey]: { apiKey: K; body: BodyInput<ResponseBodyByKey[K]> };
}[QuorumApiKey];

export type InboundResponse = {
  [K in QuorumApiKey]: { apiKey: K; body: ResponseBodyByKey[K] };
}[QuorumApiKey];

export function isQuorumApiKey(apiKey: number): apiKey is QuorumApiKey {
  return apiKey === ApiKey.Fetch || apiKey === ApiKey.Vote || apiKey === ApiKey.BeginQuorumEpoch || apiKey === ApiKey.EndQuorumEpoch;
}

/** The request frame, size prefix included. */
export function encodeQuorumRequest(request: OutboundRequest, correlationId: number, clientId: string): Buffer {
  // The union is correlated by apiKey; TypeScript cannot follow that through a generic call.
  const { apiKey, body } = request as { apiKey: VoteKey; body: BodyInput<RequestBodyByKey[VoteKey]> };
  return encodeRequestFrame(apiKey, QUORUM_VERSIONS[apiKey], correlationId, clientId, body);
}

/**
 * Decodes a request frame (without its size prefix). Returns null for APIs or versions a
 * quorum peer does not serve; the caller closes that connection.
 */
export function decodeQuorumRequest(frame: Buffer): { correlationId: number; request: InboundRequest } | null {
  const header = decodeRequestHeader(frame);
  if (header.status !== 'ok' || !isQuorumApiKey(header.apiKey)) return null;
  if (header.apiVersion !== QUORUM_VERSIONS[header.apiKey]) return null;
  const apiKey = header.apiKey as VoteKey;
  const body = decodeRequestBody(apiKey, header.apiVersion, frame, header.bodyOffset);
  return { correlationId: header.correlationId, request: { apiKey, body } as InboundRequest };
}

/** The response frame, size prefix included. */
export function encodeQuorumResponse(response: OutboundResponse, correlationId: number): Buffer {
  const { apiKey, body } = response as { apiKey: VoteKey; body: BodyInput<ResponseBodyByKey[VoteKey]> };
  return encodeResponseFrame(apiKey, QUORUM_VERSIONS[apiKey], correlationId, body);
}

/** Decodes a response frame (without its size prefix) to the API its request used. */
export function decodeQuorumResponse(apiKey: QuorumApiKey, frame: Buffer): { correlationId: number; response: InboundResponse } {
  const key = apiKey as VoteKey;
  const decoded = decodeResponseFrame(key, QUORUM_VERSIONS[key], frame);
  return { correlationId: decoded.correlationId, response: { apiKey, body: decoded.body } as InboundResponse };
}

/** Strips the 4-byte size prefix that encoders add, as a frame reader would. */
export function withoutSizePrefix(frame: Buffer): Buffer {
  return frame.subarray(4);
}
