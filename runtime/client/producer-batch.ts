// The producer's bookkeeping types: a send() call waiting for its records, a batch of records
// for one partition, and the queue of batches of one partition. Plain data, owned by the
// Producer (appending) and the Sender (sending, answering, retrying).
import type { BatchBuilder } from './batch-builder.ts';

export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** -1 when acks=0, since the broker does not answer. */
  readonly offset: bigint;
  /** The broker's append time under LogAppendTime, else the record's own timestamp. */
  readonly timestamp: bigint;
}

/**
 * Metadata of one record, computed from its batch when read: a send() of a million records
 * should not pay for a million bigint additions it may never look at.
 */
export class BatchRecordMetadata implements RecordMetadata {
  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly baseOffset: bigint,
    private readonly offsetDelta: number,
    private readonly timestampMs: number,
  ) {}

  get offset(): bigint {
    return this.baseOffset < 0n ? -1n : this.baseOffset + BigInt(this.offsetDelta);
  }

  get timestamp(): bigint {
    return BigInt(this.timestampMs);
  }

  toJSON(): { topic: string; partition: number; offset: string; timestamp: string } {
    return { topic: this.topic, partition: this.partition, offset: String(this.offset), timestamp: String(this.timestamp) };
  }
}

/** One send() call: one promise for all its records, settled when the last batch is answered. */
export interface SendCall {
  /** One per message, filled in as batches are answered; null when the caller asked for none (sendAcknowledged). */
  results: RecordMetadata[] | null;
  /** Records not yet answered. */
  pendingRecords: number;
  /** Bytes this call holds of buffer.memory, released when it settles. */
  memoryBytes: number;
  error: Error | null;
  /** The timestamp of every record of the call, unless `timestamps` gives one per record. */
  timestampMs: number;
  timestamps: number[] | null;
  resolve(results: RecordMetadata[] | null): void;
  reject(error: Error): void;
}

/** A run of consecutive records of one call inside one batch. */
export interface Segment {
  call: SendCall;
  /** Where the run starts in call.results. */
  resultIndex: number;
  /** Where the run starts in the batch. */
  offsetDelta: number;
  count: number;
}

export interface Batch {
  queue: PartitionQueue;
  /** Non-null while records are being appended. */
  builder: BatchBuilder | null;
  /** The sealed batch bytes; stamped with producer fields when first sent. */
  bytes: Buffer | null;
  recordCount: number;
  segments: Segment[];
  createdAtMs: number;
  /** Sends so far; a batch that was sent once may have been written even if it failed. */
  attempts: number;
  /** Not before this time (retry backoff). */
  retryAtMs: number;
  /** Not before the sender's metadata refresh with this number has finished (0: no wait). */
  metadataAfter: number;
  /** The base sequence stamped into the batch, -1 without idempotence or before sending. */
  baseSequence: number;
  producerEpoch: number;
  /** True after a send whose answer never came (timeout, broken connection): it may be written. */
  outcomeUnknown: boolean;
  /**
   * True while the batch is open and linger.ms has not passed since it opened (never with
   * linger.ms 0). An open batch that has lingered enough but found its partition's window full
   * stays open and is sealed when an answer frees a place.
   */
  lingering: boolean;
}

export interface PartitionQueue {
  topic: string;
  partition: number;
  open: Batch | null;
  /** Sealed batches waiting to be sent, in sequence order (retried batches first). */
  ready: Batch[];
  /** Batches sent and not yet answered, in the order they were sent. */
  inFlight: Batch[];
  /** The sequence the next new batch of this partition gets (idempotence). */
  nextSequence: number;
}
