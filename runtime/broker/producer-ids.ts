// Producer ids must never repeat, across restarts too, or a new producer would inherit an old
// one's sequence numbers. Ids are handed out from blocks; the end of the current block is
// written to disk before any id in it is used, so a crash skips the rest of a block at worst.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

const BLOCK_SIZE = 1000n;

export class ProducerIdAllocator {
  private nextId: bigint;
  private blockEnd: bigint;
  private readonly filePath: string;

  constructor(dataDirectory: string) {
    this.filePath = path.join(dataDirectory, 'runnel-producer-ids');
    const saved = existsSync(this.filePath) ? BigInt(readFileSync(this.filePath, 'utf8').trim()) : 0n;
    this.nextId = saved;
    this.blockEnd = saved;
  }

  next(): bigint {
    if (this.nextId >= this.blockEnd) {
      this.blockEnd = this.nextId + BLOCK_SIZE;
      this.save(this.blockEnd);
    }
    const id = this.nextId;
    this.nextId += 1n;
    return id;
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
