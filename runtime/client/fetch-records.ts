// Turns the records bytes of one partition in a Fetch response into consumer records. The
// bytes may end in a partial batch (the broker cuts at max bytes), may start before the fetch
// offset (a compressed batch is returned whole), and may hold control batches (transaction
// markers), which consumers never see. Under read_committed, records of aborted transactions
// are dropped using the response's aborted-transaction list, the way Kafka's fetcher does:
// a producer's records are aborted from its listed first offset until its abort marker.
//
// Records are decoded lazily. The scan checks each batch's CRC and reads per record only its
// length and deltas; key, value and headers are read from the batch bytes when first asked
// for. A consumer that looks at a record's value pays for that, not for the fields it skips,
// and a million records do not cost a million decoded objects and buffer views up front.
import { decodeBatch, iterateBatches, readControlRecord } from '../../core/records/batch.ts';
import { decompress, isCompressionCodec } from '../../core/records/compression.ts';
import { CorruptRecordError } from '../../core/records/errors.ts';
import { ATTRIBUTE_CONTROL, ATTRIBUTE_LOG_APPEND_TIME, ATTRIBUTE_TRANSACTIONAL, BATCH_OFFSETS, compressionOf, computeBatchCrc, type BatchHeader } from '../../core/records/header.ts';
import { readRecord, type BatchRecord, type RecordHeader } from '../../core/records/record.ts';
import { readVarint, readVarlongNumber, type Cursor } from '../../core/records/varint.ts';

export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeader[];
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface PartitionRecords {
  records: ConsumerRecord[];
  /** The offset after the last complete batch, or `fetchOffset` when none was complete. */
  nextOffset: bigint;
}

/** What the records of one batch share: its records section and its header's bases. */
interface BatchBases {
  section: Buffer;
  baseOffset: bigint;
  baseTimestamp: bigint;
  /** The broker's append time when the topic uses LogAppendTime, else null. */
  appendTime: bigint | null;
}

/** A record that reads its key, value and headers from its batch's bytes on first use. */
export class FetchedRecord implements ConsumerRecord {
  private decoded: BatchRecord | null = null;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly batch: BatchBases,
    private readonly position: number,
    private readonly offsetDelta: number,
    private readonly timestampDelta: number,
  ) {}

  get offset(): bigint {
    return this.batch.baseOffset + BigInt(this.offsetDelta);
  }

  get timestamp(): bigint {
    return this.batch.appendTime ?? this.batch.baseTimestamp + BigInt(this.timestampDelta);
  }

  get key(): Buffer | null {
    return this.fields().key;
  }

  get value(): Buffer | null {
    return this.fields().value;
  }

  get headers(): RecordHeader[] {
    return this.fields().headers;
  }

  private fields(): BatchRecord {
    this.decoded ??= readRecord(this.batch.section, { position: this.position }, this.batch.section.length);
    return this.decoded;
  }

  toJSON(): object {
    return { topic: this.topic, partition: this.partition, offset: String(this.offset), timestamp: String(this.timestamp), key: this.key?.toString(), value: this.value?.toString() };
  }
}

export function recordsFromFetch(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  data: Buffer | null,
  abortedTransactions: readonly AbortedTransaction[] | null,
): PartitionRecords {
  const records: ConsumerRecord[] = [];
  let nextOffset = fetchOffset;
  if (data === null || data.length === 0) return { records, nextOffset };
  const aborted = [...(abortedTransactions ?? [])].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  for (const location of iterateBatches(data)) {
    const header = location.header;
    const lastOffset = header.baseOffset + BigInt(header.lastOffsetDelta);
    while (aborted.length > 0 && (aborted[0] as AbortedTransaction).firstOffset <= lastOffset) {
      abortedProducers.add((aborted.shift() as AbortedTransaction).producerId);
    }
    if (lastOffset + 1n > nextOffset) nextOffset = lastOffset + 1n;
    if (lastOffset < fetchOffset) continue;
    if ((header.attributes & ATTRIBUTE_CONTROL) !== 0) {
      const marker = decodeBatch(data, location.position).records[0];
      if (marker !== undefined && readControlRecord(marker).type === 'abort') abortedProducers.delete(header.producerId);
      continue;
    }
    if ((header.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0 && abortedProducers.has(header.producerId)) continue;
    scanBatch(topic, partition, data, location.position, location.size, header, fetchOffset, records);
  }
  return { records, nextOffset };
}

/** Checks one batch and appends a lazy record for each of its records at or after `fetchOffset`. */
function scanBatch(topic: string, partition: number, data: Buffer, position: number, size: number, header: BatchHeader, fetchOffset: bigint, records: ConsumerRecord[]): void {
  if (computeBatchCrc(data, position, size) !== header.crc) throw new CorruptRecordError(`batch at offset ${header.baseOffset} of ${topic}-${partition} fails its CRC check`);
  const codec = compressionOf(header.attributes);
  if (!isCompressionCodec(codec)) throw new CorruptRecordError(`batch compression codec ${codec} is unknown`);
  const section = decompress(codec, data.subarray(position + BATCH_OFFSETS.records, position + size));
  const logAppendTime = (header.attributes & ATTRIBUTE_LOG_APPEND_TIME) !== 0;
  const bases: BatchBases = { section, baseOffset: header.baseOffset, baseTimestamp: header.baseTimestamp, appendTime: logAppendTime ? header.maxTimestamp : null };
  const skipBelow = fetchOffset > header.baseOffset ? Number(fetchOffset - header.baseOffset) : 0;
  const cursor: Cursor = { position: 0 };
  for (let index = 0; index < header.recordCount; index++) {
    const start = cursor.position;
    const length = readSmallVarint(section, cursor);
    const end = cursor.position + length;
    if (length < 1 || end > section.length) throw new CorruptRecordError(`record length ${length} at ${start} does not fit the batch`);
    cursor.position += 1;
    const timestampDelta = section[cursor.position] === 0 ? (cursor.position++, 0) : readVarlongNumber(section, cursor);
    const offsetDelta = readSmallVarint(section, cursor);
    cursor.position = end;
    if (offsetDelta >= skipBelow) records.push(new FetchedRecord(topic, partition, bases, start, offsetDelta, timestampDelta));
  }
  if (cursor.position !== section.length) throw new CorruptRecordError(`${section.length - cursor.position} bytes follow the last of ${header.recordCount} records`);
}

/** readVarint with the one- and two-byte cases (nearly every length and delta) done inline. */
function readSmallVarint(buffer: Buffer, cursor: Cursor): number {
  const at = cursor.position;
  const first = buffer[at];
  if (first !== undefined && first < 0x80) {
    cursor.position = at + 1;
    return (first >>> 1) ^ -(first & 1);
  }
  const second = buffer[at + 1];
  if (first !== undefined && second !== undefined && second < 0x80) {
    const unsigned = (first & 0x7f) | (second << 7);
    cursor.position = at + 2;
    return (unsigned >>> 1) ^ -(unsigned & 1);
  }
  return readVarint(buffer, cursor);
}
