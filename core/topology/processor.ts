// The Processor API: what a processor implements and what the engine offers it. The DSL builds
// its operators on these types; users can write their own processors with process().
import type { RecordContext, StreamRecord } from './record.ts';

export type PunctuationType = 'stream-time' | 'wall-clock';

export interface Cancellable {
  cancel(): void;
}

/** What every state store offers the engine; richer interfaces live in state/stores. */
export interface StateStore {
  readonly name: string;
  /** True when the store keeps data across restarts on its own (RocksDB), false in memory. */
  readonly persistent: boolean;
  init(context: StateStoreContext): void;
  /** Replays changelog records into the store before processing starts; never logs them again. */
  restore(records: readonly ChangelogRecord[]): void;
  flush(): void;
  close(): void;
}

/** A changelog record as stored: the store's key bytes and value bytes (null deletes). */
export interface ChangelogRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/**
 * Where changelog records go. The runtime implements it with its producer, the test driver with
 * in-memory topics, so stores never hold network code.
 */
export interface ChangelogWriter {
  send(topic: string, partition: number, key: Uint8Array, value: Uint8Array | null, timestampMs: number): void;
}

export interface StateStoreContext {
  readonly applicationId: string;
  readonly taskId: string;
  readonly partition: number;
  /** The full changelog topic name, or null when logging is off. */
  readonly changelogTopic: string | null;
  readonly changelogWriter: ChangelogWriter | null;
  /** Timestamp of the record being processed, used for changelog records. */
  recordTimestampMs(): number;
}

/** Counters a task keeps; processors report into them. */
export interface TaskMetrics {
  /** Records dropped because they arrived after their window closed. */
  droppedLateRecords: number;
  /** Records skipped because they could not be deserialized or had an invalid timestamp. */
  skippedRecords: number;
  /** Records dropped for other reasons (null keys where a key is needed). */
  droppedRecords: number;
}

export interface ProcessorContext<KOut, VOut> {
  readonly applicationId: string;
  /** `<subtopology>_<partition>`. */
  readonly taskId: string;
  readonly partition: number;
  readonly metrics: TaskMetrics;
  /** The input record being processed, or a punctuation's context. */
  recordContext(): RecordContext;
  /** Sends a record to all children, or to the named child only. */
  forward(record: StreamRecord<KOut, VOut>, childName?: string): void;
  /** Calls back every interval of stream time or wall-clock time, starting after one interval. */
  schedule(intervalMs: number, type: PunctuationType, callback: (timestampMs: number) => void): Cancellable;
  getStateStore<S extends StateStore>(name: string): S;
  /** Largest record timestamp the task has processed, -1 before the first. */
  currentStreamTimeMs(): number;
  currentSystemTimeMs(): number;
  /** Asks the engine to commit soon. */
  commit(): void;
}

export interface Processor<KIn, VIn, KOut = never, VOut = never> {
  init?(context: ProcessorContext<KOut, VOut>): void;
  process(record: StreamRecord<KIn, VIn>): void;
  close?(): void;
}

export type ProcessorSupplier<KIn, VIn, KOut = never, VOut = never> = () => Processor<KIn, VIn, KOut, VOut>;

/** Chooses the topic a sink writes to, per record. */
export type TopicNameExtractor<K, V> = (key: K, value: V, recordContext: RecordContext) => string;

/** Chooses a partition; undefined means the default (murmur2 of the key bytes). */
export type StreamPartitioner<K, V> = (topic: string, key: K, value: V, partitionCount: number) => number | undefined;

/** Chooses event time for a consumed record; partitionTimeMs is the largest timestamp seen so far. */
export type TimestampExtractor = (
  record: { readonly key: unknown; readonly value: unknown; readonly timestamp: number; readonly topic: string },
  partitionTimeMs: number,
) => number;
