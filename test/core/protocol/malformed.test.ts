// Bad input must surface as ProtocolDecodeError, never as a RangeError, a hang or a huge
// allocation: truncated frames at every length, forged lengths and counts, flipped bytes.
import { describe, expect, it } from 'vitest';
import {
  API_SCHEMAS,
  ApiKey,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  isFlexible,
  ProtocolDecodeError,
} from '../../../core/protocol/index.ts';
import type { MessageSchema } from '../../../core/protocol/index.ts';
import { generateStruct } from './values.ts';

type AnyBody = never;

function decodeRequest(frame: Buffer): unknown {
  const header = decodeRequestHeader(frame);
  return decodeRequestBody(header.apiKey as ApiKey, header.apiVersion, frame, header.bodyOffset);
}

function sampleRequest(schema: MessageSchema, version: number): Buffer {
  const options = { version, flexible: isFlexible(schema.apiKey, version), nulls: false };
  const body = generateStruct({ name: schema.apiName, fields: schema.fields }, options);
  return encodeRequestFrame(schema.apiKey as ApiKey, version, 11, 'client', body as AnyBody).subarray(4);
}

function sampleResponse(schema: MessageSchema, version: number): Buffer {
  const options = { version, flexible: isFlexible(schema.apiKey, version), nulls: false };
  const body = generateStruct({ name: schema.apiName, fields: schema.fields }, options);
  return encodeResponseFrame(schema.apiKey as ApiKey, version, 11, body as AnyBody).subarray(4);
}

/** The error a decode throws, or null when it succeeds. */
function failureOf(decode: () => unknown): unknown {
  try {
    decode();
    return null;
  } catch (error) {
    return error;
  }
}

/** Returns a description of every truncation that was not rejected properly. */
function truncationsAccepted(frame: Buffer, decode: (frame: Buffer) => unknown, label: string): string[] {
  const wrong: string[] = [];
  if (failureOf(() => decode(frame)) !== null) wrong.push(`${label} does not decode whole`);
  for (let length = 0; length < frame.length; length++) {
    const failure = failureOf(() => decode(frame.subarray(0, length)));
    if (!(failure instanceof ProtocolDecodeError)) wrong.push(`${label} truncated to ${length} of ${frame.length} bytes: ${String(failure)}`);
  }
  return wrong;
}

/** Versions worth cutting byte by byte: the lowest and highest of every API, all of a few. */
function truncationVersions(schema: MessageSchema): number[] {
  const [min, max] = schema.validVersions;
  const everyVersion = [ApiKey.Produce, ApiKey.Fetch, ApiKey.Metadata, ApiKey.ApiVersions, ApiKey.JoinGroup] as number[];
  if (!everyVersion.includes(schema.apiKey)) return min === max ? [min] : [min, max];
  return Array.from({ length: max - min + 1 }, (_, index) => min + index);
}

describe('truncated frames', () => {
  it('rejects every truncation of requests and responses with ProtocolDecodeError', () => {
    const wrong: string[] = [];
    let framesChecked = 0;
    for (const api of API_SCHEMAS.values()) {
      for (const version of truncationVersions(api.request)) {
        wrong.push(...truncationsAccepted(sampleRequest(api.request, version), decodeRequest, `${api.apiName} v${version} request`));
        framesChecked++;
      }
      for (const version of truncationVersions(api.response)) {
        const decode = (frame: Buffer): unknown => decodeResponseFrame(api.apiKey as ApiKey, version, frame);
        wrong.push(...truncationsAccepted(sampleResponse(api.response, version), decode, `${api.apiName} v${version} response`));
        framesChecked++;
      }
    }
    expect(wrong).toEqual([]);
    expect(framesChecked).toBeGreaterThan(300);
  });
});

describe('forged lengths and counts', () => {
  const header = 'ffff 0003 00000001 ffff';

  function produceV3(body: string): Buffer {
    return Buffer.from(`0000 0003 00000001 ffff ${body}`.replace(/\s+/g, ''), 'hex');
  }

  it('rejects a huge array count before allocating', () => {
    const frame = produceV3('ffff 0001 00000064 7fffffff 0001 74');
    expect(() => decodeRequest(frame)).toThrow(/field topicData: array count 2147483647 cannot fit/);
  });

  it('rejects a string longer than the frame', () => {
    const frame = produceV3('7fff 6162');
    expect(() => decodeRequest(frame)).toThrow(/Produce v3 request: field transactionalId: string length 32767 exceeds the 2 bytes left/);
  });

  it('rejects records longer than the frame', () => {
    const frame = produceV3('ffff 0001 00000064 00000001 0001 74 00000001 00000000 7ffffff0 00');
    expect(() => decodeRequest(frame)).toThrow(/field topicData.partitionData.records: .*bytes/);
  });

  it('rejects negative lengths other than -1 and null in non-nullable fields', () => {
    expect(() => decodeRequest(produceV3('fffe'))).toThrow(ProtocolDecodeError);
    expect(() => decodeRequest(produceV3('ffff 0001 00000064 ffffffff'))).toThrow(/non-nullable array is null/);
  });

  it('rejects compact lengths and counts that cannot fit, and overlong varints', () => {
    // ApiVersions v3 request body: compact string with length 2^28.
    const base = '0012 0003 00000001 0001 78 00';
    const huge = Buffer.from(`${base} 8180808001 00`.replace(/\s+/g, ''), 'hex');
    expect(() => decodeRequest(huge)).toThrow(/field clientSoftwareName: compact string length 268435456/);
    const overlong = Buffer.from(`${base} 8181818181 01`.replace(/\s+/g, ''), 'hex');
    expect(() => decodeRequest(overlong)).toThrow(/unsigned varint/);
    const tooManyTags = Buffer.from(`${base} 01 01 ffffff0f`.replace(/\s+/g, ''), 'hex');
    expect(() => decodeRequest(tooManyTags)).toThrow(ProtocolDecodeError);
  });

  it('rejects a header that is too short to read', () => {
    expect(() => decodeRequestHeader(Buffer.from(header.slice(0, 4), 'hex'))).toThrow(/request header/);
    expect(() => decodeResponseFrame(ApiKey.Produce, 3, Buffer.alloc(2))).toThrow(/Produce v3 response/);
  });
});

describe('flipped bytes', () => {
  it('never throws anything but ProtocolDecodeError, whatever a byte is changed to', () => {
    let state = 0x2545f491;
    const random = (): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 0x100000000;
    };
    const keys = [ApiKey.Produce, ApiKey.Fetch, ApiKey.Metadata, ApiKey.ApiVersions, ApiKey.OffsetCommit, ApiKey.JoinGroup];
    for (const apiKey of keys) {
      const api = API_SCHEMAS.get(apiKey);
      if (api === undefined) throw new Error(`missing schema ${apiKey}`);
      for (const version of [api.request.validVersions[0], api.request.validVersions[1]]) {
        const original = sampleRequest(api.request, version);
        for (let round = 0; round < 300; round++) {
          const frame = Buffer.from(original);
          frame[Math.floor(random() * frame.length)] = Math.floor(random() * 256);
          const failure = failureOf(() => decodeRequest(frame));
          if (failure !== null) expect(failure, `${api.apiName} v${version}`).toBeInstanceOf(ProtocolDecodeError);
        }
      }
    }
  });
});
