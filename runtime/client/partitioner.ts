// Choosing a partition for a record. Keyed records use the murmur2 hash of the Java client
// (seed 0x9747b28c, m 0x5bd1e995, r 24), made positive by masking the sign bit and taken modulo
// the partition count, so a key lands on the same partition whichever Kafka client wrote it.
// Records without a key stick to one partition until its batch is sent (KIP-480), which makes
// fuller batches than spreading every record.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Java's Utils.murmur2: a signed 32-bit hash of the bytes. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let index = 0; index < whole; index += 4) {
    let k = (data[index] as number) | ((data[index + 1] as number) << 8) | ((data[index + 2] as number) << 16) | ((data[index + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The tail bytes fall through from three to one, as in the Java switch without breaks.
  const tail = length & 3;
  if (tail === 3) h ^= (data[whole + 2] as number) << 16;
  if (tail >= 2) h ^= (data[whole + 1] as number) << 8;
  if (tail >= 1) {
    h ^= data[whole] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition the Java client's default partitioner picks for a key. */
export function partitionForKey(key: Buffer, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) throw new RangeError(`partition count ${partitionCount} is not positive`);
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}

/** Sticky choice for records without a key: one partition per topic until told to move on. */
export class StickyPartitions {
  private readonly current = new Map<string, number>();

  partition(topic: string, partitionCount: number): number {
    const chosen = this.current.get(topic);
    if (chosen !== undefined && chosen < partitionCount) return chosen;
    return this.next(topic, partitionCount, chosen);
  }

  /** Called when the sticky partition's batch is closed; picks a different partition. */
  next(topic: string, partitionCount: number, previous = this.current.get(topic)): number {
    let chosen = Math.floor(Math.random() * partitionCount);
    if (partitionCount > 1 && chosen === previous) chosen = (chosen + 1) % partitionCount;
    this.current.set(topic, chosen);
    return chosen;
  }

  isCurrent(topic: string, partition: number): boolean {
    return this.current.get(topic) === partition;
  }
}
