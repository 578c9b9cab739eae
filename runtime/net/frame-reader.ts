// Splits a TCP byte stream into Kafka frames: a 4-byte big-endian size, then that many bytes.
// Chunks are kept in a list and joined only when a frame completes, so a large produce request
// arriving in many small reads is copied once.

export class FrameTooLargeError extends Error {
  constructor(readonly sizeBytes: number, readonly limitBytes: number) {
    super(`frame of ${sizeBytes} bytes exceeds the limit of ${limitBytes} bytes`);
  }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Size of the frame being assembled, or -1 while its size prefix is incomplete. */
  private expectedBytes = -1;

  constructor(private readonly frameBytesMax: number) {}

  /** Feeds bytes; returns the frames they complete (without size prefixes). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.expectedBytes < 0) {
        if (this.bufferedBytes < 4) break;
        const size = this.take(4).readInt32BE(0);
        if (size < 0 || size > this.frameBytesMax) throw new FrameTooLargeError(size, this.frameBytesMax);
        this.expectedBytes = size;
      }
      if (this.bufferedBytes < this.expectedBytes) break;
      frames.push(this.take(this.expectedBytes));
      this.expectedBytes = -1;
    }
    return frames;
  }

  /** Bytes held for an incomplete frame; a peer that closes with some left sent a torn request. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  private take(count: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= count) {
      const result = first.subarray(0, count);
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      this.bufferedBytes -= count;
      return result;
    }
    const result = Buffer.allocUnsafe(count);
    let written = 0;
    while (written < count) {
      const chunk = this.chunks[0]!;
      const used = Math.min(chunk.length, count - written);
      chunk.copy(result, written, 0, used);
      written += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.bufferedBytes -= count;
    return result;
  }
}
