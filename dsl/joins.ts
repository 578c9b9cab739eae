// Wiring for KStream joins: stream-stream joins inside JoinWindows and lookup joins against
// tables and global tables. Streams whose keys changed are repartitioned first, so both sides
// of a join are co-partitioned.
import type { Serde } from '../core/serdes/serde.ts';
import type { JoinWindows } from '../core/topology/windows.ts';
import type { GraphNode } from './graph.ts';
import { fallbackSerde } from './internal.ts';
import { KStream } from './kstream.ts';
import type { GlobalKTable, KTable } from './ktable.ts';
import type { Named, StreamJoined } from './options.ts';
import { lookupJoinProcessor, sideKeySerde, sideValueSerde, streamJoinProcessor, type JoinSide } from './processors/join.ts';
import { passThroughProcessor } from './processors/stateless.ts';
import { storeGetter, type ValueGetterSupplier } from './processors/table.ts';
import { keyValueStoreDescriptor, settingsFrom, windowStoreDescriptor } from './stores.ts';

export type JoinMode = 'inner' | 'left' | 'outer';

function joinNames(stream: KStream<unknown, unknown>, mode: JoinMode, name: string | undefined): { thisName: string; otherName: string; mergeName: string } {
  if (name !== undefined) return { thisName: `${name}-join-this`, otherName: `${name}-join-other`, mergeName: `${name}-join-merge` };
  const outer = mode === 'outer';
  return {
    thisName: stream.builder.newName(outer ? 'KSTREAM-OUTERTHIS-' : 'KSTREAM-JOINTHIS-'),
    otherName: stream.builder.newName(outer ? 'KSTREAM-OUTEROTHER-' : 'KSTREAM-JOINOTHER-'),
    mergeName: stream.builder.newName('KSTREAM-MERGE-'),
  };
}

function sideInput<K, V>(stream: KStream<K, V>, prefix: string, keySerde: Serde<K>, valueSerde: Serde<V>): GraphNode {
  return stream.repartitionRequired ? stream.repartitionNode(prefix, keySerde, valueSerde) : stream.node;
}

export function joinStreams<K, V, VO, VR>(
  left: KStream<K, V>,
  right: KStream<K, VO>,
  joiner: (value: V, other: VO, key: K) => VR,
  windows: JoinWindows,
  options: StreamJoined<K, V, VO>,
  mode: JoinMode,
): KStream<K, VR> {
  const builder = left.builder;
  const names = joinNames(left as KStream<unknown, unknown>, mode, options.name);
  const storeBase = builder.statefulName(options.storeName ?? options.name, 'stream-stream join', () => names.thisName);
  const keySerde = options.key ?? left.keySerde ?? right.keySerde ?? fallbackSerde<K>();
  const leftSerde = options.value ?? left.valueSerde ?? fallbackSerde<V>();
  const rightSerde = options.otherValue ?? right.valueSerde ?? fallbackSerde<VO>();
  const leftInput = sideInput(left, `${options.name ?? names.thisName}-left`, keySerde, leftSerde);
  const rightInput = sideInput(right, `${options.name ?? names.otherName}-right`, keySerde, rightSerde);
  const explicit = options.storeName !== undefined || options.name !== undefined;
  const leftStore = explicit ? `${storeBase}-this-join-store` : `${names.thisName}-store`;
  const rightStore = explicit ? `${storeBase}-other-join-store` : `${names.otherName}-store`;
  const settings = settingsFrom({ logging: options.logging ?? true, caching: false });
  const window = { retentionMs: windows.sizeMs() + windows.graceMs, windowSizeMs: windows.sizeMs(), retainDuplicates: true, timestamped: false };
  builder.addStore(windowStoreDescriptor(leftStore, keySerde, leftSerde, settings, window));
  builder.addStore(windowStoreDescriptor(rightStore, keySerde, rightSerde, settings, window));
  let unmatchedStore: string | null = null;
  if (mode !== 'inner') {
    unmatchedStore = explicit ? `${storeBase}-outer-shared-join-store` : `${names.thisName}-shared-store`;
    const valueSerde = sideValueSerde(leftSerde as Serde<unknown>, rightSerde as Serde<unknown>);
    builder.addStore(keyValueStoreDescriptor(unmatchedStore, sideKeySerde(keySerde), valueSerde, settings, false));
  }
  const stores = unmatchedStore === null ? [leftStore, rightStore] : [leftStore, rightStore, unmatchedStore];
  const anyJoiner = joiner as (value: V | null, other: VO | null, key: K) => VR;
  const common = {
    graceMs: windows.graceMs,
    unmatchedStore,
    emitUnmatched: { left: mode !== 'inner', right: mode === 'outer' },
    windowAfterMs: { left: windows.afterMs, right: windows.beforeMs },
  };
  const side = (which: JoinSide) => (which === 'left'
    ? streamJoinProcessor<K, V, VO, VR>({ ...common, side: 'left', thisStore: leftStore, otherStore: rightStore, beforeMs: windows.beforeMs, afterMs: windows.afterMs, joiner: anyJoiner })
    : streamJoinProcessor<K, VO, V, VR>({ ...common, side: 'right', thisStore: rightStore, otherStore: leftStore, beforeMs: windows.afterMs, afterMs: windows.beforeMs, joiner: (value, other, key) => anyJoiner(other, value, key) }));
  const leftNode = builder.addProcessor(names.thisName, [leftInput], side('left'), stores);
  const rightNode = builder.addProcessor(names.otherName, [rightInput], side('right'), stores);
  const merged = builder.addProcessor(names.mergeName, [leftNode, rightNode], passThroughProcessor());
  builder.copartitioned.push([leftInput.name, rightInput.name]);
  return new KStream<K, VR>(builder, merged, keySerde, undefined, false);
}

/** Joins each stream record with a table row: the table's by the record key, a global table's by a selected key. */
export function lookupJoin<K, V, KT, VT, VR>(
  stream: KStream<K, V>,
  table: KTable<KT, VT> | GlobalKTable<KT, VT>,
  selectKey: (value: V, key: K) => KT,
  joiner: (value: V, row: VT | null, key: K) => VR,
  named: Named & { readonly key?: Serde<K>; readonly value?: Serde<V> },
  mode: 'inner' | 'left',
  global: boolean,
): KStream<K, VR> {
  const builder = stream.builder;
  const name = named.name ?? builder.newName(mode === 'left' ? 'KSTREAM-LEFTJOIN-' : 'KSTREAM-JOIN-');
  const keySerde = named.key ?? stream.keySerde ?? fallbackSerde<K>();
  const valueSerde = named.value ?? stream.valueSerde ?? fallbackSerde<V>();
  const input = !global && stream.repartitionRequired ? stream.repartitionNode(name, keySerde, valueSerde) : stream.node;
  const getter: ValueGetterSupplier<KT, VT> = 'getter' in table ? table.getter : storeGetter<KT, VT>(table.storeName);
  // Global stores are shared by all tasks and never tie sub-topologies together.
  const stores = global ? [] : getter.storeNames;
  const node = builder.addProcessor(name, [input], lookupJoinProcessor(getter, selectKey, joiner, mode === 'left'), stores);
  if (!global) builder.copartitioned.push([input.name, table.node.name]);
  return new KStream<K, VR>(builder, node, stream.keySerde, undefined, global && stream.repartitionRequired);
}
