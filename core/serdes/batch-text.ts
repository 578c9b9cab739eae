// The bytes of one record batch read once as text, for string and JSON serdes reading the batch's
// keys and values. Native UTF-8 decoding of one short value costs about a thousand instructions,
// most of it the call into Buffer's decoder; decoding the whole batch once as Latin-1 (one
// character per byte, so a byte offset is a character offset) lets a field whose bytes are all
// ASCII, where Latin-1 and UTF-8 agree, be taken as a slice of that string. Whether a field is
// ASCII is checked four bytes at a time, through an int32 view of the batch.
//
// A slice of 13 characters or more is a view of the batch string in V8 (a sliced string): it
// keeps the whole batch's text alive as long as it lives. Callers decide whether that is safe
// (the streams runtime slices only for sub-topologies without state stores, where a value lives
// as long as the record's trip through the processors unless user code keeps it).
import { Buffer } from 'node:buffer';

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

const HIGH_BITS = 0x80808080 | 0;

export class BatchText {
  /** The batch's bytes as Latin-1, made on first use. */
  private text: string | null = null;
  /**
   * The batch's bytes as int32 words aligned in the underlying buffer, made on first use (a
   * cursor makes a BatchText per batch, and a task with stores never asks); word w covers
   * bytes[4w - misalignment, 4w - misalignment + 4). Word 0 may begin before the batch; its
   * bytes there are never read (a field's first whole word starts at or after the field).
   */
  private wordView: Int32Array | null = null;
  private readonly misalignment: number;

  constructor(readonly bytes: Uint8Array) {
    this.misalignment = bytes.byteOffset & 3;
  }

  private get words(): Int32Array {
    const bytes = this.bytes;
    return (this.wordView ??= new Int32Array(bytes.buffer, bytes.byteOffset - this.misalignment, (bytes.byteLength + this.misalignment) >> 2));
  }

  /** The string of bytes[start, end) when every one of them is ASCII, else null. */
  ascii(start: number, end: number): string | null {
    const bytes = this.bytes;
    const misalignment = this.misalignment;
    // Bytes before the first whole word and after the last are checked one by one.
    const firstWord = (start + misalignment + 3) >> 2;
    const endWord = (end + misalignment) >> 2;
    if (endWord < firstWord) {
      for (let index = start; index < end; index++) if ((bytes[index] as number) > 0x7f) return null;
    } else {
      for (let index = start; index < (firstWord << 2) - misalignment; index++) if ((bytes[index] as number) > 0x7f) return null;
      for (let index = (endWord << 2) - misalignment; index < end; index++) if ((bytes[index] as number) > 0x7f) return null;
      const words = this.words;
      let high = 0;
      for (let word = firstWord; word < endWord; word++) high |= words[word] as number;
      if ((high & HIGH_BITS) !== 0) return null;
    }
    return (this.text ??= latin1Slice.call(bytes, 0, bytes.byteLength)).slice(start, end);
  }
}
