// The election state a voter must not forget: its current epoch, whom it voted for in that
// epoch, and the leader it knows for it. Raft's safety rests on a voter never voting twice in
// one epoch, so the state is durable before any answer that depends on it leaves the node.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

export interface ElectionState {
  /** The largest epoch this node has seen; elected epochs start at 1. */
  epoch: number;
  /** The candidate this node voted for in `epoch`, or -1. */
  votedFor: number;
  /** The leader of `epoch` when known, or -1. */
  leaderId: number;
}

export const INITIAL_ELECTION_STATE: Readonly<ElectionState> = Object.freeze({ epoch: 0, votedFor: -1, leaderId: -1 });

export interface QuorumStateStore {
  /** The last state written, or null on a fresh node. */
  read(): ElectionState | null;
  /** Returns once the state is durable. */
  write(state: ElectionState): void;
}

/** For simulation: the "disk" outlives a simulated crash because the store object does. */
export class MemoryQuorumStateStore implements QuorumStateStore {
  private state: ElectionState | null = null;
  writes = 0;

  read(): ElectionState | null {
    return this.state === null ? null : { ...this.state };
  }

  write(state: ElectionState): void {
    this.state = { ...state };
    this.writes += 1;
  }
}

const fileSchema = z.object({
  version: z.literal(0),
  epoch: z.number().int().nonnegative(),
  votedFor: z.number().int().min(-1),
  leaderId: z.number().int().min(-1),
});

/**
 * `quorum-state` in the metadata log directory, JSON, replaced atomically: write a temporary
 * file, fsync it, rename it over the old one, fsync the directory. A crash leaves either the
 * old state or the new one, never a torn file.
 */
export class FileQuorumStateStore implements QuorumStateStore {
  readonly file: string;

  constructor(readonly directory: string) {
    fs.mkdirSync(directory, { recursive: true });
    this.file = path.join(directory, 'quorum-state');
  }

  read(): ElectionState | null {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    // A corrupt file means the disk lied about a completed rename; refusing to start is the
    // only safe answer, since guessing an epoch could let this node vote twice.
    const parsed = fileSchema.parse(JSON.parse(text));
    return { epoch: parsed.epoch, votedFor: parsed.votedFor, leaderId: parsed.leaderId };
  }

  write(state: ElectionState): void {
    const temporary = `${this.file}.tmp`;
    const text = JSON.stringify({ version: 0, epoch: state.epoch, votedFor: state.votedFor, leaderId: state.leaderId });
    const descriptor = fs.openSync(temporary, 'w');
    try {
      fs.writeSync(descriptor, text);
      fs.fsyncSync(descriptor);
    } finally {
      fs.closeSync(descriptor);
    }
    fs.renameSync(temporary, this.file);
    const directory = fs.openSync(this.directory, 'r');
    try {
      fs.fsyncSync(directory);
    } finally {
      fs.closeSync(directory);
    }
  }
}
