// The public DSL: builder, streams, tables, options, windows and serdes in one import.
export { StreamsBuilder, describe, describeData } from './builder.ts';
export type { StateStoreSpec } from './builder.ts';
export { KStream, BranchedKStream } from './kstream.ts';
export { KTable, GlobalKTable, Suppressed } from './ktable.ts';
export type { BufferConfig } from './ktable.ts';
export { KGroupedStream, KGroupedTable, TimeWindowedKStream, SessionWindowedKStream, SlidingWindowedKStream, CogroupedKStream, TimeWindowedCogroupedKStream } from './grouped.ts';
export type { AggregateOptions, WindowedAggregateOptions } from './grouped.ts';
export type * from './options.ts';
export type { BuilderOptions } from './internal.ts';
export { TimeWindows, SessionWindows, SlidingWindows, JoinWindows } from '../core/topology/windows.ts';
export type { Window, Windowed } from '../core/topology/windows.ts';
export { Serdes, serde, DeserializationError } from '../core/serdes/serde.ts';
export type { Serde } from '../core/serdes/serde.ts';
export { windowedSerde } from '../core/serdes/composite.ts';
export { checkCompatibility } from '../core/topology/compatibility.ts';
export type { Processor, ProcessorContext, ProcessorSupplier, PunctuationType } from '../core/topology/processor.ts';
export type { StreamRecord, Change } from '../core/topology/record.ts';
export type { Topology } from '../core/topology/topology.ts';
