// The Runnel client's transactional producer against a real broker process: commit and abort
// (by hand and with transaction(fn)), read_committed and read_uncommitted Runnel consumers,
// offsets sent with a transaction, fencing by a second producer with the same transactional id,
// and a child process SIGKILLed with its transaction open.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin } from '../../../runtime/client/admin.ts';
import { Consumer, type ConsumerRecord } from '../../../runtime/client/consumer.ts';
import { KafkaConfigError, KafkaProducerFencedError, KafkaStateError, KafkaTransactionAbortedError } from '../../../runtime/client/errors.ts';
import { Producer } from '../../../runtime/client/producer.ts';
import { cleanup, REPOSITORY_ROOT, startBroker, type BrokerProcess } from '../../helpers/broker.ts';

let broker: BrokerProcess;
let admin: Admin;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  broker = await startBroker({ overrides: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200' } });
  admin = new Admin({ bootstrapServers: broker.bootstrap });
});

afterAll(async () => {
  await Promise.allSettled(open.map((client) => client.close()));
  await admin.close();
  await cleanup();
});

function transactional(transactionalId: string, options: Record<string, unknown> = {}): Producer {
  const created = new Producer({ bootstrapServers: broker.bootstrap, lingerMs: 2, 'transactional.id': transactionalId, ...options });
  open.push(created);
  return created;
}

function consumer(options: Record<string, unknown> = {}): Consumer {
  const created = new Consumer({ bootstrapServers: broker.bootstrap, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, fetchMaxWaitMs: 100, ...options });
  open.push(created);
  return created;
}

/** Reads the partitions from offset 0 until a record with the sentinel value arrives. */
async function readUntil(topic: string, partitions: number[], sentinel: string, isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<string[]> {
  const reader = consumer({ isolationLevel });
  reader.assign(partitions.map((partition) => ({ topic, partition, offset: 0n })));
  const values: string[] = [];
  const deadline = Date.now() + 20_000;
  while (!values.includes(sentinel)) {
    if (Date.now() > deadline) throw new Error(`sentinel ${sentinel} not read in time; read ${values.join(',')}`);
    const records: ConsumerRecord[] = await reader.poll({ timeoutMs: 200 });
    values.push(...records.map((record) => record.value?.toString() ?? 'null'));
  }
  await reader.close();
  return values;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function committedOffset(groupId: string, topic: string): Promise<bigint | null> {
  const offsets = await admin.fetchGroupOffsets(groupId, [topic]);
  const found = offsets.find((entry) => entry.topic === topic && entry.partition === 0);
  return found === undefined || found.offset < 0n ? null : found.offset;
}

describe('transactional producer', () => {
  it('commits one transaction and aborts another; read_committed sees only the commit', async () => {
    const topic = 'runnel-tx-orders';
    await admin.createTopics([{ topic, numPartitions: 2 }]);
    const producer = transactional('runnel-orders');
    await producer.beginTransaction();
    await producer.send({ topic, messages: [{ key: 'a', value: 'c1' }, { key: 'b', value: 'c2' }, { value: 'c3', partition: 1 }] });
    await producer.commitTransaction();
    await producer.beginTransaction();
    const pending = producer.send({ topic, messages: [{ value: 'a1', partition: 0 }, { value: 'a2', partition: 1 }] });
    await pending;
    await producer.abortTransaction();
    // transaction(fn): a throw aborts, a resolve commits.
    await expect(producer.transaction(async (tx) => {
      await tx.send({ topic, messages: [{ value: 'a3', partition: 0 }] });
      throw new Error('the work failed');
    })).rejects.toThrow('the work failed');
    expect(producer.transactionState).toBe('ready');
    const answer = await producer.transaction(async (tx) => {
      await tx.send({ topic, messages: [{ value: 'c4', partition: 1 }, { value: 'end', partition: 0 }] });
      return 'done';
    });
    expect(answer).toBe('done');

    const committed = await readUntil(topic, [0, 1], 'end', 'read_committed');
    expect(committed.sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'end']);
    const everything = await readUntil(topic, [0, 1], 'end', 'read_uncommitted');
    expect(everything.sort()).toEqual(['a1', 'a2', 'a3', 'c1', 'c2', 'c3', 'c4', 'end']);
  });

  it('refuses sends outside a transaction and fails unsent records of an aborted one', async () => {
    const topic = 'runnel-tx-unsent';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const producer = transactional('runnel-unsent', { lingerMs: 1_000 });
    await expect(producer.send({ topic, messages: [{ value: 'x' }] })).rejects.toBeInstanceOf(KafkaStateError);
    await producer.beginTransaction();
    // With a long linger the batch is still open when the abort comes, so it is never sent.
    const lingering = producer.send({ topic, messages: [{ value: 'never' }] });
    // Usually the record sits in the open batch by now; if it still waited for metadata, the
    // send is refused with the same error when it wakes, so the assertion holds either way.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await producer.abortTransaction();
    await expect(lingering).rejects.toBeInstanceOf(KafkaTransactionAbortedError);
    await producer.beginTransaction();
    await producer.send({ topic, messages: [{ value: 'end' }] });
    // Two commits at once share one EndTxn; an abort meanwhile is refused.
    const commits = Promise.all([producer.commitTransaction(), producer.commitTransaction()]);
    await expect(producer.abortTransaction()).rejects.toBeInstanceOf(KafkaStateError);
    await commits;
    expect(producer.transactionState).toBe('ready');
    expect(await readUntil(topic, [0], 'end', 'read_committed')).toEqual(['end']);
    expect(() => new Producer({ bootstrapServers: broker.bootstrap, transactionalId: 't', idempotent: false })).toThrow(KafkaConfigError);
  });

  it('commits offsets sent with a transaction only when it commits', async () => {
    const input = 'runnel-tx-input';
    const output = 'runnel-tx-output';
    const groupId = 'runnel-tx-app';
    await admin.createTopics([{ topic: input, numPartitions: 1 }, { topic: output, numPartitions: 1 }]);
    const seed = new Producer({ bootstrapServers: broker.bootstrap });
    open.push(seed);
    await seed.send({ topic: input, messages: [{ value: 'i1' }, { value: 'i2' }, { value: 'i3' }] });
    const reader = consumer({ groupId, autoCommit: false, autoOffsetReset: 'earliest', isolationLevel: 'read_committed' });
    reader.subscribe({ topics: [input] });
    const records: ConsumerRecord[] = [];
    const deadline = Date.now() + 20_000;
    while (records.length < 3 && Date.now() < deadline) records.push(...(await reader.poll({ timeoutMs: 200 })));
    expect(records).toHaveLength(3);
    const group = reader.groupMetadata();
    expect(group.generationId).toBeGreaterThan(0);
    expect(group.memberId).not.toBe('');

    const producer = transactional('runnel-processor');
    await producer.beginTransaction();
    await producer.send({ topic: output, messages: [{ value: 'o1' }] });
    await producer.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 2n }], group);
    await producer.abortTransaction();
    expect(await committedOffset(groupId, input)).toBeNull();

    await producer.beginTransaction();
    await producer.send({ topic: output, messages: [{ value: 'o2' }] });
    await producer.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 3n }], group);
    expect(await committedOffset(groupId, input)).toBeNull();
    await producer.commitTransaction();
    await waitFor(async () => (await committedOffset(groupId, input)) === 3n, 10_000);

    // Offsets from a generation the group no longer has are refused, and the transaction aborts.
    await producer.beginTransaction();
    await expect(producer.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: 1n }], { ...group, generationId: group.generationId + 5 })).rejects.toThrow(/ILLEGAL_GENERATION/);
    expect(producer.transactionState).toBe('abortableError');
    await producer.abortTransaction();
    expect(await committedOffset(groupId, input)).toBe(3n);
    expect(await readUntil(output, [0], 'o2', 'read_committed')).toEqual(['o2']);
  });

  it('runs a consume-transform-produce loop exactly once through an aborted round', async () => {
    const input = 'runnel-eos-input';
    const output = 'runnel-eos-output';
    const groupId = 'runnel-eos-app';
    await admin.createTopics([{ topic: input, numPartitions: 1 }, { topic: output, numPartitions: 1 }]);
    const seed = new Producer({ bootstrapServers: broker.bootstrap });
    open.push(seed);
    await seed.send({ topic: input, messages: Array.from({ length: 20 }, (_, index) => ({ value: `in-${index}` })) });
    const reader = consumer({ groupId, autoCommit: false, autoOffsetReset: 'earliest', isolationLevel: 'read_committed', maxPollRecords: 5 });
    reader.subscribe({ topics: [input] });
    const producer = transactional('runnel-eos-processor');
    let committed = 0n;
    let round = 0;
    const deadline = Date.now() + 30_000;
    while (committed < 20n && Date.now() < deadline) {
      const records = await reader.poll({ timeoutMs: 200 });
      if (records.length === 0) continue;
      round += 1;
      await producer.beginTransaction();
      await producer.send({ topic: output, messages: records.map((record) => ({ value: `out-${record.value?.toString().slice(3)}` })) });
      const next = (records.at(-1) as ConsumerRecord).offset + 1n;
      await producer.sendOffsetsToTransaction([{ topic: input, partition: 0, offset: next }], reader.groupMetadata());
      if (round === 2) {
        // A failed round: its outputs and offsets vanish, and the input is read again from the last commit.
        await producer.abortTransaction();
        reader.seek({ topic: input, partition: 0, offset: committed });
        continue;
      }
      await producer.commitTransaction();
      committed = next;
    }
    expect(committed).toBe(20n);
    expect(round).toBeGreaterThanOrEqual(5);
    expect(await committedOffset(groupId, input)).toBe(20n);
    const outputs = await readUntil(output, [0], 'out-19', 'read_committed');
    expect(outputs).toEqual(Array.from({ length: 20 }, (_, index) => `out-${index}`));
  });

  it('commits records whose send() was still waiting for metadata when commitTransaction was called', async () => {
    const producer = transactional('runnel-late-append');
    await producer.beginTransaction();
    // Created after the producer started: its first send must fetch the topic's metadata.
    const topic = 'runnel-tx-late-append';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const first = producer.send({ topic, messages: [{ value: 'a1' }, { value: 'a2' }] });
    const second = producer.send({ topic, messages: [{ value: 'a3' }] });
    await producer.commitTransaction();
    const [firstResults, secondResults] = await Promise.all([first, second]);
    // Sends keep their order even when the first had to wait.
    expect([...firstResults, ...secondResults].map((result) => result.offset)).toEqual([0n, 1n, 2n]);
    await producer.beginTransaction();
    await producer.send({ topic, messages: [{ value: 'end' }] });
    await producer.commitTransaction();
    expect(await readUntil(topic, [0], 'end', 'read_committed')).toEqual(['a1', 'a2', 'a3', 'end']);
  });

  it('fails a send still waiting for metadata when its transaction is aborted, and never appends it to a later one', async () => {
    const producer = transactional('runnel-late-abort');
    await producer.beginTransaction();
    const topic = 'runnel-tx-late-abort';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const waiting = producer.send({ topic, messages: [{ value: 'aborted' }] });
    const outcome = waiting.then(() => 'sent', (error: unknown) => error);
    await producer.abortTransaction();
    expect(await outcome).toBeInstanceOf(KafkaTransactionAbortedError);
    await producer.beginTransaction();
    await producer.send({ topic, messages: [{ value: 'end' }] });
    await producer.commitTransaction();
    expect(await readUntil(topic, [0], 'end', 'read_uncommitted')).toEqual(['end']);
  });

  it('fences the first producer when a second one takes its transactional id', async () => {
    const topic = 'runnel-tx-fenced';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const zombie = transactional('runnel-fenced');
    await zombie.beginTransaction();
    await zombie.send({ topic, messages: [{ value: 'zombie-1' }] });
    const successor = transactional('runnel-fenced');
    await successor.initTransactions();
    expect(successor.producerIdentity.producerEpoch).toBe(zombie.producerIdentity.producerEpoch + 1);
    await expect(zombie.send({ topic, messages: [{ value: 'zombie-2' }] })).rejects.toBeInstanceOf(KafkaProducerFencedError);
    expect(zombie.transactionState).toBe('fatalError');
    await expect(zombie.commitTransaction()).rejects.toBeInstanceOf(KafkaProducerFencedError);
    await expect(zombie.beginTransaction()).rejects.toBeInstanceOf(KafkaProducerFencedError);
    await successor.transaction(async (tx) => { await tx.send({ topic, messages: [{ value: 'successor' }] }); });
    expect(await readUntil(topic, [0], 'successor', 'read_committed')).toEqual(['successor']);
    const everything = await readUntil(topic, [0], 'successor', 'read_uncommitted');
    expect(everything).toContain('zombie-1');
    expect(everything).not.toContain('zombie-2');
  });

  it('aborts an open transaction on close, so read_committed consumers need not wait for its timeout', async () => {
    const topic = 'runnel-tx-closed';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    const producer = transactional('runnel-closed');
    await producer.beginTransaction();
    await producer.send({ topic, messages: [{ value: 'left-open' }] });
    await producer.close();
    const next = transactional('runnel-closed-next');
    await next.transaction(async (tx) => { await tx.send({ topic, messages: [{ value: 'after' }] }); });
    // With the 60 s default timeout still running, only the abort on close lets this through.
    expect(await readUntil(topic, [0], 'after', 'read_committed')).toEqual(['after']);
  });

  it('aborts the open transaction of a SIGKILLed producer process after its timeout', async () => {
    const topic = 'runnel-tx-doomed';
    await admin.createTopics([{ topic, numPartitions: 1 }]);
    await runAndKillProducer(topic);
    const latest = async (isolation: 'read_committed' | 'read_uncommitted') => {
      const reader = consumer({ isolationLevel: isolation });
      try {
        return [...(await reader.listOffsets([{ topic, partition: 0 }], -1n)).values()][0];
      } finally {
        await reader.close();
      }
    };
    expect(await latest('read_uncommitted')).toBe(2n);
    // The abort marker after the 3 s timeout moves the last stable offset past the records.
    await waitFor(async () => (await latest('read_committed')) === 3n, 20_000);
    const next = transactional('runnel-doomed');
    await next.transaction(async (tx) => { await tx.send({ topic, messages: [{ value: 'after' }] }); });
    expect(await readUntil(topic, [0], 'after', 'read_committed')).toEqual(['after']);
  }, 60_000);
});

/** A child process opens a Runnel transaction on `topic`, writes two records and is SIGKILLed. */
async function runAndKillProducer(topic: string): Promise<void> {
  const script = `
    import { Producer } from './runtime/client/producer.ts';
    const producer = new Producer({ bootstrapServers: process.env.BOOTSTRAP, transactionalId: 'runnel-doomed', transactionTimeoutMs: 3000 });
    await producer.beginTransaction();
    await producer.send({ topic: process.env.TOPIC, messages: [{ value: 'doomed-1' }, { value: 'doomed-2' }] });
    process.stdout.write('sent\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPOSITORY_ROOT, env: { ...process.env, BOOTSTRAP: broker.bootstrap, TOPIC: topic }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('sent')) resolve(); });
      child.once('exit', (code) => reject(new Error(`producer process exited with ${code} before sending:\n${stderr}`)));
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}
