// The streams application runtime on a broker: StreamsApp and what its users configure and read.
export { StreamsApp, StreamsProcessingError } from './app.ts';
export type { CommitListener, StateListener, UncaughtErrorHandler, UncaughtErrorResponse } from './app.ts';
export type { StreamsState } from './states.ts';
export { parseStreamsConfig, StreamsConfigError, STREAMS_KAFKA_NAMES } from './config.ts';
export type { StreamsConfig, StreamsConfigInput } from './config.ts';
export type { KeyQueryMetadata, QueryableStoreView } from './queries.ts';
export type { RestoreReport } from './active-task.ts';
export { assignTasks } from './task-assignor.ts';
export type { AssignableTask, MemberTasks, TaskAssignorMember } from './task-assignor.ts';
export { planTopology, TopologyPlanError } from './plan.ts';
export type { TaskPlan, TopologyPlan, InternalTopicPlan } from './plan.ts';
