// The latency floor of the cluster bench's message pattern on this machine, without Runnel:
// three minimal relay processes (a leader and two followers) and the bench process exchange the
// same messages a replicated acks=all produce makes, over loopback TCP, with no protocol codec,
// no log and no checks. Per send: producer → leader; leader → each follower (the answer to its
// parked fetch); each follower → leader (its next fetch, which reports what it holds); leader →
// producer (the acknowledgement, once both followers hold the send) and → consumer (the answer
// to its parked fetch); consumer → leader (its next fetch). What this costs at 10,000 records/s
// in 10-record sends is what any implementation in separate processes pays here before doing
// any work of its own. cluster.bench.ts runs it as the `floor` scenario.
//
// Roles run as child processes of this file: `node --import tsx relay-floor.ts leader` prints
// its port and then each follower that joins; `... follower <port>` follows it.
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const FETCH = 1;
const DATA = 2;
const PRODUCE = 3;
const ACK = 4;
const HELLO_FOLLOWER = 5;
const HELLO_CONSUMER = 6;
/** Bytes of one send: 10 records of 100 B, as the cluster bench's latency run sends them. */
const SEND_BYTES = 1000;

/** Frames: u32 length of what follows, u8 type, u32 offset, payload. */
export function frame(type: number, offset: number, payload: Buffer | null = null): Buffer {
  const body = payload?.length ?? 0;
  const buffer = Buffer.allocUnsafe(9 + body);
  buffer.writeUInt32BE(5 + body, 0);
  buffer[4] = type;
  buffer.writeUInt32BE(offset, 5);
  if (payload !== null) payload.copy(buffer, 9);
  return buffer;
}

/** Calls `onFrame(type, offset, payload)` for each whole frame arriving on the socket. */
export function readFrames(socket: net.Socket, onFrame: (type: number, offset: number, payload: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (pending.length < 4 + length) break;
      onFrame(pending[4] as number, pending.readUInt32BE(5), pending.subarray(9, 4 + length));
      pending = pending.subarray(4 + length);
    }
  });
}

interface Waiter {
  socket: net.Socket;
  offset: number;
  parked: boolean;
}

function leader(): void {
  const log: Buffer[] = [];
  const followers: Waiter[] = [];
  let consumer: Waiter | null = null;
  let highWatermark = 0;
  const acks: { end: number; socket: net.Socket }[] = [];
  const answer = (waiter: Waiter, limit: number): void => {
    waiter.parked = false;
    waiter.socket.write(frame(DATA, waiter.offset, Buffer.concat(log.slice(waiter.offset, limit))));
  };
  const advance = (): void => {
    const reached = Math.min(log.length, ...followers.map((follower) => follower.offset));
    if (reached <= highWatermark) return;
    highWatermark = reached;
    while (acks.length > 0 && (acks[0] as { end: number }).end <= highWatermark) {
      const ack = acks.shift() as { end: number; socket: net.Socket };
      ack.socket.write(frame(ACK, ack.end));
    }
    if (consumer !== null && consumer.parked && consumer.offset < highWatermark) answer(consumer, highWatermark);
  };
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let waiter: Waiter | null = null;
    readFrames(socket, (type, offset, payload) => {
      if (type === HELLO_FOLLOWER) {
        waiter = { socket, offset: 0, parked: true };
        followers.push(waiter);
        console.log(`followers ${followers.length}`);
      } else if (type === HELLO_CONSUMER) {
        waiter = { socket, offset: 0, parked: true };
        consumer = waiter;
      } else if (type === PRODUCE) {
        log.push(Buffer.from(payload));
        acks.push({ end: log.length, socket });
        for (const follower of followers) if (follower.parked) answer(follower, log.length);
      } else if (type === FETCH && waiter !== null) {
        waiter.offset = offset;
        if (waiter === consumer) {
          if (offset < highWatermark) answer(waiter, highWatermark);
          else waiter.parked = true;
        } else {
          advance();
          if (offset < log.length) answer(waiter, log.length);
          else waiter.parked = true;
        }
      }
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`port ${(server.address() as net.AddressInfo).port}`));
}

function follower(port: number): void {
  const held: Buffer[] = [];
  const socket = net.connect({ host: '127.0.0.1', port }, () => {
    socket.setNoDelay(true);
    socket.write(frame(HELLO_FOLLOWER, 0));
    socket.write(frame(FETCH, 0));
  });
  readFrames(socket, (type, offset, payload) => {
    if (type !== DATA) return;
    // A data answer carries whole sends of 10 records each; the follower keeps them and asks
    // for what comes after.
    const records = payload.length / SEND_BYTES;
    for (let index = 0; index < records; index++) held.push(payload.subarray(index * SEND_BYTES, (index + 1) * SEND_BYTES));
    socket.write(frame(FETCH, offset + records));
  });
  socket.on('error', () => process.exit(0));
  socket.on('close', () => process.exit(0));
}

export const RELAY = { FETCH, DATA, PRODUCE, ACK, HELLO_CONSUMER, SEND_BYTES };

// Roles run only when this file is the process's script, not when the bench imports it.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const role = process.argv[2];
  if (role === 'leader') leader();
  else if (role === 'follower') follower(Number(process.argv[3]));
}
