export * from './types.ts';
export { InMemoryKeyValueBytesStore, inMemoryKeyValueBytesStore } from './in-memory.ts';
export { CachingLayer, ChangeLoggingLayer, WrappedBytesStore } from './layers.ts';
export { MeteredKeyValueStore, MeteredSessionStore, MeteredWindowStore } from './typed.ts';
export { buildKeyValueStore, buildSessionStore, buildWindowStore } from './builders.ts';
export type { StoreLayerOptions, WindowStoreOptions, SessionStoreOptions } from './builders.ts';
export { compositeKeyValueView, compositeSessionView, compositeWindowView, keyValueView, sessionView, windowView } from './views.ts';
export { formatDuration, renderRestoreProgress } from './progress-bar.ts';
export type { ProgressBarOptions } from './progress-bar.ts';
