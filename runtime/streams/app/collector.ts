// The producer side of the runtime: sink records and changelog records from every task are
// gathered while a batch of input is processed and handed to the producer in one send per topic
// afterwards, which keeps per-record promise overhead off the hot path. It remembers the
// highest acknowledged offset of each changelog partition, which the checkpoint needs, and the
// first delivery failure, which the poll loop raises (or logs, with log-and-continue).
//
// The producer takes any Uint8Array or string and an OutgoingRecord has the shape of a
// ProducerMessage, so a sink record is queued as it is: no copy of its bytes and no new object
// per record. A string key or value (a sink whose serde has serializeText) is encoded by the
// producer straight into its batch, so such records carry no byte arrays of their own at all.
//
// Output records must die young. The collector lives for the whole run, so it sits in the old
// generation, and an old object's slot that still points at a list of records keeps that list
// and every record in it alive through the next scavenges, even after the collector has let go
// of it in another way (a Map cleared makes a new table but leaves the old one, garbage in old
// space, pointing at the lists). Each topic therefore keeps one holder for good, and dispatch
// overwrites the holder's slot with a fresh list: no old slot is left pointing at sent records.
import type { ProducerMessage, RecordMetadata } from '../../client/index.ts';
import type { Producer } from '../../client/index.ts';
import { approximateBytes } from '../../client/producer.ts';
import type { OutgoingRecord } from '../task.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';

/** A changelog record for the producer; a class for the reason task.ts gives for SinkRecord (no pretenured literal site). */
class ChangelogMessage implements ProducerMessage {
  constructor(readonly key: Uint8Array, readonly value: Uint8Array | null, readonly partition: number, readonly timestamp: number) {}
}

interface Holder {
  messages: ProducerMessage[];
  /** Bytes of `messages` as the producer's buffer.memory counts them (approximateBytes). */
  bytes: number;
}

export class ProducerCollector {
  /**
   * Messages waiting for dispatch(), by topic, in the order the tasks produced them, and what
   * they hold of in-flight bytes (counted as they are queued); holders are never removed.
   */
  private readonly waiting = new Map<string, Holder>();
  /** Messages in `waiting`. */
  private waitingCount = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightBytes = 0;
  /** Next offset after the last acknowledged changelog record, by `topic\0partition`. */
  private readonly changelogEnds = new Map<string, bigint>();
  private readonly changelogTopics = new Set<string>();
  private failure: Error | null = null;
  /** Records were handed to the producer since the last flush: a commit has work to wait for. */
  private sentSinceFlush = false;
  /** The holder of the topic queued to last. */
  private lastTopic = '';
  private lastHolder: Holder | null = null;

  constructor(
    private readonly producer: Producer,
    private readonly onError: 'log-and-continue' | 'fail',
    private readonly log: (message: string) => void,
  ) {}

  registerChangelog(topic: string): void {
    this.changelogTopics.add(topic);
  }

  send(record: OutgoingRecord): void {
    this.queue(record.topic, record);
  }

  sendChangelog(topic: string, partition: number, key: Uint8Array, value: Uint8Array | null, timestampMs: number): void {
    this.queue(topic, new ChangelogMessage(key, value, partition, timestampMs));
  }

  private queue(topic: string, message: ProducerMessage): void {
    // Consecutive records mostly go to one topic, so the last holder saves a map lookup each.
    let holder = this.lastHolder;
    if (topic !== this.lastTopic || holder === null) {
      holder = this.waiting.get(topic) ?? null;
      if (holder === null) this.waiting.set(topic, (holder = { messages: [], bytes: 0 }));
      this.lastTopic = topic;
      this.lastHolder = holder;
    }
    // An indexed store, not push(): the lists start empty with small-integer elements and take
    // objects, and TurboFan does not inline a push whose receiver may need that transition, so
    // push() was a builtin call per record (1.4 % of the stateless app's instructions).
    const messages = holder.messages;
    messages[messages.length] = message;
    holder.bytes += approximateBytes(message);
    this.waitingCount++;
  }

  hasWaiting(): boolean {
    return this.waitingCount > 0;
  }

  /** Drops what was not handed to the producer yet (the transaction it belonged to is aborted). */
  discardWaiting(): void {
    this.clearWaiting();
  }

  /**
   * After the tasks were closed dirty (the transaction aborted, or the records will be processed
   * again from the committed offsets): waits until every send handed over has settled and forgets
   * their failures, which belonged to the work thrown away, so the next dispatch does not raise them.
   */
  async settleDiscarded(): Promise<void> {
    this.clearWaiting();
    await Promise.allSettled([...this.inFlight]);
    this.failure = null;
    this.sentSinceFlush = false;
  }

  private clearWaiting(): void {
    for (const holder of this.waiting.values()) {
      if (holder.messages.length > 0) holder.messages = [];
      holder.bytes = 0;
    }
    this.waitingCount = 0;
  }

  /** Hands every waiting message to the producer; waits only when too much is unacknowledged. */
  async dispatch(): Promise<void> {
    for (const [topic, holder] of this.waiting) {
      const messages = holder.messages;
      if (messages.length === 0) continue;
      holder.messages = [];
      const bytes = holder.bytes;
      holder.bytes = 0;
      this.sentSinceFlush = true;
      this.inFlightBytes += bytes;
      // The callbacks keep the count, not the messages: the producer has copied their bytes into
      // batches by the time send() returns, and holding the messages until the acknowledgement
      // kept every output record of the last few MB alive into the old generation.
      const count = messages.length;
      // Only changelog offsets are looked at (for checkpoints): output records are sent without
      // a RecordMetadata each.
      const acknowledged = this.changelogTopics.has(topic)
        ? this.producer.send({ topic, messages }).then((results) => this.noteChangelogEnds(topic, results))
        : this.producer.sendAcknowledged({ topic, messages });
      const sent: Promise<void> = acknowledged.catch((error: unknown) => this.noteFailure(topic, count, error)).finally(() => {
        this.inFlightBytes -= bytes;
        this.inFlight.delete(sent);
      });
      this.inFlight.add(sent);
    }
    this.waitingCount = 0;
    if (this.inFlightBytes > STREAMS_APP_LIMITS.inFlightOutputBytesMax) await this.flush();
    this.raiseFailure();
  }

  /** Sends everything and waits for every acknowledgement; the first step of a commit. */
  async flush(): Promise<void> {
    if (this.waitingCount > 0) await this.dispatch();
    this.sentSinceFlush = false;
    await this.producer.flush();
    await Promise.all([...this.inFlight]);
    this.raiseFailure();
  }

  /** Nothing waits for dispatch and nothing was sent since the last flush. */
  idle(): boolean {
    return this.waitingCount === 0 && !this.sentSinceFlush;
  }

  /**
   * Remembers the acknowledged ends of a changelog send. Offsets grow within a partition, and
   * a task's changes to one partition sit next to each other, so only the last result of each
   * run of one partition is looked at, not one offset per record.
   */
  private noteChangelogEnds(topic: string, results: readonly RecordMetadata[]): void {
    for (let index = 0; index < results.length; index++) {
      const result = results[index] as RecordMetadata;
      const following = results[index + 1];
      if (following !== undefined && following.partition === result.partition) continue;
      const id = `${topic}\u0000${result.partition}`;
      const next = result.offset + 1n;
      if (next > (this.changelogEnds.get(id) ?? -1n)) this.changelogEnds.set(id, next);
    }
  }

  /** Acknowledged end offset of a changelog partition, if this instance wrote to it. */
  changelogEnd(topic: string, partition: number): bigint | undefined {
    return this.changelogEnds.get(`${topic}\u0000${partition}`);
  }

  private noteFailure(topic: string, count: number, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    // Changelog writes are never skipped: a store whose changelog misses a change restores wrong.
    if (this.onError === 'log-and-continue' && !this.changelogTopics.has(topic)) {
      this.log(`production of ${count} records to ${topic} failed and was skipped: ${reason}`);
      return;
    }
    this.failure ??= error instanceof Error ? error : new Error(reason);
  }

  private raiseFailure(): void {
    if (this.failure !== null) throw new Error(`sending records failed: ${this.failure.message}`, { cause: this.failure });
  }
}
