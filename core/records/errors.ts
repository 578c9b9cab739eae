// The one error type of the records module. Bytes that arrive from a client, a peer or the disk
// can be anything, so every parser here turns a bad length, a truncated varint or a codec
// failure into this error instead of a RangeError from deep inside Buffer or a native binding.
// Callers on the broker path catch it and answer CORRUPT_MESSAGE; nothing else should escape.

export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';

  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
  }
}
