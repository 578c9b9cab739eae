// The client's error classes. A broker answers with Kafka error codes (data); the client turns
// the ones it cannot handle itself into a KafkaProtocolError that carries the Kafka name, code
// and `retriable`, so callers can decide with `error.retriable` instead of matching strings.
import { errorByCode, errorName, isRetriable } from '../../core/protocol/index.ts';

/** The root of every error the client raises on purpose. */
export class KafkaClientError extends Error {
  /** True when the same operation may succeed if tried again later. */
  readonly retriable: boolean;

  constructor(message: string, retriable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.retriable = retriable;
  }
}

/** A Kafka error code returned by a broker, with its name from the protocol's error table. */
export class KafkaProtocolError extends KafkaClientError {
  readonly code: number;
  readonly kafkaName: string;

  constructor(code: number, context: string, detail?: string | null) {
    const info = errorByCode(code);
    const text = detail !== undefined && detail !== null && detail !== '' ? detail : (info?.message ?? 'unknown error code');
    super(`${context}: ${errorName(code)} (${code}): ${text}`, isRetriable(code));
    this.code = code;
    this.kafkaName = errorName(code);
  }
}

/** The connection broke, could not be opened or the broker sent bytes we cannot read. */
export class KafkaConnectionError extends KafkaClientError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, true, options);
  }
}

/** No response arrived within the request timeout. */
export class KafkaTimeoutError extends KafkaClientError {
  constructor(message: string) {
    super(message, true);
  }
}

/** The broker and this client share no version of an API the client needs. */
export class KafkaVersionError extends KafkaClientError {
  constructor(message: string) {
    super(message, false);
  }
}

/** Options that fail validation; the message names the option and what is wrong. */
export class KafkaConfigError extends KafkaClientError {
  constructor(message: string) {
    super(message, false);
  }
}

/** The operation needs a client that is still open (or a consumer that is subscribed). */
export class KafkaStateError extends KafkaClientError {
  constructor(message: string) {
    super(message, false);
  }
}

/** Throws a KafkaProtocolError for any code but NONE (0). */
export function throwIfError(code: number, context: string, detail?: string | null): void {
  if (code !== 0) throw new KafkaProtocolError(code, context, detail);
}

/** True for errors worth another attempt (after a metadata refresh and a backoff). */
export function isRetriableError(error: unknown): boolean {
  return error instanceof KafkaClientError && error.retriable;
}

/**
 * The producer can no longer be used: a newer producer with the same transactional id fenced
 * it, or the broker refused it for good (authorization, a broken producer id mapping). Every
 * later call fails with this error; close the producer and, if this instance should still
 * run, create a new one, which fences whatever else holds the transactional id.
 */
export class KafkaFatalProducerError extends KafkaClientError {
  /** The Kafka error code behind it, or -1 when the client itself gave up. */
  readonly code: number;

  constructor(message: string, code: number, options?: ErrorOptions) {
    super(message, false, options);
    this.code = code;
  }
}

/** A newer producer with the same transactional id took over (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH). */
export class KafkaProducerFencedError extends KafkaFatalProducerError {}

/**
 * The current transaction cannot commit (a batch or an offset commit in it failed), but the
 * producer is fine: abort the transaction and run it again. `cause` holds the first failure.
 */
export class KafkaTransactionAbortableError extends KafkaClientError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, false, options);
  }
}

/** Records that were still waiting to be sent when their transaction was aborted. */
export class KafkaTransactionAbortedError extends KafkaClientError {
  constructor(message: string) {
    super(message, false);
  }
}
