// The "consumer" embedded protocol: what members put in JoinGroup metadata and what the leader
// hands out in SyncGroup assignments, in the encoding Kafka's clients share, so a Runnel member
// can sit in a group with Java or kafkajs members. Plus the range and round-robin assignors.
//
//   Subscription => version i16 | topics [string] | userData nullable bytes
//                   | v1+: ownedPartitions [topic string, partitions [i32]]
//                   | v2+: generationId i32 | v3+: rackId nullable string
//   Assignment   => version i16 | partitions [topic string, partitions [i32]] | userData nullable bytes
//
// Arrays have an i32 count, strings an i16 length, bytes an i32 length (-1 for null). We write
// version 0 of both, which every client reads; readers ignore fields after the ones they know,
// so later versions sent by other clients decode here too.
import { Reader, Writer } from '../../core/protocol/index.ts';

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface Subscription {
  version: number;
  topics: string[];
  userData: Buffer | null;
}

export interface Assignment {
  version: number;
  partitions: TopicPartitions[];
  userData: Buffer | null;
}

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export function encodeSubscription(topics: readonly string[], userData: Buffer | null = null): Buffer {
  const writer = new Writer(64).int16(0).int32(topics.length);
  for (const topic of topics) writer.string(topic);
  writer.nullableBytes(userData);
  return writer.finish();
}

export function decodeSubscription(data: Buffer): Subscription {
  const reader = new Reader(data);
  const version = reader.int16();
  const topics = readArray(reader, () => reader.string());
  const userData = reader.nullableBytes();
  return { version, topics, userData };
}

export function encodeAssignment(partitions: readonly TopicPartitions[], userData: Buffer | null = null): Buffer {
  const writer = new Writer(64).int16(0).int32(partitions.length);
  for (const entry of partitions) {
    writer.string(entry.topic).int32(entry.partitions.length);
    for (const partition of entry.partitions) writer.int32(partition);
  }
  writer.nullableBytes(userData);
  return writer.finish();
}

/** An empty buffer means "nothing assigned", which Kafka's coordinators send to new members. */
export function decodeAssignment(data: Buffer): Assignment {
  if (data.length === 0) return { version: 0, partitions: [], userData: null };
  const reader = new Reader(data);
  const version = reader.int16();
  const partitions = readArray(reader, () => ({ topic: reader.string(), partitions: readArray(reader, () => reader.int32()) }));
  const userData = reader.remaining > 0 ? reader.nullableBytes() : null;
  return { version, partitions, userData };
}

function readArray<T>(reader: Reader, readOne: () => T): T[] {
  const count = reader.int32();
  if (count < 0) return [];
  // Each element takes at least two bytes, which bounds a forged count before looping.
  if (count > reader.remaining / 2 + 1) throw new RangeError(`array of ${count} elements cannot fit ${reader.remaining} bytes`);
  const items: T[] = [];
  for (let index = 0; index < count; index++) items.push(readOne());
  return items;
}

export interface GroupMember {
  memberId: string;
  topics: readonly string[];
}

/** Assigns partitions of the subscribed topics to members; `partitionCounts` holds every topic. */
export type Assignor = (members: readonly GroupMember[], partitionCounts: ReadonlyMap<string, number>) => Map<string, TopicPartitions[]>;

function addPartition(result: Map<string, Map<string, number[]>>, memberId: string, topic: string, partition: number): void {
  let topics = result.get(memberId);
  if (topics === undefined) {
    topics = new Map();
    result.set(memberId, topics);
  }
  const list = topics.get(topic) ?? [];
  list.push(partition);
  topics.set(topic, list);
}

function finish(members: readonly GroupMember[], result: Map<string, Map<string, number[]>>): Map<string, TopicPartitions[]> {
  const assignments = new Map<string, TopicPartitions[]>();
  for (const member of members) {
    const topics = result.get(member.memberId) ?? new Map<string, number[]>();
    assignments.set(member.memberId, [...topics].map(([topic, partitions]) => ({ topic, partitions })));
  }
  return assignments;
}

/**
 * Range: per topic, the members subscribed to it (sorted by member id) get consecutive ranges;
 * the first (partitions mod members) of them get one partition more.
 */
export const rangeAssignor: Assignor = (members, partitionCounts) => {
  const result = new Map<string, Map<string, number[]>>();
  const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0;
    const subscribers = members.filter((member) => member.topics.includes(topic)).map((member) => member.memberId).sort();
    const each = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((memberId, index) => {
      const size = each + (index < extra ? 1 : 0);
      for (let partition = next; partition < next + size; partition++) addPartition(result, memberId, topic, partition);
      next += size;
    });
  }
  return finish(members, result);
};

/**
 * Round robin: every partition of every subscribed topic, sorted by topic then partition, goes
 * to the next member (sorted by id) that subscribes to its topic.
 */
export const roundRobinAssignor: Assignor = (members, partitionCounts) => {
  const result = new Map<string, Map<string, number[]>>();
  const sorted = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId));
  const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
  let cursor = 0;
  for (const topic of topics) {
    const count = partitionCounts.get(topic) ?? 0;
    for (let partition = 0; partition < count; partition++) {
      for (let tried = 0; tried < sorted.length; tried++) {
        const member = sorted[cursor % sorted.length] as GroupMember;
        cursor += 1;
        if (member.topics.includes(topic)) {
          addPartition(result, member.memberId, topic, partition);
          break;
        }
      }
    }
  }
  return finish(members, result);
};

export const ASSIGNORS: Readonly<Record<string, Assignor>> = { range: rangeAssignor, roundrobin: roundRobinAssignor };
export type AssignorName = 'range' | 'roundrobin';
