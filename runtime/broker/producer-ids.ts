// Producer ids must never repeat, across restarts and across the brokers of a cluster, or a new
// producer would inherit an old one's sequence numbers (and its batches be taken for
// duplicates). Ids are handed out from blocks.
//
// On a single node the end of the current block is written to disk before any id in it is
// used, so a crash skips the rest of a block at worst. In a cluster the active controller hands
// out blocks (AllocateProducerIds, KIP-730) and commits each to the metadata log before the
// broker gets it, so two brokers, or a broker before and after a restart, never share an id.
// The next block is fetched when the current one runs low; while none is at hand `next`
// answers null and the caller answers COORDINATOR_LOAD_IN_PROGRESS, which clients retry.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import type { ClusterView } from './cluster-view.ts';

const BLOCK_SIZE = 1000n;
/** A cluster broker asks for the next block when fewer ids than this remain in the current one. */
const PREFETCH_REMAINING = 100n;

interface Block {
  nextId: bigint;
  /** One past the block's last id. */
  end: bigint;
}

export class ProducerIdAllocator {
  private current: Block;
  private following: Block | null = null;
  private fetching = false;
  private readonly filePath: string;

  constructor(dataDirectory: string, private readonly cluster: ClusterView | null = null, private readonly logger: Logger | null = null) {
    this.filePath = path.join(dataDirectory, 'runnel-producer-ids');
    if (cluster !== null) {
      // Ids from before a restart are not reused: the controller's next block starts past them.
      this.current = { nextId: 0n, end: 0n };
      return;
    }
    const saved = existsSync(this.filePath) ? BigInt(readFileSync(this.filePath, 'utf8').trim()) : 0n;
    this.current = { nextId: saved, end: saved };
  }

  /** The next unused producer id, or null while a cluster broker waits for its next block. */
  next(): bigint | null {
    if (this.cluster === null) return this.nextLocal();
    if (this.current.nextId >= this.current.end && this.following !== null) {
      this.current = this.following;
      this.following = null;
    }
    if (this.current.end - this.current.nextId < PREFETCH_REMAINING) this.fetchBlock();
    if (this.current.nextId >= this.current.end) return null;
    const id = this.current.nextId;
    this.current.nextId += 1n;
    return id;
  }

  private nextLocal(): bigint {
    if (this.current.nextId >= this.current.end) {
      this.current.end = this.current.nextId + BLOCK_SIZE;
      this.save(this.current.end);
    }
    const id = this.current.nextId;
    this.current.nextId += 1n;
    return id;
  }

  private fetchBlock(): void {
    const cluster = this.cluster;
    if (cluster === null || this.fetching || this.following !== null) return;
    this.fetching = true;
    cluster.allocateProducerIds().then((block) => {
      if (block.errorCode !== ErrorCode.NONE || block.length <= 0 || block.start < 0n) {
        this.logger?.warn('no producer id block from the controller', { errorCode: block.errorCode });
        return;
      }
      this.following = { nextId: block.start, end: block.start + BigInt(block.length) };
      this.logger?.info('producer id block', { start: String(block.start), length: block.length });
    }, (error: unknown) => {
      this.logger?.warn('no producer id block from the controller', { error: (error as Error).message });
    }).finally(() => { this.fetching = false; });
  }

  private save(value: bigint): void {
    const temporary = `${this.filePath}.tmp`;
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, value.toString());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.filePath);
  }
}
