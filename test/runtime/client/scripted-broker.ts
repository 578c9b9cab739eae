// A scripted broker for client tests: a loopback TCP server that decodes request headers with
// core/protocol and lets each test answer (or not answer) every request itself.
import net from 'node:net';
import { decodeRequestHeader, type RequestHeader } from '../../../core/protocol/index.ts';

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
