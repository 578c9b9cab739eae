// Input records as the poll loop hands them to tasks: the consumer makes each fetched record
// straight into the engine's TopicRecord shape (RecordMaker), so a record costs one object and
// the views of its key and value, with no ConsumerRecord in between. The offset, a bigint, is
// computed only when asked for: the engine keeps the last record of each partition and asks
// once per commit.
import { NO_HEADERS, type Headers, type TopicRecord } from '../../../core/topology/record.ts';
import type { RecordMaker } from '../../client/consumer.ts';

class InputRecord implements TopicRecord {
  constructor(
    readonly key: Uint8Array | null,
    readonly value: Uint8Array | null,
    readonly timestamp: number,
    readonly headers: Headers,
    readonly partition: number,
    private readonly baseOffset: bigint,
    private readonly offsetDelta: number,
  ) {}

  get offset(): bigint {
    return this.baseOffset + BigInt(this.offsetDelta);
  }
}

export const makeInputRecord: RecordMaker<TopicRecord> = (_topic, partition, key, value, timestampMs, headers, baseOffset, offsetDelta) =>
  new InputRecord(key, value, timestampMs, headers ?? NO_HEADERS, partition, baseOffset, offsetDelta);
