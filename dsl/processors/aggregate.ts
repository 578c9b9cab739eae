// Aggregations of grouped streams: plain, time-windowed and session-windowed. Windowed ones
// track the stream time they observed; a record whose window ended more than the grace period
// ago is dropped and counted, as in Kafka Streams.
import type { ProcessorContext } from '../../core/topology/processor.ts';
import { NO_HEADERS, type Change, type StreamRecord, type ValueAndTimestamp } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';
import type { SessionWindows, SlidingWindows, TimeWindows, Window, Windowed } from '../../core/topology/windows.ts';
import type { CachedWindowStore, KeyValueStore, SessionStore, WindowStore } from '../../state/stores/types.ts';
import { processorOf, type Forward } from './stateless.ts';
import { tableUpdates, type TimestampedStore } from './table.ts';

export interface Aggregation<K, V, VA> {
  readonly initializer: () => VA;
  readonly aggregator: (key: K, value: V, aggregate: VA) => VA;
}

function dropsNull<K, V>(record: StreamRecord<K, V>, context: ProcessorContext<unknown, unknown>): boolean {
  if (record.key !== null && record.key !== undefined && record.value !== null && record.value !== undefined) return false;
  context.metrics.droppedRecords++;
  return true;
}

export function streamAggregateProcessor<K, V, VA>(storeName: string, aggregation: Aggregation<K, V, VA>): () => UntypedProcessor {
  return () => {
    let store: TimestampedStore<K, VA> | null = null;
    let emit: Forward<K, Change<VA>> | null = null;
    return processorOf<K, V, K, Change<VA>>((record, forward, context) => {
      if (dropsNull(record, context as ProcessorContext<unknown, unknown>)) return;
      if (store === null) {
        store = context.getStateStore<TimestampedStore<K, VA>>(storeName);
        emit = tableUpdates(store, forward);
      }
      const old = store.get(record.key);
      const aggregate = aggregation.aggregator(record.key, record.value, old?.value ?? aggregation.initializer());
      const timestamp = old === null ? record.timestamp : Math.max(record.timestamp, old.timestamp);
      store.put(record.key, { value: aggregate, timestamp });
      emit?.({ ...record, timestamp, value: { newValue: aggregate, oldValue: old?.value ?? null } });
    })();
  };
}

export type EmitStrategy = 'on-window-update' | 'on-window-close';

type WindowedForward<K, VA> = (record: StreamRecord<Windowed<K>, Change<VA>>) => void;

/**
 * Emits windows that closed since the last call: those ending at or before closedEndMs and
 * after the end emitted last time. Used for emit-on-window-close.
 */
function emitClosedWindows<K, VA>(
  store: WindowStore<K, ValueAndTimestamp<VA>>,
  sizeMs: number,
  state: WindowClock,
  closeTimeMs: number,
  forward: WindowedForward<K, VA>,
): void {
  if (closeTimeMs <= state.lastEmittedCloseMs) return;
  const fromStartMs = Math.max(0, state.lastEmittedCloseMs - sizeMs + 1);
  const toStartMs = closeTimeMs - sizeMs;
  if (toStartMs >= fromStartMs) {
    for (const entry of store.fetchAll(fromStartMs, toStartMs)) {
      forward({ key: entry.key, value: { newValue: entry.value.value, oldValue: null }, timestamp: entry.value.timestamp, headers: NO_HEADERS });
    }
  }
  recordEmitted(state, closeTimeMs);
}

/**
 * What a windowed aggregation remembers about time: the stream time it observed and the close
 * time up to which it emitted final results. It is kept per store instance, so the processors of
 * a windowed cogroup, which share one store in a task, also share one clock and emit each closed
 * window once.
 */
interface WindowClock {
  observedStreamTimeMs: number;
  lastEmittedCloseMs: number;
  /** Where emit-final keeps lastEmittedCloseMs, so a restart does not emit closed windows again. */
  readonly progress: EmitProgressStore | null;
}

/** A logged key-value store beside an emit-final aggregation's store. */
export type EmitProgressStore = KeyValueStore<string, number>;
const LAST_EMITTED_CLOSE_KEY = 'last-emitted-close-ms';

/** Name of the store that keeps an emit-final aggregation's progress. */
export function emitProgressStoreName(storeName: string): string {
  return `${storeName}-emit-final`;
}

const clocks = new WeakMap<object, WindowClock>();

function clockOf(store: object, progress: EmitProgressStore | null): WindowClock {
  let clock = clocks.get(store);
  if (clock === undefined) clocks.set(store, (clock = { observedStreamTimeMs: -1, lastEmittedCloseMs: progress?.get(LAST_EMITTED_CLOSE_KEY) ?? -1, progress }));
  return clock;
}

function recordEmitted(clock: WindowClock, closeTimeMs: number): void {
  clock.lastEmittedCloseMs = closeTimeMs;
  clock.progress?.put(LAST_EMITTED_CLOSE_KEY, closeTimeMs);
}

function progressStore(context: ProcessorContext<unknown, unknown>, storeName: string, emit: EmitStrategy): EmitProgressStore | null {
  return emit === 'on-window-close' ? context.getStateStore<EmitProgressStore>(emitProgressStoreName(storeName)) : null;
}

/**
 * Window updates with emit-on-update: like tables (see tableEmitter), a caching store sends one
 * merged update per window per commit. Deletes seen at flush come from purging expired windows,
 * which is retention rather than an update, so they are not sent on.
 */
function windowEmitter<K, VA>(store: WindowStore<K, ValueAndTimestamp<VA>>, forward: WindowedForward<K, VA>): WindowedForward<K, VA> | null {
  if (!('setFlushListener' in store)) return forward;
  const cached = (store as CachedWindowStore<K, ValueAndTimestamp<VA>>).setFlushListener((key, newValue, oldValue) => {
    if (newValue === null) return;
    forward({ key, value: { newValue: newValue.value, oldValue: oldValue?.value ?? null }, timestamp: newValue.timestamp, headers: NO_HEADERS });
  });
  return cached ? null : forward;
}

export function windowAggregateProcessor<K, V, VA>(storeName: string, windows: TimeWindows, aggregation: Aggregation<K, V, VA>, emit: EmitStrategy): () => UntypedProcessor {
  return () => {
    let store: WindowStore<K, ValueAndTimestamp<VA>> | null = null;
    /** Where updates go at once; null when they go at flush (a caching store) or on window close. */
    let updates: WindowedForward<K, VA> | null = null;
    let clock: WindowClock | null = null;
    return processorOf<K, V, Windowed<K>, Change<VA>>((record, forward, context) => {
      if (dropsNull(record, context as ProcessorContext<unknown, unknown>)) return;
      if (store === null) {
        store = context.getStateStore<WindowStore<K, ValueAndTimestamp<VA>>>(storeName);
        updates = emit === 'on-window-update' ? windowEmitter(store, forward) : null;
      }
      clock ??= clockOf(store, progressStore(context as ProcessorContext<unknown, unknown>, storeName, emit));
      clock.observedStreamTimeMs = Math.max(clock.observedStreamTimeMs, record.timestamp);
      const closeTimeMs = clock.observedStreamTimeMs - windows.graceMs;
      // Closed windows go out before this record's puts, which could expire them in the store.
      if (emit === 'on-window-close') emitClosedWindows(store, windows.sizeMs, clock, closeTimeMs, forward);
      for (const window of windows.windowsFor(record.timestamp)) {
        if (window.endMs <= closeTimeMs) {
          context.metrics.droppedLateRecords++;
          continue;
        }
        const old = store.fetch(record.key, window.startMs);
        const aggregate = aggregation.aggregator(record.key, record.value, old?.value ?? aggregation.initializer());
        const timestamp = old === null ? record.timestamp : Math.max(record.timestamp, old.timestamp);
        store.put(record.key, { value: aggregate, timestamp }, window.startMs);
        if (updates !== null) updates({ ...record, key: { key: record.key, window }, timestamp, value: { newValue: aggregate, oldValue: old?.value ?? null } });
      }
    })();
  };
}

export interface SessionAggregation<K, V, VA> extends Aggregation<K, V, VA> {
  readonly merger: (key: K, left: VA, right: VA) => VA;
}

function mergedWindow(sessions: readonly { key: Windowed<unknown> }[], timestampMs: number): Window {
  let startMs = timestampMs;
  let endMs = timestampMs;
  for (const session of sessions) {
    startMs = Math.min(startMs, session.key.window.startMs);
    endMs = Math.max(endMs, session.key.window.endMs);
  }
  return { startMs, endMs };
}

/**
 * Emits the sessions that closed since the last call. A session is final once no record that is
 * not late can reach it: such a record has a timestamp at or above the close time (stream time
 * minus grace) and joins a session ending within the inactivity gap before it, so a session is
 * closed once its end plus the gap is below the close time. The range starts at the previous
 * bound, because sessions ending there were still open then.
 */
function emitClosedSessions<K, VA>(store: SessionStore<K, VA>, clock: WindowClock, endBelowMs: number, forward: WindowedForward<K, VA>): void {
  if (endBelowMs <= clock.lastEmittedCloseMs) return;
  for (const session of store.findSessionsEndingWithin(Math.max(0, clock.lastEmittedCloseMs), endBelowMs - 1)) {
    forward({ key: session.key, value: { newValue: session.value, oldValue: null }, timestamp: session.key.window.endMs, headers: NO_HEADERS });
  }
  recordEmitted(clock, endBelowMs);
}

/**
 * Session windows: a record joins every session within the inactivity gap of it and merges them
 * into one; on update the sessions it replaced are deleted downstream (a change with a null new
 * value). With emit-final only closed sessions go downstream, once each, after the record that
 * closed them was aggregated (Kafka Streams' order), so a session merged away is never emitted.
 * One edge remains, as in Kafka Streams: a record that bridges an emitted session and a later
 * open one is not late, so it merges the emitted session into a new result.
 */
export function sessionAggregateProcessor<K, V, VA>(storeName: string, windows: SessionWindows, aggregation: SessionAggregation<K, V, VA>, emit: EmitStrategy = 'on-window-update'): () => UntypedProcessor {
  return () => {
    let store: SessionStore<K, VA> | null = null;
    return processorOf<K, V, Windowed<K>, Change<VA>>((record, forward, context) => {
      if (dropsNull(record, context as ProcessorContext<unknown, unknown>)) return;
      store ??= context.getStateStore<SessionStore<K, VA>>(storeName);
      const clock = clockOf(store, progressStore(context as ProcessorContext<unknown, unknown>, storeName, emit));
      clock.observedStreamTimeMs = Math.max(clock.observedStreamTimeMs, record.timestamp);
      const closeTimeMs = clock.observedStreamTimeMs - windows.graceMs;
      const updates = emit === 'on-window-update' ? forward : () => undefined;
      aggregateSession(store, windows, aggregation, record, closeTimeMs, updates, context.metrics);
      if (emit === 'on-window-close') emitClosedSessions(store, clock, closeTimeMs - windows.inactivityGapMs, forward);
    })();
  };
}

function aggregateSession<K, V, VA>(
  store: SessionStore<K, VA>,
  windows: SessionWindows,
  aggregation: SessionAggregation<K, V, VA>,
  record: StreamRecord<K, V>,
  closeTimeMs: number,
  forward: WindowedForward<K, VA>,
  metrics: { droppedLateRecords: number },
): void {
  const overlapping = store.findSessions(record.key, record.timestamp - windows.inactivityGapMs, record.timestamp + windows.inactivityGapMs);
  const window = mergedWindow(overlapping, record.timestamp);
  if (window.endMs < closeTimeMs) {
    metrics.droppedLateRecords++;
    return;
  }
  let aggregate = aggregation.initializer();
  let replaced: VA | null = null;
  for (const session of overlapping) {
    aggregate = aggregation.merger(record.key, aggregate, session.value);
    if (session.key.window.startMs === window.startMs && session.key.window.endMs === window.endMs) {
      replaced = session.value;
      continue;
    }
    store.remove(session.key);
    forward({ ...record, key: session.key, timestamp: session.key.window.endMs, value: { newValue: null, oldValue: session.value } });
  }
  aggregate = aggregation.aggregator(record.key, record.value, aggregate);
  const sessionKey = { key: record.key, window };
  store.put(sessionKey, aggregate);
  forward({ ...record, key: sessionKey, timestamp: window.endMs, value: { newValue: aggregate, oldValue: replaced } });
}

/**
 * Sliding windows, defined by the records themselves (KIP-450): each record opens a left window
 * [ts - d, ts] and, once a later record falls within d of it, a right window [ts + 1, ts + 1 + d].
 * Both ends are inclusive. Records are kept per key in a window store so every affected window
 * can be recomputed from its records: simple and exact, at the cost of re-aggregating a window's
 * records on each update (Kafka Streams avoids that with incremental bookkeeping).
 */
export function slidingAggregateProcessor<K, V, VA>(
  storeName: string,
  recordsStoreName: string,
  windows: SlidingWindows,
  aggregation: Aggregation<K, V, VA>,
  emit: EmitStrategy,
): () => UntypedProcessor {
  const differenceMs = windows.timeDifferenceMs;
  return () => {
    let store: WindowStore<K, ValueAndTimestamp<VA>> | null = null;
    let records: WindowStore<K, V> | null = null;
    return processorOf<K, V, Windowed<K>, Change<VA>>((record, forward, context) => {
      if (dropsNull(record, context as ProcessorContext<unknown, unknown>)) return;
      store ??= context.getStateStore<WindowStore<K, ValueAndTimestamp<VA>>>(storeName);
      records ??= context.getStateStore<WindowStore<K, V>>(recordsStoreName);
      const clock = clockOf(store, progressStore(context as ProcessorContext<unknown, unknown>, storeName, emit));
      clock.observedStreamTimeMs = Math.max(clock.observedStreamTimeMs, record.timestamp);
      const closeTimeMs = clock.observedStreamTimeMs - windows.graceMs;
      // Sliding windows include their end, so a window is closed once its end is below close time.
      if (emit === 'on-window-close') emitClosedWindows(store, differenceMs, clock, closeTimeMs - 1, forward);
      if (record.timestamp + differenceMs < closeTimeMs) {
        context.metrics.droppedLateRecords++;
        return;
      }
      records.put(record.key, record.value, record.timestamp);
      const nearby = records.fetchRange(record.key, Math.max(0, record.timestamp - differenceMs - 1), record.timestamp + differenceMs + 1);
      for (const startMs of slidingWindowStarts(record.timestamp, differenceMs, nearby.map((entry) => entry.windowStartMs))) {
        const endMs = startMs + differenceMs;
        if (endMs < closeTimeMs) continue;
        const inside = nearby.filter((entry) => entry.windowStartMs >= startMs && entry.windowStartMs <= endMs);
        if (inside.length === 0) continue;
        let aggregate = aggregation.initializer();
        for (const entry of inside) aggregate = aggregation.aggregator(record.key, entry.value, aggregate);
        const timestamp = Math.max(...inside.map((entry) => entry.windowStartMs));
        const old = store.fetch(record.key, startMs);
        store.put(record.key, { value: aggregate, timestamp }, startMs);
        if (emit === 'on-window-update') forward({ ...record, key: { key: record.key, window: { startMs, endMs } }, timestamp, value: { newValue: aggregate, oldValue: old?.value ?? null } });
      }
    })();
  };
}

/** Starts of every window the record at timestampMs falls into or creates, given nearby record times. */
function slidingWindowStarts(timestampMs: number, differenceMs: number, nearbyMs: readonly number[]): number[] {
  const starts = new Set<number>([Math.max(0, timestampMs - differenceMs)]);
  for (const otherMs of nearbyMs) {
    if (otherMs > timestampMs && otherMs <= timestampMs + differenceMs + 1) starts.add(timestampMs + 1);
    if (otherMs >= timestampMs && otherMs <= timestampMs + differenceMs) starts.add(Math.max(0, otherMs - differenceMs));
    if (otherMs < timestampMs && otherMs >= timestampMs - differenceMs - 1) starts.add(otherMs + 1);
  }
  return [...starts].sort((a, b) => a - b);
}
