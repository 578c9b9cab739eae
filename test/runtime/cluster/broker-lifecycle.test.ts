// A broker forwards controller requests (CreateTopics from clients, its own registration and
// heartbeats) to the active controller. While an election leaves no active controller, the
// voters answer NOT_CONTROLLER; the broker keeps trying for the controller request timeout
// instead of failing the client's request after a few quick tries. Two scripted voters on
// loopback play the quorum.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { BrokerLifecycle } from '../../../runtime/cluster/broker-lifecycle.ts';
import { MetadataImage } from '../../../runtime/cluster/metadata-image.ts';
import { createLogger } from '../../../runtime/logger.ts';
import { respond, scriptedBroker, type ScriptedBroker } from '../client/scripted-broker.ts';

const voters: ScriptedBroker[] = [];
afterEach(async () => {
  for (const voter of voters.splice(0)) await voter.close();
});

/** A voter answering CreateTopics with NOT_CONTROLLER until `activeFrom`, then creating the topic. */
async function voter(activeFrom: () => boolean, asked: number[]): Promise<ScriptedBroker> {
  const broker = await scriptedBroker((header, _frame, socket) => {
    if (header.apiKey !== ApiKey.CreateTopics) return;
    asked.push(Date.now());
    const errorCode = activeFrom() ? ErrorCode.NONE : ErrorCode.NOT_CONTROLLER;
    respond(socket, header, ApiKey.CreateTopics, {
      throttleTimeMs: 0,
      topics: [{ name: 'orders', topicId: '00000000-0000-0000-0000-000000000000', errorCode, errorMessage: null, numPartitions: 1, replicationFactor: 1, configs: [] }],
    });
  });
  voters.push(broker);
  return broker;
}

function lifecycleFor(ports: number[]): BrokerLifecycle {
  return new BrokerLifecycle({
    brokerId: 1, clusterId: 'test', listener: () => ({ host: '127.0.0.1', port: 1 }), rack: null,
    voters: new Map(ports.map((port, index) => [index + 1, { host: '127.0.0.1', port }])),
    heartbeatIntervalMs: 1000, image: new MetadataImage(), controllerHint: () => -1, logger: createLogger('test', () => undefined),
  });
}

const createOrders = { topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false };

describe('BrokerLifecycle.sendToController', () => {
  it('keeps asking the voters while none is active, and answers once one is', async () => {
    const started = Date.now();
    const activeAfterMs = 800;
    const asked: number[] = [];
    const first = await voter(() => false, asked);
    const second = await voter(() => Date.now() - started >= activeAfterMs, asked);
    const lifecycle = lifecycleFor([first.port, second.port]);
    const response = await lifecycle.sendToController(ApiKey.CreateTopics, createOrders);
    expect(response.topics[0]?.errorCode).toBe(ErrorCode.NONE);
    // Both voters were asked more than once, with pauses between rounds rather than a busy loop.
    expect(asked.length).toBeGreaterThan(4);
    expect(asked.length).toBeLessThan(200);
    await lifecycle.shutdown(false);
  });

  it('gives up with the last answer once the controller request timeout has passed', async () => {
    const asked: number[] = [];
    const only = await voter(() => false, asked);
    const lifecycle = lifecycleFor([only.port]);
    await expect(lifecycle.sendToController(ApiKey.CreateTopics, createOrders, 600)).rejects.toThrow(/not the active controller/);
    expect(asked.length).toBeGreaterThan(2);
    await lifecycle.shutdown(false);
  });
});
