// The shape every API handler takes. Each file in handlers/ is named by API key and exports one
// handler with the version range it advertises, so the folder listing is the protocol index.
import type { BodyInput, RequestBodyByKey, ResponseBodyByKey } from '../../core/protocol/index.ts';
import type { Connection } from '../net/server.ts';
import type { Broker } from './broker.ts';

export interface RequestContext {
  broker: Broker;
  connection: Connection;
  apiVersion: number;
  clientId: string | null;
  correlationId: number;
}

type Response<K extends keyof ResponseBodyByKey> = BodyInput<ResponseBodyByKey[K]>;

export interface ApiHandler<K extends keyof RequestBodyByKey & keyof ResponseBodyByKey> {
  apiKey: K;
  minVersion: number;
  maxVersion: number;
  /**
   * Returns the response body, or null when the request takes no response (acks=0). Fields a
   * handler leaves out are sent with their schema defaults.
   */
  handle(request: RequestBodyByKey[K], context: RequestContext): Response<K> | null | Promise<Response<K> | null>;
}

export function defineHandler<K extends keyof RequestBodyByKey & keyof ResponseBodyByKey>(handler: ApiHandler<K>): ApiHandler<K> {
  if (handler.minVersion > handler.maxVersion) throw new Error(`assertion: handler ${handler.apiKey} has an empty version range`);
  return handler;
}

/** The null topic id, sent where a topic has none (unknown, or an older version). */
export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Kafka's marker for "authorized operations were not requested". */
export const OPERATIONS_OMITTED = -2147483648;
