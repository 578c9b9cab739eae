// The quorum's durable pieces: the election state file and the metadata log on disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../../core/records/batch.ts';
import { PartitionRaftLog } from '../../../runtime/cluster/partition-raft-log.ts';
import { FileQuorumStateStore } from '../../../runtime/cluster/quorum-state.ts';
import { EpochCache, MemoryRaftLog, type RaftLog } from '../../../runtime/cluster/raft-log.ts';

const directories: string[] = [];
function temporaryDirectory(): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-quorum-storage-'));
  directories.push(directory);
  return directory;
}
afterEach(() => {
  for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
});

function batch(values: string[]): Buffer {
  return encodeBatch({ records: values.map((value) => ({ value })), baseTimestamp: 1 });
}

describe('FileQuorumStateStore', () => {
  it('reads back the last state written, from a fresh store object', () => {
    const directory = temporaryDirectory();
    expect(new FileQuorumStateStore(directory).read()).toBeNull();
    const store = new FileQuorumStateStore(directory);
    store.write({ epoch: 3, votedFor: 2, leaderId: -1 });
    store.write({ epoch: 3, votedFor: 2, leaderId: 2 });
    expect(new FileQuorumStateStore(directory).read()).toEqual({ epoch: 3, votedFor: 2, leaderId: 2 });
    expect(fs.readdirSync(directory)).toEqual(['quorum-state']);
  });

  it('ignores a temporary file left by a crash mid-write and refuses a corrupt state file', () => {
    const directory = temporaryDirectory();
    const store = new FileQuorumStateStore(directory);
    store.write({ epoch: 7, votedFor: 1, leaderId: 1 });
    fs.writeFileSync(path.join(directory, 'quorum-state.tmp'), '{"version":0,"epo');
    expect(new FileQuorumStateStore(directory).read()).toEqual({ epoch: 7, votedFor: 1, leaderId: 1 });
    fs.writeFileSync(path.join(directory, 'quorum-state'), '{"version":0,"epoch":-1,"votedFor":1,"leaderId":1}');
    expect(() => new FileQuorumStateStore(directory).read()).toThrow();
  });
});

describe('EpochCache', () => {
  it('answers the end of the largest epoch at or below the one asked', () => {
    const cache = new EpochCache();
    cache.assign(1, 0n);
    cache.assign(1, 5n);
    cache.assign(3, 10n);
    cache.assign(4, 12n);
    expect(cache.endOffsetForEpoch(1, 20n)).toEqual({ epoch: 1, endOffset: 10n });
    expect(cache.endOffsetForEpoch(2, 20n)).toEqual({ epoch: 1, endOffset: 10n });
    expect(cache.endOffsetForEpoch(4, 20n)).toEqual({ epoch: 4, endOffset: 20n });
    expect(cache.endOffsetForEpoch(0, 20n)).toEqual({ epoch: 0, endOffset: 0n });
    cache.truncateFrom(11n);
    expect(cache.lastEpoch).toBe(3);
    expect(() => cache.assign(2, 11n)).toThrow(/epoch 2/);
  });
});

describe.each([
  ['PartitionRaftLog', (directory: string): RaftLog => PartitionRaftLog.open(directory)],
  ['MemoryRaftLog', (_directory: string): RaftLog => new MemoryRaftLog()],
])('%s', (_name, open) => {
  it('stamps epochs, reads below a bound, truncates whole batches and keeps its epoch cache right', () => {
    const log = open(temporaryDirectory());
    expect(log.appendAsLeader(batch(['a', 'b']), 1)).toEqual({ baseOffset: 0n, lastOffset: 1n });
    log.appendAsLeader(batch(['c']), 2);
    log.appendAsLeader(batch(['d', 'e', 'f']), 2);
    log.flush();
    expect(log.endOffset).toBe(6n);
    expect(log.lastEpoch).toBe(2);
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 2n });
    const copy = open(temporaryDirectory());
    copy.appendAsFollower(log.read(0n, 1 << 20, 6n));
    expect(copy.endOffset).toBe(6n);
    expect(copy.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 2n });
    // Reading below offset 3 stops before the batch 3-5; truncating at 4 drops that whole batch.
    expect(copy.read(0n, 1 << 20, 3n).equals(log.read(0n, 1 << 20, 3n))).toBe(true);
    copy.truncateTo(4n);
    expect(copy.endOffset).toBe(3n);
    copy.truncateTo(2n);
    expect(copy.lastEpoch).toBe(1);
    expect(() => copy.appendAsFollower(log.read(3n, 1 << 20, 6n))).toThrow(/does not continue/);
    log.close();
    copy.close();
  });
});

describe('PartitionRaftLog on reopen', () => {
  it('rebuilds its epoch cache from the batches on disk', () => {
    const directory = temporaryDirectory();
    const log = PartitionRaftLog.open(directory);
    log.appendAsLeader(batch(['a']), 1);
    log.appendAsLeader(batch(['b', 'c']), 4);
    log.close();
    const reopened = PartitionRaftLog.open(directory);
    expect(reopened.endOffset).toBe(3n);
    expect(reopened.lastEpoch).toBe(4);
    expect(reopened.endOffsetForEpoch(3)).toEqual({ epoch: 1, endOffset: 1n });
    reopened.close();
  });
});
