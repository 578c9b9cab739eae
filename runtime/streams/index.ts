export { StreamTask, StreamsProcessingError } from './task.ts';
export type { RecordCollector, OutgoingRecord, DeserializationErrorHandler, StreamTaskOptions } from './task.ts';
export { GlobalStoreTask } from './global.ts';
export { TopologyTestDriver, TestInputTopic, TestOutputTopic } from './test-driver.ts';
export type { TestDriverOptions, TestRecord } from './test-driver.ts';
