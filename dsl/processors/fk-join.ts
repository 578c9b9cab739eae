// Foreign-key table join (KIP-213's design). Left rows subscribe to the right row they point at
// through a subscription topic keyed by the foreign key; the right side keeps subscriptions in a
// store next to the right table and answers through a response topic keyed by the left key,
// both on every subscription and on every right-side change. The left side then joins the
// answer with its current row, dropping answers for a row that changed since (hash mismatch).
import { createHash } from 'node:crypto';
import { DeserializationError, type Serde } from '../../core/serdes/serde.ts';
import type { ProcessorContext } from '../../core/topology/processor.ts';
import type { Change } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';
import type { KeyValueStore } from '../../state/stores/types.ts';
import { processorOf } from './stateless.ts';
import type { TimestampedStore, ValueGetterSupplier } from './table.ts';

export type SubscriptionKind = 'subscribe' | 'unsubscribe' | 'delete';

export interface Subscription<K> {
  readonly kind: SubscriptionKind;
  readonly primaryKey: K;
  /** Hash of the left row that subscribed; null for unsubscribe and delete. */
  readonly hash: string | null;
}

export interface SubscriptionResponse<VO> {
  readonly hash: string | null;
  readonly value: VO | null;
}

const KINDS: readonly SubscriptionKind[] = ['subscribe', 'unsubscribe', 'delete'];

export function rowHash<V>(serde: Serde<V>, value: V): string {
  return createHash('md5').update(serde.serialize(value, 'fk-join-hash')).digest('hex');
}

/** kind (1 byte) | hash length (1 byte) | hash (ASCII hex) | primary key bytes. */
export function subscriptionSerde<K>(keySerde: Serde<K>): Serde<Subscription<K>> {
  return {
    name: `fk-subscription(${keySerde.name})`,
    serialize: (subscription, topic) => {
      const hash = Buffer.from(subscription.hash ?? '', 'ascii');
      const key = keySerde.serialize(subscription.primaryKey, topic);
      return Buffer.concat([Buffer.from([KINDS.indexOf(subscription.kind), hash.byteLength]), hash, key]);
    },
    deserialize: (bytes, topic) => {
      const kind = KINDS[bytes[0] ?? 255];
      const hashLength = bytes[1] ?? 0;
      if (kind === undefined || bytes.byteLength < 2 + hashLength) throw new DeserializationError(topic, 'malformed subscription');
      const hash = hashLength === 0 ? null : Buffer.from(bytes.subarray(2, 2 + hashLength)).toString('ascii');
      return { kind, hash, primaryKey: keySerde.deserialize(bytes.subarray(2 + hashLength), topic) };
    },
  };
}

/** hash length (1 byte) | hash | value present (1 byte) | value bytes. */
export function responseSerde<VO>(valueSerde: Serde<VO>): Serde<SubscriptionResponse<VO>> {
  return {
    name: `fk-response(${valueSerde.name})`,
    serialize: (response, topic) => {
      const hash = Buffer.from(response.hash ?? '', 'ascii');
      const value = response.value === null ? new Uint8Array(0) : valueSerde.serialize(response.value, topic);
      return Buffer.concat([Buffer.from([hash.byteLength]), hash, Buffer.from([response.value === null ? 0 : 1]), value]);
    },
    deserialize: (bytes, topic) => {
      const hashLength = bytes[0] ?? 0;
      if (bytes.byteLength < 2 + hashLength) throw new DeserializationError(topic, 'malformed subscription response');
      const hash = hashLength === 0 ? null : Buffer.from(bytes.subarray(1, 1 + hashLength)).toString('ascii');
      const present = bytes[1 + hashLength] === 1;
      return { hash, value: present ? valueSerde.deserialize(bytes.subarray(2 + hashLength), topic) : null };
    },
  };
}

/** Left table changes become subscriptions keyed by foreign key. */
export function subscriptionSendProcessor<K, V, KO>(foreignKey: (value: V) => KO, valueSerde: Serde<V>, foreignKeySerde: Serde<KO>): () => UntypedProcessor {
  const sameKey = (a: KO, b: KO): boolean => Buffer.compare(foreignKeySerde.serialize(a, 'fk'), foreignKeySerde.serialize(b, 'fk')) === 0;
  return processorOf<K, Change<V>, KO, Subscription<K>>((record, forward) => {
    const { newValue, oldValue } = record.value;
    const newKey = newValue === null ? null : foreignKey(newValue);
    const oldKey = oldValue === null ? null : foreignKey(oldValue);
    if (oldKey !== null && (newKey === null || !sameKey(oldKey, newKey))) {
      forward({ ...record, key: oldKey, value: { kind: newValue === null ? 'delete' : 'unsubscribe', primaryKey: record.key, hash: null } });
    }
    if (newValue !== null && newKey !== null) {
      forward({ ...record, key: newKey, value: { kind: 'subscribe', primaryKey: record.key, hash: rowHash(valueSerde, newValue) } });
    }
  });
}

/** Subscription store keys: foreign key length (4 bytes) | foreign key | primary key, so one foreign key's subscribers are adjacent. */
export interface CombinedKey<KO, K> {
  readonly foreignKey: KO;
  readonly primaryKey: K;
}

export function combinedKeySerde<KO, K>(foreignKeySerde: Serde<KO>, keySerde: Serde<K>): Serde<CombinedKey<KO, K>> {
  return {
    name: `fk-combined(${foreignKeySerde.name}, ${keySerde.name})`,
    serialize: (combined, topic) => {
      const foreign = foreignKeySerde.serialize(combined.foreignKey, topic);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(foreign.byteLength);
      return Buffer.concat([length, foreign, keySerde.serialize(combined.primaryKey, topic)]);
    },
    deserialize: (bytes, topic) => {
      const length = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(0);
      return { foreignKey: foreignKeySerde.deserialize(bytes.subarray(4, 4 + length), topic), primaryKey: keySerde.deserialize(bytes.subarray(4 + length), topic) };
    },
  };
}

/** Keys are combined-key bytes, so one foreign key's subscribers are one byte range. */
type SubscriptionStore = KeyValueStore<Uint8Array, string>;

/** The smallest byte string greater than every string starting with prefix, or null if none. */
function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const end = Uint8Array.from(prefix);
  for (let index = end.byteLength - 1; index >= 0; index--) {
    if ((end[index] ?? 0) < 0xff) {
      end[index] = (end[index] ?? 0) + 1;
      return end.subarray(0, index + 1);
    }
  }
  return null;
}

/** Right side: records subscriptions and answers each with the current right row. */
export function subscriptionReceiveProcessor<K, KO, VO>(storeName: string, right: ValueGetterSupplier<KO, VO>, combinedSerde: Serde<CombinedKey<KO, K>>): () => UntypedProcessor {
  return () => {
    const getter = right.create();
    let store: SubscriptionStore | null = null;
    return processorOf<KO, Subscription<K>, K, SubscriptionResponse<VO>>((record, forward, context) => {
      if (store === null) {
        store = context.getStateStore<SubscriptionStore>(storeName);
        getter.init(context as ProcessorContext<unknown, unknown>);
      }
      const combined = combinedSerde.serialize({ foreignKey: record.key, primaryKey: record.value.primaryKey }, storeName);
      if (record.value.kind !== 'subscribe') {
        store.delete(combined);
        if (record.value.kind === 'delete') forward({ ...record, key: record.value.primaryKey, value: { hash: null, value: null } });
        return;
      }
      store.put(combined, record.value.hash ?? '');
      forward({ ...record, key: record.value.primaryKey, value: { hash: record.value.hash, value: getter.get(record.key)?.value ?? null } });
    })();
  };
}

/** Right side: a right row change answers every left row subscribed to it. */
export function rightChangeProcessor<K, KO, VO>(storeName: string, combinedSerde: Serde<CombinedKey<KO, K>>, foreignKeySerde: Serde<KO>): () => UntypedProcessor {
  return () => {
    let store: SubscriptionStore | null = null;
    return processorOf<KO, Change<VO>, K, SubscriptionResponse<VO>>((record, forward, context) => {
      store ??= context.getStateStore<SubscriptionStore>(storeName);
      const foreign = foreignKeySerde.serialize(record.key, storeName);
      const prefix = Buffer.alloc(4 + foreign.byteLength);
      prefix.writeUInt32BE(foreign.byteLength);
      prefix.set(foreign, 4);
      for (const entry of store.range(prefix, prefixEnd(prefix))) {
        if (entry.key.byteLength < prefix.byteLength || Buffer.compare(prefix, entry.key.subarray(0, prefix.byteLength)) !== 0) continue;
        const primaryKey = combinedSerde.deserialize(entry.key, storeName).primaryKey;
        forward({ ...record, key: primaryKey, value: { hash: entry.value, value: record.value.newValue } });
      }
    })();
  };
}

/** Left side: joins an answer with the current left row, unless that row changed meanwhile. */
export function responseResolveProcessor<K, V, VO, VR>(
  left: ValueGetterSupplier<K, V>,
  valueSerde: Serde<V>,
  joiner: (value: V, other: VO | null) => VR | null,
  storeName: string | null,
): () => UntypedProcessor {
  return () => {
    const getter = left.create();
    let initialised = false;
    let store: TimestampedStore<K, VR> | null = null;
    return processorOf<K, SubscriptionResponse<VO>, K, Change<VR>>((record, forward, context) => {
      if (!initialised) {
        getter.init(context as ProcessorContext<unknown, unknown>);
        if (storeName !== null) store = context.getStateStore<TimestampedStore<K, VR>>(storeName);
        initialised = true;
      }
      const current = getter.get(record.key);
      if (current !== null && (record.value.hash === null || rowHash(valueSerde, current.value) !== record.value.hash)) return;
      const newValue = current === null ? null : joiner(current.value, record.value.value);
      const oldValue = store?.get(record.key)?.value ?? null;
      if (newValue === null && oldValue === null && store !== null) return;
      store?.put(record.key, newValue === null ? null : { value: newValue, timestamp: record.timestamp });
      forward({ ...record, value: { newValue, oldValue } });
    })();
  };
}
