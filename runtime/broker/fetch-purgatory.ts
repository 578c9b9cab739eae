// Fetches that asked for more bytes than the log holds wait here until appends bring enough
// (fetch.min.bytes) or their max wait passes. Waiters are indexed by partition, and an append
// only adds its byte count to the waiters of that partition, so waking them costs no log reads.

export interface FetchWaiter {
  /** Bytes still missing before the fetch may be answered. */
  bytesMissing: number;
  partitionKeys: string[];
  complete: () => void;
  timer: NodeJS.Timeout | null;
  done: boolean;
}

export class FetchPurgatory {
  private readonly waiters = new Map<string, Set<FetchWaiter>>();
  private waitingCount = 0;

  /** Parks a fetch; `complete` runs once, on enough bytes, the deadline, or shutdown. */
  park(partitionKeys: string[], bytesMissing: number, maxWaitMs: number, complete: () => void): void {
    const waiter: FetchWaiter = { bytesMissing, partitionKeys, complete, timer: null, done: false };
    for (const key of partitionKeys) {
      let set = this.waiters.get(key);
      if (set === undefined) this.waiters.set(key, set = new Set());
      set.add(waiter);
    }
    this.waitingCount += 1;
    waiter.timer = setTimeout(() => this.finish(waiter), maxWaitMs);
  }

  /** Called by the one code path that appends to a partition. */
  onAppend(partitionKey: string, bytes: number): void {
    const set = this.waiters.get(partitionKey);
    if (set === undefined) return;
    for (const waiter of [...set]) {
      waiter.bytesMissing -= bytes;
      if (waiter.bytesMissing <= 0) this.finish(waiter);
    }
  }

  /** Wakes every waiter of a partition, e.g. when it is deleted or its leader changes. */
  wakeAll(partitionKey: string): void {
    const set = this.waiters.get(partitionKey);
    if (set !== undefined) for (const waiter of [...set]) this.finish(waiter);
  }

  shutdown(): void {
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) this.finish(waiter);
  }

  get size(): number {
    return this.waitingCount;
  }

  private finish(waiter: FetchWaiter): void {
    if (waiter.done) return;
    waiter.done = true;
    this.waitingCount -= 1;
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    for (const key of waiter.partitionKeys) {
      const set = this.waiters.get(key);
      set?.delete(waiter);
      if (set !== undefined && set.size === 0) this.waiters.delete(key);
    }
    waiter.complete();
  }
}
