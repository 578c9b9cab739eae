// Input records as the poll loop hands them to tasks: the consumer makes each fetched record
// straight into the engine's TopicRecord shape (an InPlaceRecordMaker), so a record costs one
// object, with no ConsumerRecord in between. Its key and value stay where they lie in the
// fetched batch: the task's serdes decode them from there (PackedTopicRecord), and a view of
// either is made only when something asks for `key` or `value` (a store prefetching keys, an
// error handler). The offset, a bigint, is computed only when asked for: the engine keeps the
// last record of each partition and asks once per commit.
import { NO_HEADERS, type Headers } from '../../../core/topology/record.ts';
import type { InPlaceRecordMaker } from '../../client/consumer.ts';
import type { PackedTopicRecord } from '../task.ts';

class InputRecord implements PackedTopicRecord {
  constructor(
    readonly bytes: Uint8Array,
    readonly keyStart: number,
    readonly keyLength: number,
    readonly valueStart: number,
    readonly valueLength: number,
    readonly timestamp: number,
    readonly headers: Headers,
    readonly partition: number,
    private readonly baseOffset: bigint,
    private readonly offsetDelta: number,
  ) {}

  get key(): Uint8Array | null {
    return this.keyLength < 0 ? null : new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.keyStart, this.keyLength);
  }

  get value(): Uint8Array | null {
    return this.valueLength < 0 ? null : new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.valueStart, this.valueLength);
  }

  get offset(): bigint {
    return this.baseOffset + BigInt(this.offsetDelta);
  }
}

export const makeInputRecord: InPlaceRecordMaker<PackedTopicRecord> = {
  inPlace: (_topic, partition, section, keyStart, keyLength, valueStart, valueLength, timestampMs, headers, baseOffset, offsetDelta) =>
    new InputRecord(section, keyStart, keyLength, valueStart, valueLength, timestampMs, headers ?? NO_HEADERS, partition, baseOffset, offsetDelta),
};
