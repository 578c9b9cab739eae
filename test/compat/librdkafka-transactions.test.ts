// librdkafka's transactional producer (the C library kcat is built on, driven through Python's
// ctypes because kcat itself cannot run transactions): init, a committed transaction with
// offsets, an aborted one and another commit. librdkafka 2.0 uses AddPartitionsToTxn v0,
// AddOffsetsToTxn v0, EndTxn v1 and TxnOffsetCommit v3, so this also checks those versions.
// Skipped where python3 or librdkafka.so.1 is missing.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Admin } from '../../runtime/client/admin.ts';
import { Consumer } from '../../runtime/client/consumer.ts';
import { cleanup, startBroker, temporaryDirectory } from '../helpers/broker.ts';

afterAll(cleanup);

const LIBRDKAFKA_LOADS = spawnSync('python3', ['-c', "import ctypes; ctypes.CDLL('librdkafka.so.1')"], { stdio: 'ignore' }).status === 0;

/** Runs the transactions: commit r1 r2 with group offset 2, abort x1, commit r3. */
const SCRIPT = String.raw`import ctypes, os, sys
lib = ctypes.CDLL(os.environ.get('LIBRDKAFKA', 'librdkafka.so.1'))
P = ctypes.c_void_p
for name, restype, argtypes in [
    ('rd_kafka_conf_new', P, []),
    ('rd_kafka_conf_set', ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
    ('rd_kafka_new', P, [ctypes.c_int, P, ctypes.c_char_p, ctypes.c_size_t]),
    ('rd_kafka_init_transactions', P, [P, ctypes.c_int]),
    ('rd_kafka_begin_transaction', P, [P]),
    ('rd_kafka_commit_transaction', P, [P, ctypes.c_int]),
    ('rd_kafka_abort_transaction', P, [P, ctypes.c_int]),
    ('rd_kafka_error_string', ctypes.c_char_p, [P]),
    ('rd_kafka_topic_new', P, [P, ctypes.c_char_p, P]),
    ('rd_kafka_produce', ctypes.c_int, [P, ctypes.c_int32, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, P, ctypes.c_size_t, P]),
    ('rd_kafka_flush', ctypes.c_int, [P, ctypes.c_int]),
    ('rd_kafka_topic_destroy', None, [P]),
    ('rd_kafka_destroy', None, [P]),
    ('rd_kafka_version_str', ctypes.c_char_p, []),
    ('rd_kafka_consumer_group_metadata_new', P, [ctypes.c_char_p]),
    ('rd_kafka_topic_partition_list_new', P, [ctypes.c_int]),
    ('rd_kafka_topic_partition_list_add', P, [P, ctypes.c_char_p, ctypes.c_int32]),
    ('rd_kafka_topic_partition_list_set_offset', ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int32, ctypes.c_int64]),
    ('rd_kafka_send_offsets_to_transaction', P, [P, P, P, ctypes.c_int]),
]:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = argtypes

def check(error, what):
    if error:
        sys.exit(f'{what} failed: {lib.rd_kafka_error_string(error).decode()}')

bootstrap, topic, transactional_id, group = sys.argv[1:5]
errstr = ctypes.create_string_buffer(512)
conf = lib.rd_kafka_conf_new()
settings = {'bootstrap.servers': bootstrap, 'transactional.id': transactional_id, 'transaction.timeout.ms': '30000'}
if os.environ.get('RDKAFKA_DEBUG'): settings['debug'] = os.environ['RDKAFKA_DEBUG']
for key, value in settings.items():
    if lib.rd_kafka_conf_set(conf, key.encode(), value.encode(), errstr, 512) != 0:
        sys.exit(f'config {key}: {errstr.value.decode()}')
producer = lib.rd_kafka_new(0, conf, errstr, 512)
if not producer: sys.exit(f'rd_kafka_new: {errstr.value.decode()}')
handle = lib.rd_kafka_topic_new(producer, topic.encode(), None)

def produce(values):
    for value in values:
        data = value.encode()
        if lib.rd_kafka_produce(handle, 0, 2, data, len(data), None, 0, None) != 0: sys.exit('produce failed')
    lib.rd_kafka_flush(producer, 10000)

check(lib.rd_kafka_init_transactions(producer, 20000), 'init_transactions')
check(lib.rd_kafka_begin_transaction(producer), 'begin_transaction')
produce(['r1', 'r2'])
offsets = lib.rd_kafka_topic_partition_list_new(1)
lib.rd_kafka_topic_partition_list_add(offsets, topic.encode(), 0)
lib.rd_kafka_topic_partition_list_set_offset(offsets, topic.encode(), 0, 2)
check(lib.rd_kafka_send_offsets_to_transaction(producer, offsets, lib.rd_kafka_consumer_group_metadata_new(group.encode()), 20000), 'send_offsets_to_transaction')
check(lib.rd_kafka_commit_transaction(producer, 20000), 'commit_transaction')
check(lib.rd_kafka_begin_transaction(producer), 'begin_transaction')
produce(['x1'])
check(lib.rd_kafka_abort_transaction(producer, 20000), 'abort_transaction')
check(lib.rd_kafka_begin_transaction(producer), 'begin_transaction')
produce(['r3'])
check(lib.rd_kafka_commit_transaction(producer, 20000), 'commit_transaction')
lib.rd_kafka_topic_destroy(handle)
lib.rd_kafka_destroy(producer)
print('librdkafka', lib.rd_kafka_version_str().decode(), 'done')
`;

function runPython(file: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

async function readUntil(bootstrap: string, topic: string, sentinel: string, isolationLevel: 'read_committed' | 'read_uncommitted'): Promise<string[]> {
  const consumer = new Consumer({ bootstrapServers: bootstrap, isolationLevel, fetchMaxWaitMs: 100 });
  consumer.assign([{ topic, partition: 0, offset: 0n }]);
  const values: string[] = [];
  const deadline = Date.now() + 20_000;
  try {
    while (!values.includes(sentinel)) {
      if (Date.now() > deadline) throw new Error(`sentinel ${sentinel} not read in time; read ${values.join(',')}`);
      values.push(...(await consumer.poll({ timeoutMs: 200 })).map((record) => record.value?.toString() ?? 'null'));
    }
  } finally {
    await consumer.close();
  }
  return values;
}

describe.skipIf(!LIBRDKAFKA_LOADS)('librdkafka transactions', () => {
  it('commits, aborts and commits offsets with librdkafka\'s transactional producer', async () => {
    const broker = await startBroker();
    const admin = new Admin({ bootstrapServers: broker.bootstrap });
    try {
      await admin.createTopics([{ topic: 'rdkafka-tx', numPartitions: 1 }]);
      const file = path.join(temporaryDirectory(), 'transactions.py');
      writeFileSync(file, SCRIPT);
      const run = await runPython(file, [broker.bootstrap, 'rdkafka-tx', 'rdkafka-producer', 'rdkafka-group']);
      expect(run.output).toContain('done');
      expect(run.code).toBe(0);
      expect(await readUntil(broker.bootstrap, 'rdkafka-tx', 'r3', 'read_committed')).toEqual(['r1', 'r2', 'r3']);
      expect(await readUntil(broker.bootstrap, 'rdkafka-tx', 'r3', 'read_uncommitted')).toEqual(['r1', 'r2', 'x1', 'r3']);
      const offsets = await admin.fetchGroupOffsets('rdkafka-group', ['rdkafka-tx']);
      expect(offsets.find((entry) => entry.partition === 0)?.offset).toBe(2n);
    } finally {
      await admin.close();
      await broker.stop();
    }
  }, 90_000);
});
