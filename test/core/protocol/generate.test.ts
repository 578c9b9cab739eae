// The generator's parsing helpers, and the generated index's shape.
import { describe, expect, it } from 'vitest';
import { parseVersions, stripJsonComments } from '../../../core/protocol/generate.ts';
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
