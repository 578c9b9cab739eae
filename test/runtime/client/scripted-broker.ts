// A scripted broker for client tests: a loopback TCP server that decodes request headers with
// core/protocol and lets each test answer (or not answer) every request itself.
import net from 'node:net';
import { ApiKey, decodeRequestHeader, encodeResponseFrame, type RequestHeader } from '../../../core/protocol/index.ts';

export type Handler = (header: RequestHeader, frame: Buffer, socket: net.Socket) => void;

export interface ScriptedBroker {
  port: number;
  close(): Promise<void>;
}

export async function scriptedBroker(handle: Handler): Promise<ScriptedBroker> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        handle(decodeRequestHeader(frame), frame, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Writes the answer to `header`'s request. */
export function respond(socket: net.Socket, header: RequestHeader, apiKey: ApiKey, body: object): void {
  socket.write(encodeResponseFrame(apiKey, header.apiVersion, header.correlationId, body as never));
}

export interface ApiRange { apiKey: ApiKey; minVersion: number; maxVersion: number }

/** Answers ApiVersions with ApiVersions 0-3, Metadata 0-12 and `apis`. */
export function answerApiVersions(socket: net.Socket, header: RequestHeader, apis: readonly ApiRange[]): void {
  respond(socket, header, ApiKey.ApiVersions, { errorCode: 0, apiKeys: [
    { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 },
    { apiKey: ApiKey.Metadata, minVersion: 0, maxVersion: 12 },
    ...apis,
  ] });
}

/** A Metadata answer body: one broker (node 1 on `port`) leading every partition of `topic`. */
export function oneBrokerMetadata(port: number, topic: string, partitions = 1): object {
  return {
    brokers: [{ nodeId: 1, host: '127.0.0.1', port }], controllerId: 1, clusterId: 'scripted',
    topics: [{ errorCode: 0, name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ errorCode: 0, partitionIndex, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] })) }],
  };
}
