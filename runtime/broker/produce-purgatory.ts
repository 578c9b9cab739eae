// Produce requests with acks=all wait here until the partition's high watermark passes their
// last offset, that is until every in-sync replica has their records. They are completed by
// the event that satisfies them (a high watermark advance), failed when this broker stops
// leading the partition, and timed out after the request's timeoutMs.
import { ErrorCode } from '../../core/protocol/errors.ts';

interface ProduceWaiter {
  /** The high watermark that commits the records: their last offset plus one. */
  requiredOffset: bigint;
  complete: (errorCode: number) => void;
  timer: NodeJS.Timeout;
}

export class ProducePurgatory {
  private readonly waiters = new Map<string, ProduceWaiter[]>();

  /** Resolves with NONE once committed, REQUEST_TIMED_OUT, or NOT_LEADER_OR_FOLLOWER. */
  wait(partitionKey: string, requiredOffset: bigint, timeoutMs: number): Promise<number> {
    return new Promise((resolve) => {
      let list = this.waiters.get(partitionKey);
      if (list === undefined) this.waiters.set(partitionKey, list = []);
      const waiter: ProduceWaiter = {
        requiredOffset,
        complete: resolve,
        timer: setTimeout(() => this.finish(partitionKey, waiter, ErrorCode.REQUEST_TIMED_OUT), Math.max(1, timeoutMs)),
      };
      list.push(waiter);
    });
  }

  /** The high watermark of a partition moved: completes every waiter it satisfies. */
  onHighWatermark(partitionKey: string, highWatermark: bigint): void {
    const list = this.waiters.get(partitionKey);
    if (list === undefined) return;
    for (const waiter of [...list]) if (waiter.requiredOffset <= highWatermark) this.finish(partitionKey, waiter, ErrorCode.NONE);
  }

  /** This broker stopped leading the partition (or it was deleted): the records may be lost. */
  failAll(partitionKey: string, errorCode: number): void {
    for (const waiter of [...(this.waiters.get(partitionKey) ?? [])]) this.finish(partitionKey, waiter, errorCode);
  }

  shutdown(): void {
    for (const key of [...this.waiters.keys()]) this.failAll(key, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }

  private finish(partitionKey: string, waiter: ProduceWaiter, errorCode: number): void {
    const list = this.waiters.get(partitionKey);
    const index = list?.indexOf(waiter) ?? -1;
    if (list === undefined || index < 0) return;
    list.splice(index, 1);
    if (list.length === 0) this.waiters.delete(partitionKey);
    clearTimeout(waiter.timer);
    waiter.complete(errorCode);
  }
}
