export { StreamTask, StreamsProcessingError } from './task.ts';
export type { RecordCollector, OutgoingRecord, DeserializationErrorHandler, StreamTaskOptions } from './task.ts';
export { GlobalStoreTask } from './global.ts';
export { TopologyTestDriver, TestInputTopic, TestOutputTopic } from './test-driver.ts';
export type { TestDriverOptions, TestRecord } from './test-driver.ts';
export { StreamsApp, StreamsConfigError, parseStreamsConfig, assignTasks, planTopology, TopologyPlanError } from './app/index.ts';
export type { StreamsState, StreamsConfig, StreamsConfigInput, KeyQueryMetadata, QueryableStoreView, RestoreReport, StateListener, UncaughtErrorHandler, UncaughtErrorResponse, TaskPlan, TopologyPlan } from './app/index.ts';
