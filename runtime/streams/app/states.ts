// The life cycle of a StreamsApp, Kafka Streams' KafkaStreams.State:
//   CREATED -> REBALANCING <-> RUNNING, and from any running state PENDING_SHUTDOWN ->
//   NOT_RUNNING on close() or PENDING_ERROR -> ERROR after an uncaught error.
export type StreamsState = 'CREATED' | 'REBALANCING' | 'RUNNING' | 'PENDING_SHUTDOWN' | 'NOT_RUNNING' | 'PENDING_ERROR' | 'ERROR';

const TRANSITIONS: Readonly<Record<StreamsState, readonly StreamsState[]>> = {
  CREATED: ['REBALANCING', 'PENDING_SHUTDOWN', 'PENDING_ERROR'],
  REBALANCING: ['RUNNING', 'PENDING_SHUTDOWN', 'PENDING_ERROR'],
  RUNNING: ['REBALANCING', 'PENDING_SHUTDOWN', 'PENDING_ERROR'],
  PENDING_SHUTDOWN: ['NOT_RUNNING'],
  NOT_RUNNING: [],
  PENDING_ERROR: ['ERROR'],
  ERROR: [],
};

export function transitionAllowed(from: StreamsState, to: StreamsState): boolean {
  return TRANSITIONS[from].includes(to);
}
