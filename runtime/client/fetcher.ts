// The consumer's fetching side. Fetches run in the background, one at a time per broker, for
// every assigned partition that holds fewer than two fetched responses not yet handed out:
// while the application works through one response, the next is already on its way or
// waiting (prefetching), and memory stays bounded by two responses per partition. With one
// response per partition (Kafka's rule) a partition's next fetch could only go out once its
// records were all handed out, and a consumer of partitions led by one broker waited for that
// round trip whenever it finished a partition's response before the broker's fetch returned.
//
// Each partition has two offsets: `position`, the next record the application gets (what
// commits use), and `fetchPosition`, the next offset to fetch, which runs ahead by the records
// buffered. A seek, a pause or a rebalance drops the buffered records and brings fetchPosition
// back to position; an answer to a fetch sent before that is recognised as stale and ignored.
import { ApiKey, ErrorCode } from '../../core/protocol/index.ts';
import { sleep, type Cluster } from './cluster.ts';
import { KafkaProtocolError, isRetriableError, throwIfError } from './errors.ts';
import { makeConsumerRecord, scanFetch, type ConsumerRecord, type RecordMaker, type ScannedRecords } from './fetch-records.ts';

export interface PartitionState {
  topic: string;
  partition: number;
  /** The offset of the next record to hand out; null until looked up. */
  position: bigint | null;
  /** The offset the next fetch starts at; null until looked up. */
  fetchPosition: bigint | null;
  paused: boolean;
  /** A fetch for this partition is out. */
  fetching: boolean;
  /** Fetched responses of this partition whose records are not all handed out. */
  bufferedResponses: number;
}

/** Records of one partition handed out by one take, in offset order. */
export interface RecordRun<R> {
  readonly topic: string;
  readonly partition: number;
  readonly records: R[];
}

/**
 * Records of one partition taken without making them objects: records [from, to) of a scanned
 * response, read with ScannedRecords.locate (the streams runtime reads them so).
 */
export interface PackedRun {
  readonly topic: string;
  readonly partition: number;
  readonly records: ScannedRecords;
  readonly from: number;
  readonly to: number;
}

interface Chunk {
  state: PartitionState;
  /** Scanned records, made into objects as they are taken (or handed out as ranges by takePacked). */
  records: ScannedRecords;
  /** The index of the next record to hand out. */
  next: number;
  /** Where the partition's position goes once every record of the chunk is out. */
  nextOffset: bigint;
}

/** Responses a partition may hold before its next fetch waits for them to be handed out. */
const BUFFERED_RESPONSES_MAX = 2;

export interface FetcherOptions {
  fetchMinBytes: number;
  fetchMaxBytes: number;
  fetchMaxWaitMs: number;
  maxPartitionFetchBytes: number;
  isolationLevel: 'read_uncommitted' | 'read_committed';
  requestTimeoutMs: number;
  retryBackoffMs: number;
}

export class Fetcher {
  private chunks: Chunk[] = [];
  private readonly brokersFetching = new Set<number>();
  private waiters: (() => void)[] = [];
  /** A fetch failure that the application must see, raised by the next poll. */
  private failure: Error | null = null;
  private backoffUntilMs = 0;
  private refreshing = false;
  private lastRefreshAtMs = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: FetcherOptions,
    private readonly partitions: () => Iterable<PartitionState>,
    private readonly isCurrent: (state: PartitionState) => boolean,
    private readonly outOfRange: (state: PartitionState) => void,
  ) {}

  get hasRecords(): boolean {
    return this.chunks.length > 0;
  }

  /** Throws a failure of a background fetch, once. */
  raiseFailure(): void {
    const failure = this.failure;
    this.failure = null;
    if (failure !== null) throw failure;
  }

  /** Hands out up to `max` records and moves positions past them. */
  take(max: number): ConsumerRecord[] {
    const taken: ConsumerRecord[] = [];
    while (taken.length < max && this.chunks.length > 0) this.takeFrom(this.chunks[0] as Chunk, max - taken.length, makeConsumerRecord, taken);
    return taken;
  }

  /**
   * take() for callers that make their own record objects (`maker`); the records come in runs
   * of one partition, one run per buffered response.
   */
  takeRuns<R>(max: number, maker: RecordMaker<R>): RecordRun<R>[] {
    const runs: RecordRun<R>[] = [];
    let remaining = max;
    while (remaining > 0 && this.chunks.length > 0) {
      const chunk = this.chunks[0] as Chunk;
      const records: R[] = [];
      this.takeFrom(chunk, remaining, maker, records);
      remaining -= records.length;
      runs.push({ topic: chunk.state.topic, partition: chunk.state.partition, records });
    }
    return runs;
  }

  /** takeRuns() that makes no record objects: each run names a range of its scanned response. */
  takePacked(max: number): PackedRun[] {
    const runs: PackedRun[] = [];
    let remaining = max;
    while (remaining > 0 && this.chunks.length > 0) {
      const chunk = this.chunks[0] as Chunk;
      const from = chunk.next;
      const to = Math.min(chunk.records.count, from + remaining);
      this.moveTo(chunk, to);
      remaining -= to - from;
      if (to > from) runs.push({ topic: chunk.state.topic, partition: chunk.state.partition, records: chunk.records, from, to });
    }
    return runs;
  }

  /** Moves up to `max` records of the chunk into `into` and the partition's position past them. */
  private takeFrom<R>(chunk: Chunk, max: number, maker: RecordMaker<R>, into: R[]): void {
    const end = Math.min(chunk.records.count, chunk.next + max);
    for (let index = chunk.next; index < end; index++) into.push(chunk.records.make(index, maker));
    this.moveTo(chunk, end);
  }

  /** Marks the chunk's records before `end` taken and moves the partition's position past them. */
  private moveTo(chunk: Chunk, end: number): void {
    chunk.next = end;
    if (chunk.next >= chunk.records.count) {
      this.chunks.shift();
      chunk.state.position = chunk.nextOffset;
      chunk.state.bufferedResponses -= 1;
    } else {
      chunk.state.position = chunk.records.offsetOf(chunk.next - 1) + 1n;
    }
  }

  /** Drops buffered records of the partitions that match; their fetching restarts at position. */
  drop(matches: (state: PartitionState) => boolean): void {
    this.chunks = this.chunks.filter((chunk) => {
      if (!matches(chunk.state)) return true;
      chunk.state.bufferedResponses = 0;
      chunk.state.fetchPosition = chunk.state.position;
      return false;
    });
  }

  dropAll(): void {
    this.drop(() => true);
  }

  /** Starts a fetch to every broker that leads a partition ready for one and has none out. */
  start(): void {
    if (Date.now() < this.backoffUntilMs) return;
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of this.partitions()) {
      if (state.fetchPosition === null || state.paused || state.fetching || state.bufferedResponses >= BUFFERED_RESPONSES_MAX) continue;
      const leader = this.cluster.cachedTopic(state.topic)?.partitions[state.partition]?.leader ?? -1;
      if (leader < 0) {
        this.refreshMetadata();
        continue;
      }
      if (this.brokersFetching.has(leader)) continue;
      const led = byLeader.get(leader);
      if (led === undefined) byLeader.set(leader, [state]);
      else led.push(state);
    }
    for (const [leader, states] of byLeader) {
      this.brokersFetching.add(leader);
      for (const state of states) state.fetching = true;
      void this.fetchFrom(leader, states)
        .catch((error: unknown) => this.fetchFailed(error))
        .finally(() => {
          this.brokersFetching.delete(leader);
          for (const state of states) state.fetching = false;
          this.notify();
        });
    }
  }

  /** Resolves when a fetch completes or `timeoutMs` passes. */
  async waitForFetch(timeoutMs: number): Promise<void> {
    if (timeoutMs <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  private fetchFailed(error: unknown): void {
    if (isRetriableError(error)) {
      this.refreshAndBackOff();
      return;
    }
    this.failure = error instanceof Error ? error : new Error(String(error));
  }

  /** After an error: refresh metadata and send no fetch for retry.backoff.ms. */
  private refreshAndBackOff(): void {
    if (Date.now() < this.backoffUntilMs) return;
    this.backoffUntilMs = Date.now() + this.options.retryBackoffMs;
    this.refreshMetadata();
    void sleep(this.options.retryBackoffMs).then(() => this.notify());
  }

  /**
   * Looks up the leaders of the assigned partitions; fetching resumes when they are known. A
   * lookup within retry.backoff.ms of the last one waits, so a leaderless partition does not
   * turn into a stream of Metadata requests.
   */
  private refreshMetadata(): void {
    if (this.refreshing) return;
    this.refreshing = true;
    const waitMs = Math.max(0, this.lastRefreshAtMs + this.options.retryBackoffMs - Date.now());
    const topics = [...new Set([...this.partitions()].map((state) => state.topic))];
    void sleep(waitMs)
      .then(() => this.cluster.refreshMetadata(topics))
      .catch(() => undefined)
      .finally(() => {
        this.lastRefreshAtMs = Date.now();
        this.refreshing = false;
        this.notify();
      });
  }

  private async fetchFrom(leader: number, states: readonly PartitionState[]): Promise<void> {
    // The offsets are taken before the first await: a seek while the connection is looked up
    // may clear a position, and the answer to these offsets is then stale and dropped.
    const sent = new Map<PartitionState, bigint>();
    for (const state of states) sent.set(state, state.fetchPosition as bigint);
    const connection = await this.cluster.connectionTo(leader);
    const topics = new Map<string, PartitionState[]>();
    for (const state of states) {
      const entries = topics.get(state.topic);
      if (entries === undefined) topics.set(state.topic, [state]);
      else entries.push(state);
    }
    const { body } = await connection.send(ApiKey.Fetch, {
      replicaId: -1, maxWaitMs: this.options.fetchMaxWaitMs, minBytes: this.options.fetchMinBytes, maxBytes: this.options.fetchMaxBytes,
      isolationLevel: this.options.isolationLevel === 'read_committed' ? 1 : 0, sessionId: 0, sessionEpoch: -1,
      topics: [...topics].map(([topic, entries]) => ({
        topic,
        partitions: entries.map((state) => ({
          partition: state.partition, currentLeaderEpoch: -1, fetchOffset: sent.get(state) as bigint,
          lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: this.options.maxPartitionFetchBytes,
        })),
      })),
      forgottenTopicsData: [], rackId: '',
    }, { timeoutMs: this.options.requestTimeoutMs + this.options.fetchMaxWaitMs });
    throwIfError(body.errorCode, `fetch from broker ${leader}`);
    const byKey = new Map<string, PartitionState>();
    for (const state of states) byKey.set(`${state.topic}\u0000${state.partition}`, state);
    for (const topic of body.responses) {
      for (const partition of topic.partitions) {
        const state = byKey.get(`${topic.topic}\u0000${partition.partitionIndex}`);
        // A seek, pause or rebalance while the fetch was out makes its answer stale.
        if (state === undefined || !this.isCurrent(state) || state.fetchPosition !== sent.get(state) || state.bufferedResponses >= BUFFERED_RESPONSES_MAX) continue;
        this.accept(state, sent.get(state) as bigint, partition);
      }
    }
  }

  private accept(
    state: PartitionState,
    fetchOffset: bigint,
    partition: { partitionIndex: number; errorCode: number; records: Buffer | null; abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null },
  ): void {
    if (partition.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      this.outOfRange(state);
      return;
    }
    if (partition.errorCode !== ErrorCode.NONE) {
      const error = new KafkaProtocolError(partition.errorCode, `fetch ${state.topic}-${state.partition}`);
      if (error.retriable) {
        this.refreshAndBackOff();
        return;
      }
      throw error;
    }
    const { records, nextOffset } = scanFetch(state.topic, state.partition, fetchOffset, partition.records, partition.abortedTransactions);
    state.fetchPosition = nextOffset;
    if (records.count === 0) {
      // Only control records or skipped ones: the position moves past them at once.
      if (state.position === fetchOffset) state.position = nextOffset;
      return;
    }
    state.bufferedResponses += 1;
    this.chunks.push({ state, records, next: 0, nextOffset });
  }
}
