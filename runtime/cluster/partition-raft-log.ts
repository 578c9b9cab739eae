// The metadata log on disk: a state/log PartitionLog in `<dir>/__cluster_metadata-0/`, with the
// epoch cache rebuilt from the batch headers on open (the metadata log is small, and a scan of
// headers only is cheap). Every flush is an fsync: a voter acknowledges only durable offsets.
import * as path from 'node:path';
import { DEFAULT_LOG_CONFIG, type LogConfig } from '../../state/log/config.ts';
import { PartitionLog } from '../../state/log/partition-log.ts';
import { METADATA_PARTITION, METADATA_TOPIC } from './messages.ts';
import { EpochCache, forEachBatch, type EpochEndOffset, type RaftLog } from './raft-log.ts';

const SCAN_BYTES = 8 * 1024 * 1024;

export class PartitionRaftLog implements RaftLog {
  private readonly epochs = new EpochCache();

  private constructor(private readonly log: PartitionLog) {}

  static open(dataDirectory: string, log: (line: string) => void = () => {}): PartitionRaftLog {
    const config: LogConfig = { ...DEFAULT_LOG_CONFIG };
    const directory = path.join(dataDirectory, `${METADATA_TOPIC}-${METADATA_PARTITION}`);
    const partitionLog = PartitionLog.open(directory, config, { log });
    const raftLog = new PartitionRaftLog(partitionLog);
    raftLog.rebuildEpochCache();
    return raftLog;
  }

  private rebuildEpochCache(): void {
    let offset = this.log.logStartOffset;
    while (offset < this.log.logEndOffset) {
      const result = this.log.read(offset, SCAN_BYTES);
      if (result.status !== 'ok' || result.records.length === 0) throw new Error(`metadata log: cannot read at ${offset}`);
      forEachBatch(result.records, (_position, _size, baseOffset, _lastOffset, epoch) => this.epochs.assign(epoch, baseOffset));
      offset = result.nextOffset;
    }
  }

  get endOffset(): bigint {
    return this.log.logEndOffset;
  }

  get lastEpoch(): number {
    return this.epochs.lastEpoch;
  }

  appendAsLeader(batches: Buffer, epoch: number): { baseOffset: bigint; lastOffset: bigint } {
    const result = this.log.append(batches, { leaderEpoch: epoch });
    this.epochs.assign(epoch, result.baseOffset);
    return { baseOffset: result.baseOffset, lastOffset: result.lastOffset };
  }

  appendAsFollower(batches: Buffer): void {
    const expected = this.log.logEndOffset;
    const first: bigint[] = [];
    forEachBatch(batches, (_position, _size, baseOffset) => first.push(baseOffset));
    if (first[0] !== expected) throw new Error(`metadata log: batch at ${first[0]} does not continue the log at ${expected}`);
    this.log.appendWithOffsets(batches);
    forEachBatch(batches, (_position, _size, baseOffset, _lastOffset, epoch) => this.epochs.assign(epoch, baseOffset));
  }

  read(offset: bigint, maxBytes: number, maxOffset: bigint): Buffer {
    const result = this.log.read(offset, maxBytes, { maxOffset });
    return result.status === 'ok' ? result.records : Buffer.alloc(0);
  }

  truncateTo(offset: bigint): void {
    this.log.truncateTo(offset);
    this.epochs.truncateFrom(this.log.logEndOffset);
    this.log.flush();
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset {
    return this.epochs.endOffsetForEpoch(epoch, this.log.logEndOffset);
  }

  flush(): void {
    this.log.flush();
  }

  close(): void {
    this.log.close();
  }
}
