// Choosing a partition for a record. Keyed records use the murmur2 hash of the Java client
// (seed 0x9747b28c, m 0x5bd1e995, r 24), made positive by masking the sign bit and taken modulo
// the partition count, so a key lands on the same partition whichever Kafka client wrote it.
// Records without a key stick to one partition until its batch is sent (KIP-480), which makes
// fuller batches than spreading every record.

// The hash itself lives in the pure core (core/partitioner.ts), shared with the streams engine
// and its test driver, so every part of Runnel places a key on the same partition.
export { murmur2, partitionForKey } from '../../core/partitioner.ts';

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
