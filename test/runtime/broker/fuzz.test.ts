// Mutated requests for every API the broker advertises, at every version: whatever the bytes,
// the broker answers or closes that one connection, and keeps serving everyone else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, encodeRequestFrame } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';
import { RawConnection } from '../../helpers/raw-connection.ts';

let broker: BrokerProcess;
beforeAll(async () => { broker = await startBroker(); });
afterAll(cleanup);

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('mutated requests', () => {
  it('never take the broker down', async () => {
    const probe = await RawConnection.connect(broker.port);
    const versions = (await probe.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' })).body.apiKeys as { apiKey: number; minVersion: number; maxVersion: number }[];
    probe.destroy();
    const next = random(20261121);
    let sent = 0;
    for (const { apiKey, minVersion, maxVersion } of versions) {
      for (let version = minVersion; version <= maxVersion; version++) {
        // Produce with acks=0 would get no answer either way; skip nothing, just do not wait long.
        const valid = encodeRequestFrame(apiKey as never, version, 7, 'fuzz', {} as never);
        const connection = await RawConnection.connect(broker.port);
        for (let round = 0; round < 4; round++) {
          const mutated = Buffer.from(valid);
          const flips = 1 + Math.floor(next() * 4);
          // Keep the size prefix and the API key and version; mutate the rest of the header and body.
          for (let flip = 0; flip < flips && mutated.length > 8; flip++) {
            const at = 8 + Math.floor(next() * (mutated.length - 8));
            mutated.writeUInt8(Math.floor(next() * 256), at);
          }
          if (connection.closed) break;
          connection.write(mutated);
          sent += 1;
        }
        await connection.readFrame(200).catch(() => null);
        connection.destroy();
      }
    }
    expect(sent).toBeGreaterThan(200);
    const after = await RawConnection.connect(broker.port);
    const answer = await after.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'after-fuzz', clientSoftwareVersion: '1' });
    expect(answer.body.errorCode).toBe(ErrorCode.NONE);
    after.destroy();
    expect(broker.process.exitCode).toBeNull();
  }, 120_000);
});
