import { describe, expect, it } from 'vitest';
import {
  BATCH_ERROR_CODES,
  encodeBatch,
  encodeControlBatch,
  validateBatch,
  type BatchVerdict,
  type ValidateOptions,
} from '../../../core/records/batch.ts';
import { CompressionCodec } from '../../../core/records/compression.ts';
import { BATCH_OFFSETS, rewriteBatchCrc } from '../../../core/records/header.ts';
import { writeVarint } from '../../../core/records/varint.ts';

const OPTIONS: ValidateOptions = { maxMessageBytes: 1024 * 1024 };

function validate(batch: Buffer, options: ValidateOptions = OPTIONS): BatchVerdict {
  return validateBatch(batch, 0, batch.length, options);
}

function errorOf(verdict: BatchVerdict): string {
  return verdict.ok ? 'ok' : verdict.errorName;
}

/** Changes a header field covered by the CRC and fixes the CRC, so only the field is wrong. */
function patched(batch: Buffer, change: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(batch);
  change(copy);
  rewriteBatchCrc(copy, 0, copy.length);
  return copy;
}

const keyed = encodeBatch({ records: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }, { key: 'c', value: null }] });

describe('validateBatch', () => {
  it('accepts a well-formed batch of every codec and returns its header', () => {
    for (const codec of Object.values(CompressionCodec)) {
      const batch = encodeBatch({ records: [{ key: 'k', value: 'v' }, { value: 'w' }], compression: codec, baseOffset: 9n });
      const verdict = validate(batch, { ...OPTIONS, decodeRecords: true });
      expect(verdict.ok).toBe(true);
      if (verdict.ok) expect(verdict.header.baseOffset).toBe(9n);
    }
  });

  it('validates a batch in the middle of a request buffer', () => {
    const buffer = Buffer.concat([keyed, keyed]);
    expect(validateBatch(buffer, keyed.length, keyed.length, OPTIONS).ok).toBe(true);
  });

  it('rejects every truncation, including a size that runs past the buffer', () => {
    for (let length = 0; length < keyed.length; length++) {
      const truncated = keyed.subarray(0, length);
      expect(errorOf(validateBatch(truncated, 0, length, OPTIONS)), `length ${length}`).toBe('CORRUPT_MESSAGE');
      expect(errorOf(validateBatch(truncated, 0, keyed.length, OPTIONS)), `length ${length}`).toBe('CORRUPT_MESSAGE');
    }
  });

  it('detects a flipped bit anywhere under the CRC', () => {
    for (let index = BATCH_OFFSETS.attributes; index < keyed.length; index++) {
      const copy = Buffer.from(keyed);
      copy.writeUInt8((copy[index] ?? 0) ^ 0x10, index);
      expect(errorOf(validate(copy)), `byte ${index}`).toBe('CORRUPT_MESSAGE');
    }
    const badCrc = Buffer.from(keyed);
    badCrc.writeUInt8((badCrc[BATCH_OFFSETS.crc] ?? 0) ^ 0x01, BATCH_OFFSETS.crc);
    expect(errorOf(validate(badCrc))).toBe('CORRUPT_MESSAGE');
  });

  it('leaves baseOffset and partitionLeaderEpoch outside the CRC', () => {
    const copy = Buffer.from(keyed);
    copy.writeBigInt64BE(1000n, BATCH_OFFSETS.baseOffset);
    copy.writeInt32BE(5, BATCH_OFFSETS.partitionLeaderEpoch);
    expect(validate(copy).ok).toBe(true);
  });

  it('answers MESSAGE_TOO_LARGE with Kafka code 10 above maxMessageBytes, accepts at the limit', () => {
    const verdict = validate(keyed, { maxMessageBytes: keyed.length - 1 });
    expect(verdict).toMatchObject({ ok: false, errorName: 'MESSAGE_TOO_LARGE', errorCode: 10 });
    expect(validate(keyed, { maxMessageBytes: keyed.length }).ok).toBe(true);
  });

  it('rejects a batchLength that disagrees with the given size', () => {
    const grown = Buffer.concat([keyed, Buffer.alloc(4)]);
    expect(errorOf(validateBatch(grown, 0, grown.length, OPTIONS))).toBe('CORRUPT_MESSAGE');
  });

  it('rejects magic other than 2 with INVALID_RECORD', () => {
    const old = Buffer.from(keyed);
    old.writeInt8(1, BATCH_OFFSETS.magic);
    expect(validate(old)).toMatchObject({ ok: false, errorName: 'INVALID_RECORD', errorCode: 87 });
  });

  it('rejects a lastOffsetDelta that does not match the record count', () => {
    const batch = patched(keyed, (copy) => copy.writeInt32BE(5, BATCH_OFFSETS.lastOffsetDelta));
    expect(errorOf(validate(batch))).toBe('INVALID_RECORD');
  });

  it('rejects a batch without records and a record count its bytes cannot hold', () => {
    const empty = patched(keyed, (copy) => {
      copy.writeInt32BE(0, BATCH_OFFSETS.recordCount);
      copy.writeInt32BE(-1, BATCH_OFFSETS.lastOffsetDelta);
    });
    expect(errorOf(validate(empty))).toBe('INVALID_RECORD');
    const inflated = patched(keyed, (copy) => {
      copy.writeInt32BE(1000, BATCH_OFFSETS.recordCount);
      copy.writeInt32BE(999, BATCH_OFFSETS.lastOffsetDelta);
    });
    expect(errorOf(validate(inflated))).toBe('CORRUPT_MESSAGE');
  });

  it('rejects compression codecs 5 to 7 with UNSUPPORTED_COMPRESSION_TYPE', () => {
    for (const codec of [5, 6, 7]) {
      const batch = patched(keyed, (copy) => copy.writeInt16BE(codec, BATCH_OFFSETS.attributes));
      expect(validate(batch)).toMatchObject({ ok: false, errorCode: BATCH_ERROR_CODES.UNSUPPORTED_COMPRESSION_TYPE });
    }
  });

  it('rejects control batches from clients but lets the broker write them', () => {
    const marker = encodeControlBatch({ type: 'commit', producerId: 1n, producerEpoch: 0, coordinatorEpoch: 0, timestamp: 0 });
    expect(errorOf(validate(marker))).toBe('INVALID_RECORD');
    expect(validate(marker, { ...OPTIONS, allowControl: true, decodeRecords: true }).ok).toBe(true);
  });

  it('requires keys on compacted topics, for every codec', () => {
    for (const codec of Object.values(CompressionCodec)) {
      const batch = encodeBatch({ records: [{ key: 'a', value: '1' }, { value: 'no key' }], compression: codec });
      expect(validate(batch).ok).toBe(true);
      expect(validate(batch, { ...OPTIONS, requireKeys: true })).toMatchObject({ ok: false, errorName: 'INVALID_RECORD' });
      const allKeyed = encodeBatch({ records: [{ key: 'a', value: null }], compression: codec });
      expect(validate(allKeyed, { ...OPTIONS, requireKeys: true }).ok).toBe(true);
    }
  });

  it('finds corrupt records and wrong offset deltas only when asked to decode', () => {
    // Record 1's offsetDelta sits after its length (1 byte), attributes (1) and timestampDelta (1).
    const firstRecordSize = 1 + (keyed[BATCH_OFFSETS.records] ?? 0) / 2;
    const offsetDeltaAt = BATCH_OFFSETS.records + firstRecordSize + 3;
    const reordered = patched(keyed, (copy) => writeVarint(copy, 2, offsetDeltaAt));
    expect(validate(reordered).ok).toBe(true);
    expect(errorOf(validate(reordered, { ...OPTIONS, decodeRecords: true }))).toBe('INVALID_RECORD');

    const compressed = encodeBatch({ records: [{ key: 'a', value: 'x'.repeat(100) }], compression: CompressionCodec.Gzip });
    const garbled = patched(compressed, (copy) => copy.fill(0x55, BATCH_OFFSETS.records + 10, BATCH_OFFSETS.records + 20));
    expect(validate(garbled).ok).toBe(true);
    expect(errorOf(validate(garbled, { ...OPTIONS, requireKeys: true }))).toBe('CORRUPT_MESSAGE');
  });
});
