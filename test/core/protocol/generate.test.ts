// The generator's parsing helpers, and the generated index's shape.
import { describe, expect, it } from 'vitest';
import { parseVersions, renderApiFile, stripJsonComments } from '../../../core/protocol/generate.ts';
import type { JsonMessage } from '../../../core/protocol/generate.ts';
import { API_SCHEMAS, ApiKey, VERSION_MAX, apiName, isFlexible, supportedVersions } from '../../../core/protocol/index.ts';

describe('definition parsing', () => {
  it('strips // comments but not // inside strings', () => {
    const text = '{\n  // a comment\n  "about": "see http://example.com", // trailing\n  "n": 1\n}';
    expect(JSON.parse(stripJsonComments(text))).toEqual({ about: 'see http://example.com', n: 1 });
    expect(JSON.parse(stripJsonComments('{"a": "quote \\" // still string"}'))).toEqual({ a: 'quote " // still string' });
  });

  it('parses version ranges', () => {
    expect(parseVersions('3+')).toEqual([3, VERSION_MAX]);
    expect(parseVersions('0-11')).toEqual([0, 11]);
    expect(parseVersions('7')).toEqual([7, 7]);
    expect(parseVersions('none')).toBeNull();
    expect(parseVersions(undefined)).toBeNull();
    expect(() => parseVersions('x')).toThrow();
  });
});

describe('generated index', () => {
  it('names API keys and their versions', () => {
    expect(ApiKey.Produce).toBe(0);
    expect(ApiKey.Fetch).toBe(1);
    expect(ApiKey.ApiVersions).toBe(18);
    expect(ApiKey.OffsetForLeaderEpoch).toBe(23);
    expect(ApiKey.Vote).toBe(52);
    expect(apiName(3)).toBe('Metadata');
    expect(apiName(9999)).toBeUndefined();
    expect(supportedVersions(0)).toEqual({ min: 0, max: 11 });
    expect(supportedVersions(9999)).toBeUndefined();
    expect(isFlexible(0, 8)).toBe(false);
    expect(isFlexible(0, 9)).toBe(true);
    expect(isFlexible(18, 3)).toBe(true);
    expect(isFlexible(9999, 0)).toBe(false);
    for (const [key, api] of API_SCHEMAS) {
      expect(api.request.apiKey, api.apiName).toBe(key);
      expect(api.response.apiKey, api.apiName).toBe(key);
    }
  });
});

describe('rendering an API file', () => {
  // A made-up API exercising common structs, tags, nullable structs and hex defaults.
  const request: JsonMessage = {
    apiKey: 200,
    type: 'request',
    name: 'SampleThingRequest',
    validVersions: '0-2',
    flexibleVersions: '1+',
    fields: [
      { name: 'Limit', type: 'int32', versions: '0+', default: '0x7fffffff' },
      { name: 'Owner', type: 'Owner', versions: '0+', nullableVersions: '1+', default: 'null' },
      { name: 'Items', type: '[]Item', versions: '0+', fields: [{ name: 'ItemId', type: 'uuid', versions: '0+' }] },
      { name: 'Note', type: 'string', versions: '1+', tag: 0, taggedVersions: '1+', nullableVersions: '1+', default: 'null' },
    ],
    commonStructs: [{ name: 'Owner', versions: '0+', fields: [{ name: 'OwnerEpoch', type: 'int64', versions: '0+', default: '-1' }] }],
  };
  const response: JsonMessage = {
    apiKey: 200,
    type: 'response',
    name: 'SampleThingResponse',
    validVersions: '0-2',
    flexibleVersions: '1+',
    fields: [{ name: 'Items', type: '[]Item', versions: '0+', fields: [{ name: 'ErrorCode', type: 'int16', versions: '0+' }] }],
  };
  const text = renderApiFile(request, response);

  it('writes schema data with version ranges, tags and typed defaults', () => {
    expect(text).toContain("{ name: 'limit', type: 'int32', versions: [0, VERSION_MAX], default: 2147483647 }");
    expect(text).toContain("{ name: 'note', type: 'string', versions: [1, VERSION_MAX], nullableVersions: [1, VERSION_MAX], tag: 0, default: null }");
    expect(text).toContain("const requestOwnerStruct: StructSchema = { name: 'Owner', fields: [");
    expect(text).toContain("{ name: 'ownerEpoch', type: 'int64', versions: [0, VERSION_MAX], default: -1n }");
    expect(text).toContain("type: 'struct', struct: requestOwnerStruct, versions: [0, VERSION_MAX], nullableVersions: [1, VERSION_MAX], default: null");
    expect(text).toContain("export const sampleThingSchema: ApiSchema = { apiKey: 200, apiName: 'SampleThing'");
  });

  it('writes interfaces with camelCase fields, prefixing struct names both sides use', () => {
    expect(text).toMatch(/export interface SampleThingRequest \{[^}]*limit: number;[^}]*owner: Owner \| null;[^}]*items: SampleThingRequestItem\[\];[^}]*note: string \| null;/);
    expect(text).toMatch(/export interface SampleThingRequestItem \{[^}]*itemId: string;/);
    expect(text).toMatch(/export interface SampleThingResponseItem \{[^}]*errorCode: number;/);
    expect(text).toMatch(/export interface Owner \{[^}]*ownerEpoch: bigint;/);
  });
});
