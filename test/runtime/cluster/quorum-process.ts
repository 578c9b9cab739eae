// A quorum voter in its own process, for the multi-process test. It prints `{"port":N}` once
// listening, then takes one JSON command per stdin line and answers one JSON line per command:
//   {"id":1,"peers":{"1":port,...}}            -> {"id":1}
//   {"id":2,"append":["a","b"]}                 -> {"id":2,"ok":true} | {"id":2,"ok":false,"error":"..."}
//   {"id":3,"status":true}                      -> {"id":3,"status":{...},"applied":[...]}
// Usage: node --import tsx quorum-process.ts <nodeId> <dataDirectory> <voters comma separated>
import * as readline from 'node:readline';
import { QuorumNode } from '../../../runtime/cluster/quorum-node.ts';

const [nodeIdText, dataDirectory, votersText] = process.argv.slice(2);
if (nodeIdText === undefined || dataDirectory === undefined || votersText === undefined) throw new Error('usage: quorum-process <nodeId> <dataDirectory> <voters>');
const applied: string[] = [];
const node = await QuorumNode.start({
  config: { nodeId: Number(nodeIdText), voters: votersText.split(',').map(Number), electionTimeoutMs: 150, fetchTimeoutMs: 600, requestTimeoutMs: 300, fetchMaxWaitMs: 100 },
  dataDirectory,
  onCommit: (batches) => {
    for (const batch of batches) for (const record of batch.records) applied.push(record.value?.toString() ?? '');
  },
});
const write = (value: unknown): void => {
  process.stdout.write(JSON.stringify(value, (_key, field: unknown) => (typeof field === 'bigint' ? field.toString() : field)) + '\n');
};
write({ port: node.port });

interface Command {
  id: number;
  peers?: Record<string, number>;
  append?: string[];
  status?: boolean;
}

for await (const line of readline.createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as Command;
  if (command.peers !== undefined) {
    node.setPeers(new Map(Object.entries(command.peers).map(([id, port]) => [Number(id), { host: '127.0.0.1', port }])));
    write({ id: command.id });
  } else if (command.append !== undefined) {
    Promise.all(command.append.map((value) => node.append([{ value }]))).then(
      () => write({ id: command.id, ok: true }),
      (error: unknown) => write({ id: command.id, ok: false, error: String(error) }),
    );
  } else if (command.status === true) {
    write({ id: command.id, status: node.status, activeLeader: node.isActiveLeader, applied });
  }
}
