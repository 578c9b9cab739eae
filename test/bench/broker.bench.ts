// Broker throughput: produce and consume rates for 100 B and 1 KB records on 1 and 16
// partitions, against a broker process this benchmark starts. The load generator pre-encodes
// its record batches and pipelines requests over one connection, so the figures are the
// broker's (and loopback's), not a client library's.
import { ApiKey } from '../../core/protocol/index.ts';
import { encodeBatch } from '../../core/records/batch.ts';
import { CompressionCodec } from '../../core/records/compression.ts';
import { batchSizeAt, readBatchHeader } from '../../core/records/header.ts';
import { cleanup, startBroker, type BrokerProcess } from '../helpers/broker.ts';
import { RawConnection } from '../helpers/raw-connection.ts';
import { decodeResponseFrame, encodeRequestFrame } from '../../core/protocol/index.ts';

const RECORDS_PER_BATCH = 500;
const TOTAL_RECORDS = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const PIPELINE_DEPTH = 16;

interface Result { scenario: string; recordsPerSecond: number; megabytesPerSecond: number }

async function createTopic(broker: BrokerProcess, name: string, partitions: number): Promise<void> {
  const connection = await RawConnection.connect(broker.port);
  await connection.request(ApiKey.CreateTopics, 5, { topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
  connection.destroy();
}

async function produce(broker: BrokerProcess, topic: string, partitions: number, recordBytes: number, acks: number): Promise<Result> {
  const value = Buffer.alloc(recordBytes, 0x61);
  const batch = encodeBatch({ compression: CompressionCodec.None, records: Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: null, value })) });
  const requests = Math.ceil(TOTAL_RECORDS / RECORDS_PER_BATCH);
  const connection = await RawConnection.connect(broker.port);
  const started = process.hrtime.bigint();
  let sent = 0;
  let answered = 0;
  while (answered < requests) {
    while (sent < requests && sent - answered < PIPELINE_DEPTH) {
      // Each request carries one batch for one partition, round-robin over the partitions.
      const partition = sent % partitions;
      connection.write(encodeRequestFrame(ApiKey.Produce, 8, sent, 'bench', {
        transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
      } as never));
      sent += 1;
    }
    const frame = await connection.readFrame(60_000);
    if (frame === null) throw new Error('broker closed the connection');
    const response = decodeResponseFrame(ApiKey.Produce, 8, frame) as { body: { responses: { partitionResponses: { errorCode: number }[] }[] } };
    const errorCode = response.body.responses[0]!.partitionResponses[0]!.errorCode;
    if (errorCode !== 0) throw new Error(`produce failed with error ${errorCode}`);
    answered += 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  connection.destroy();
  const records = requests * RECORDS_PER_BATCH;
  return { scenario: `produce ${recordBytes} B, ${partitions} partition(s), acks=${acks}`, recordsPerSecond: records / seconds, megabytesPerSecond: (records * recordBytes) / seconds / 1e6 };
}

async function consume(broker: BrokerProcess, topic: string, partitions: number, recordBytes: number): Promise<Result> {
  const connection = await RawConnection.connect(broker.port);
  const offsets = new Array<bigint>(partitions).fill(0n);
  let records = 0;
  const started = process.hrtime.bigint();
  const expected = Math.ceil(TOTAL_RECORDS / RECORDS_PER_BATCH) * RECORDS_PER_BATCH;
  while (records < expected) {
    const response = await connection.request(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 32 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: offsets.map((fetchOffset, partition) => ({ partition, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1n, partitionMaxBytes: 4 << 20 })) }],
      forgottenTopicsData: [], rackId: '',
    });
    for (const partition of response.body.responses[0].partitions) {
      const bytes: Buffer | null = partition.records;
      if (bytes === null) continue;
      // Count from batch headers only: a consumer's decoding cost is not the broker's.
      for (let position = 0; position < bytes.length;) {
        const size = batchSizeAt(bytes, position);
        if (size < 0 || position + size > bytes.length) break;
        const header = readBatchHeader(bytes, position);
        records += header.recordCount;
        offsets[partition.partitionIndex] = header.baseOffset + BigInt(header.lastOffsetDelta) + 1n;
        position += size;
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  connection.destroy();
  return { scenario: `consume ${recordBytes} B, ${partitions} partition(s)`, recordsPerSecond: records / seconds, megabytesPerSecond: (records * recordBytes) / seconds / 1e6 };
}

async function main(): Promise<void> {
  const broker = await startBroker({ overrides: { 'log.segment.bytes': String(256 * 1024 * 1024) } });
  const results: Result[] = [];
  try {
    for (const recordBytes of [100, 1024]) {
      for (const partitions of [1, 16]) {
        const topic = `bench-${recordBytes}-${partitions}`;
        await createTopic(broker, topic, partitions);
        results.push(await produce(broker, topic, partitions, recordBytes, 1));
        results.push(await consume(broker, topic, partitions, recordBytes));
      }
    }
  } finally {
    await broker.stop();
    await cleanup();
  }
  console.log(`records: ${TOTAL_RECORDS} per scenario, ${RECORDS_PER_BATCH} per batch, pipeline depth ${PIPELINE_DEPTH}, uncompressed`);
  console.log('| scenario | records/s | MB/s |\n|---|---:|---:|');
  for (const result of results) {
    console.log(`| ${result.scenario} | ${Math.round(result.recordsPerSecond).toLocaleString('en-US')} | ${result.megabytesPerSecond.toFixed(1)} |`);
  }
}

await main();
