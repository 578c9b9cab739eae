// Round-trips every version of every API, request and response, with a non-default value in
// every field the version carries (and, in a second pass, null in every nullable field).
import { describe, expect, it } from 'vitest';
import {
  API_SCHEMAS,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  isFlexible,
} from '../../../core/protocol/index.ts';
import type { ApiKey, MessageSchema } from '../../../core/protocol/index.ts';
import { generateStruct, newSeed } from './values.ts';
import type { Body } from './values.ts';

type AnyBody = never;

function versionsOf(schema: MessageSchema): number[] {
  const versions: number[] = [];
  for (let version = schema.validVersions[0]; version <= schema.validVersions[1]; version++) versions.push(version);
  return versions;
}

function structOf(schema: MessageSchema): { name: string; fields: MessageSchema['fields'] } {
  return { name: schema.apiName, fields: schema.fields };
}

function roundTripRequest(schema: MessageSchema, version: number, nulls: boolean): void {
  const apiKey = schema.apiKey as ApiKey;
  const options = { version, flexible: isFlexible(apiKey, version), nulls };
  const body = generateStruct(structOf(schema), options);
  const label = `${schema.apiName} v${version} request${nulls ? ' (nulls)' : ''}`;
  const frame = encodeRequestFrame(apiKey, version, 0x1234567, 'client-é', body as AnyBody);
  expect(frame.readInt32BE(0), label).toBe(frame.length - 4);
  const header = decodeRequestHeader(frame.subarray(4));
  expect(header, label).toMatchObject({ apiKey, apiVersion: version, correlationId: 0x1234567, clientId: 'client-é', status: 'ok' });
  const decoded = decodeRequestBody(apiKey, version, frame.subarray(4), header.bodyOffset) as unknown as Body;
  expect(decoded, label).toEqual(body);
  expect(encodeRequestFrame(apiKey, version, 0x1234567, 'client-é', decoded as AnyBody).equals(frame), `${label} re-encodes`).toBe(true);
  // Fields absent from this version must be ignored whatever they hold.
  const noisy = generateStruct(structOf(schema), options, newSeed(), newSeed());
  expect(encodeRequestFrame(apiKey, version, 0x1234567, 'client-é', noisy as AnyBody).equals(frame), `${label} ignores absent fields`).toBe(true);
}

function roundTripResponse(schema: MessageSchema, version: number, nulls: boolean): void {
  const apiKey = schema.apiKey as ApiKey;
  const options = { version, flexible: isFlexible(apiKey, version), nulls };
  const body = generateStruct(structOf(schema), options);
  const label = `${schema.apiName} v${version} response${nulls ? ' (nulls)' : ''}`;
  const frame = encodeResponseFrame(apiKey, version, -5, body as AnyBody);
  expect(frame.readInt32BE(0), label).toBe(frame.length - 4);
  const decoded = decodeResponseFrame(apiKey, version, frame.subarray(4));
  expect(decoded.correlationId, label).toBe(-5);
  expect(decoded.body as unknown as Body, label).toEqual(body);
  expect(encodeResponseFrame(apiKey, version, -5, decoded.body as AnyBody).equals(frame), `${label} re-encodes`).toBe(true);
}

describe('every API, every version', () => {
  for (const api of API_SCHEMAS.values()) {
    it(`${String(api.apiKey).padStart(2, '0')} ${api.apiName}`, () => {
      for (const version of versionsOf(api.request)) {
        roundTripRequest(api.request, version, false);
        roundTripRequest(api.request, version, true);
      }
      for (const version of versionsOf(api.response)) {
        roundTripResponse(api.response, version, false);
        roundTripResponse(api.response, version, true);
      }
    });
  }

  it('covers all 88 APIs of the definitions, including the KRaft ones', () => {
    expect(API_SCHEMAS.size).toBe(88);
    for (const name of ['Vote', 'BeginQuorumEpoch', 'EndQuorumEpoch', 'DescribeQuorum', 'FetchSnapshot', 'AddRaftVoter']) {
      expect([...API_SCHEMAS.values()].some((api) => api.apiName === name), name).toBe(true);
    }
  });
});
