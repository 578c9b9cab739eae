// The error table: codes and retriability that clients depend on, checked against the
// values the Kafka protocol guide lists.
import { describe, expect, it } from 'vitest';
import { ErrorCode, KAFKA_ERRORS, errorByCode, errorName, isRetriable } from '../../../core/protocol/index.ts';

describe('Kafka error codes', () => {
  it('has the codes clients and handlers use', () => {
    expect(ErrorCode.UNKNOWN_SERVER_ERROR).toBe(-1);
    expect(ErrorCode.NONE).toBe(0);
    expect(ErrorCode.OFFSET_OUT_OF_RANGE).toBe(1);
    expect(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).toBe(3);
    expect(ErrorCode.NOT_LEADER_OR_FOLLOWER).toBe(6);
    expect(ErrorCode.MESSAGE_TOO_LARGE).toBe(10);
    expect(ErrorCode.NOT_COORDINATOR).toBe(16);
    expect(ErrorCode.REBALANCE_IN_PROGRESS).toBe(27);
    expect(ErrorCode.UNSUPPORTED_VERSION).toBe(35);
    expect(ErrorCode.TOPIC_ALREADY_EXISTS).toBe(36);
    expect(ErrorCode.INVALID_PRODUCER_EPOCH).toBe(47);
    expect(ErrorCode.CONCURRENT_TRANSACTIONS).toBe(51);
    expect(ErrorCode.MEMBER_ID_REQUIRED).toBe(79);
    expect(ErrorCode.PRODUCER_FENCED).toBe(90);
    expect(ErrorCode.UNKNOWN_TOPIC_ID).toBe(100);
    expect(ErrorCode.TRANSACTION_ABORTABLE).toBe(120);
  });

  it('lists every code from -1 to the highest exactly once, in order', () => {
    const codes = KAFKA_ERRORS.map((info) => info.code);
    expect(codes).toEqual(Array.from({ length: codes.length }, (_, index) => index - 1));
    expect(new Set(KAFKA_ERRORS.map((info) => info.name)).size).toBe(KAFKA_ERRORS.length);
    for (const info of KAFKA_ERRORS) expect(info.message.length, info.name).toBeGreaterThan(5);
  });

  it('marks transient conditions retriable and final ones not', () => {
    for (const name of ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER', 'REQUEST_TIMED_OUT', 'NOT_COORDINATOR', 'COORDINATOR_LOAD_IN_PROGRESS', 'NOT_ENOUGH_REPLICAS', 'CONCURRENT_TRANSACTIONS', 'UNSTABLE_OFFSET_COMMIT'] as const) {
      expect(isRetriable(ErrorCode[name]), name).toBe(true);
    }
    for (const name of ['NONE', 'OFFSET_OUT_OF_RANGE', 'MESSAGE_TOO_LARGE', 'UNSUPPORTED_VERSION', 'TOPIC_ALREADY_EXISTS', 'PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'REBALANCE_IN_PROGRESS'] as const) {
      expect(isRetriable(ErrorCode[name]), name).toBe(false);
    }
  });

  it('looks codes up and names unknown ones', () => {
    expect(errorByCode(3)).toMatchObject({ name: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true });
    expect(errorByCode(9999)).toBeUndefined();
    expect(errorName(35)).toBe('UNSUPPORTED_VERSION');
    expect(errorName(9999)).toBe('UNKNOWN_ERROR_9999');
    expect(isRetriable(9999)).toBe(false);
  });
});
