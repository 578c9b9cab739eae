// The "consumer" embedded protocol: what members put in JoinGroup metadata and what the leader
// hands out in SyncGroup assignments, in the encoding Kafka's clients share, so a Runnel member
// can sit in a group with Java or kafkajs members. Plus the assignor interface (Kafka's
// ConsumerPartitionAssignor) and the built-in range, round-robin and sticky assignors.
//
//   Subscription => version i16 | topics [string] | userData nullable bytes
//                   | v1+: ownedPartitions [topic string, partitions [i32]]
//                   | v2+: generationId i32 | v3+: rackId nullable string
//   Assignment   => version i16 | partitions [topic string, partitions [i32]] | userData nullable bytes
//
// Arrays have an i32 count, strings an i16 length, bytes an i32 length (-1 for null). We write
// subscription v1 when the member owns partitions (sticky assignors need to know who owns
// what) and v0 otherwise, and assignment v0; readers ignore fields after the ones they know,
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
  /** v1+: the partitions the member owns now (KIP-429); empty before. */
  ownedPartitions: TopicPartitions[];
}

export interface Assignment {
  version: number;
  partitions: TopicPartitions[];
  userData: Buffer | null;
}

export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export function encodeSubscription(topics: readonly string[], userData: Uint8Array | null = null, ownedPartitions: readonly TopicPartitions[] | null = null): Buffer {
  const writer = new Writer(64).int16(ownedPartitions === null ? 0 : 1).int32(topics.length);
  for (const topic of topics) writer.string(topic);
  writer.nullableBytes(userData);
  if (ownedPartitions !== null) writeTopicPartitions(writer, ownedPartitions);
  return writer.finish();
}

export function decodeSubscription(data: Buffer): Subscription {
  const reader = new Reader(data);
  const version = reader.int16();
  const topics = readArray(reader, () => reader.string());
  const userData = reader.nullableBytes();
  const ownedPartitions = version >= 1 && reader.remaining >= 4 ? readTopicPartitions(reader) : [];
  return { version, topics, userData, ownedPartitions };
}

function writeTopicPartitions(writer: Writer, partitions: readonly TopicPartitions[]): void {
  writer.int32(partitions.length);
  for (const entry of partitions) {
    writer.string(entry.topic).int32(entry.partitions.length);
    for (const partition of entry.partitions) writer.int32(partition);
  }
}

function readTopicPartitions(reader: Reader): TopicPartitions[] {
  return readArray(reader, () => ({ topic: reader.string(), partitions: readArray(reader, () => reader.int32()) }));
}

export function encodeAssignment(partitions: readonly TopicPartitions[], userData: Uint8Array | null = null): Buffer {
  const writer = new Writer(64).int16(0);
  writeTopicPartitions(writer, partitions);
  writer.nullableBytes(userData);
  return writer.finish();
}

/** An empty buffer means "nothing assigned", which Kafka's coordinators send to new members. */
export function decodeAssignment(data: Buffer): Assignment {
  if (data.length === 0) return { version: 0, partitions: [], userData: null };
  const reader = new Reader(data);
  const version = reader.int16();
  const partitions = readTopicPartitions(reader);
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
  /** What the member owns now; sticky assignors keep as much of it as balance allows. */
  ownedPartitions?: readonly TopicPartitions[];
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

/**
 * Sticky: as balanced as round robin, but every member keeps the partitions it owns up to its
 * fair share, so a rebalance moves as few partitions as it can. Fair shares: with P partitions
 * and M members, everyone gets floor(P/M) and P mod M of them one more. Unowned partitions go
 * to the least loaded member subscribed to their topic, then partitions move from the most to
 * the least loaded member until no two differ by more than one.
 */
export const stickyAssignor: Assignor = (members, partitionCounts) => {
  const sorted = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId));
  const all = allPartitions(sorted, partitionCounts);
  const owner = new Map<string, string>();
  const load = new Map<string, string[]>(sorted.map((member) => [member.memberId, []]));
  const ceiling = Math.ceil(all.length / Math.max(1, sorted.length));
  for (const member of sorted) {
    for (const entry of member.ownedPartitions ?? []) {
      for (const partition of entry.partitions) {
        const id = `${entry.topic}\u0000${partition}`;
        const owned = load.get(member.memberId) as string[];
        if (!all.includes(id) || owner.has(id) || !member.topics.includes(entry.topic) || owned.length >= ceiling) continue;
        owner.set(id, member.memberId);
        owned.push(id);
      }
    }
  }
  for (const id of all) {
    if (owner.has(id)) continue;
    const topic = id.slice(0, id.indexOf('\u0000'));
    const target = leastLoaded(sorted, load, topic);
    if (target === undefined) continue;
    owner.set(id, target);
    (load.get(target) as string[]).push(id);
  }
  balance(sorted, load);
  const result = new Map<string, Map<string, number[]>>();
  for (const [memberId, ids] of load) {
    for (const id of ids.sort(comparePartitionIds)) {
      const at = id.indexOf('\u0000');
      addPartition(result, memberId, id.slice(0, at), Number(id.slice(at + 1)));
    }
  }
  return finish(members, result);
};

function allPartitions(members: readonly GroupMember[], partitionCounts: ReadonlyMap<string, number>): string[] {
  const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
  return topics.flatMap((topic) => Array.from({ length: partitionCounts.get(topic) ?? 0 }, (_, partition) => `${topic}\u0000${partition}`));
}

function comparePartitionIds(a: string, b: string): number {
  const [topicA = '', partitionA = '0'] = a.split('\u0000');
  const [topicB = '', partitionB = '0'] = b.split('\u0000');
  return topicA === topicB ? Number(partitionA) - Number(partitionB) : topicA.localeCompare(topicB);
}

function leastLoaded(members: readonly GroupMember[], load: ReadonlyMap<string, string[]>, topic: string): string | undefined {
  let best: string | undefined;
  for (const member of members) {
    if (!member.topics.includes(topic)) continue;
    if (best === undefined || (load.get(member.memberId)?.length ?? 0) < (load.get(best)?.length ?? 0)) best = member.memberId;
  }
  return best;
}

/** Moves partitions from the most to the least loaded eligible member until balanced. */
function balance(members: readonly GroupMember[], load: Map<string, string[]>): void {
  const topicsOf = new Map(members.map((member) => [member.memberId, member.topics]));
  for (let moves = 0; moves < 100_000; moves++) {
    let moved = false;
    const byLoad = [...load].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
    for (const [donor, donated] of byLoad) {
      for (const [receiver, received] of [...byLoad].reverse()) {
        if (donated.length - received.length <= 1) break;
        const index = donated.findLastIndex((id) => topicsOf.get(receiver)?.includes(id.slice(0, id.indexOf('\u0000'))) === true);
        if (index < 0) continue;
        received.push(...donated.splice(index, 1));
        moved = true;
        break;
      }
      if (moved) break;
    }
    if (!moved) return;
  }
}

/**
 * Cooperative sticky (KIP-429): the sticky plan, less every partition that would move from one
 * live member to another. Such a partition is first given up by its owner, which then rejoins;
 * the rebalance that follows assigns it to its new member. Nobody stops work on the partitions
 * it keeps.
 */
export const cooperativeStickyAssignor: Assignor = (members, partitionCounts) => {
  const plan = stickyAssignor(members, partitionCounts);
  const previousOwner = new Map<string, string>();
  for (const member of members) {
    for (const entry of member.ownedPartitions ?? []) for (const partition of entry.partitions) previousOwner.set(`${entry.topic}\u0000${partition}`, member.memberId);
  }
  const result = new Map<string, TopicPartitions[]>();
  for (const [memberId, entries] of plan) {
    result.set(memberId, entries
      .map((entry) => ({ topic: entry.topic, partitions: entry.partitions.filter((partition) => (previousOwner.get(`${entry.topic}\u0000${partition}`) ?? memberId) === memberId) }))
      .filter((entry) => entry.partitions.length > 0));
  }
  return result;
};

/** One member's subscription as the group leader's assignor sees it. */
export interface MemberSubscription {
  readonly topics: readonly string[];
  /** What the member's assignor returned from subscriptionUserData; null when nothing. */
  readonly userData: Buffer | null;
  /** What the member owns now (KIP-429); empty when it owns nothing or did not say. */
  readonly ownedPartitions: readonly TopicPartitions[];
}

/** One member's share of the group's partitions, with what the assignor tells that member. */
export interface MemberAssignment {
  readonly partitions: readonly TopicPartitions[];
  readonly userData: Uint8Array | null;
}

/** What the leader knows of the cluster when it assigns. */
export interface AssignmentMetadata {
  /** Partition count of every topic some member subscribes to; 0 for a topic that does not exist. */
  readonly partitionCounts: ReadonlyMap<string, number>;
}

/**
 * A partition assignor, as Kafka's ConsumerPartitionAssignor: every member offers the assignors
 * it has by name (the JoinGroup protocols, in order of preference) with the subscription user
 * data each one wants; the coordinator picks a name all members offer; the leader runs that
 * assignor over every member's subscription, and each member hears its own assignment, user data
 * included, through onAssignment. Members of one group must agree on what the user data means,
 * so an assignor with user data should have a name of its own.
 */
export interface PartitionAssignor {
  /** The protocol name in JoinGroup and SyncGroup, e.g. 'range'. */
  readonly name: string;
  /**
   * 'cooperative' (KIP-429): members keep the partitions they own through a rebalance and the
   * assignor never moves a partition between two members in one round. Default 'eager'.
   */
  readonly rebalanceProtocol?: 'eager' | 'cooperative';
  /** Bytes that go to the leader with this member's subscription, asked at every join. */
  subscriptionUserData?(topics: readonly string[]): Uint8Array | null;
  /** The leader's job: an assignment per member id; a member left out gets nothing. */
  assign(metadata: AssignmentMetadata, subscriptions: ReadonlyMap<string, MemberSubscription>): Map<string, MemberAssignment> | Promise<Map<string, MemberAssignment>>;
  /** Told this member's assignment after every successful join, before the partitions change hands. */
  onAssignment?(assignment: MemberAssignment, generationId: number): void;
}

/** A PartitionAssignor over an assignor function that reads no user data and writes none. */
export function partitionAssignor(name: string, assignor: Assignor, rebalanceProtocol: 'eager' | 'cooperative' = 'eager'): PartitionAssignor {
  return {
    name,
    rebalanceProtocol,
    assign: (metadata, subscriptions) => {
      const members: GroupMember[] = [...subscriptions].map(([memberId, subscription]) => ({ memberId, topics: subscription.topics, ownedPartitions: subscription.ownedPartitions }));
      const plan = assignor(members, metadata.partitionCounts);
      return new Map([...plan].map(([memberId, partitions]) => [memberId, { partitions, userData: null }]));
    },
  };
}

export type AssignorName = 'range' | 'roundrobin' | 'sticky' | 'cooperative-sticky';
export const ASSIGNOR_NAMES: readonly AssignorName[] = ['range', 'roundrobin', 'sticky', 'cooperative-sticky'];

/** The built-in assignors by the names Kafka's clients give them (partition.assignment.strategy). */
export const BUILT_IN_ASSIGNORS: Readonly<Record<AssignorName, PartitionAssignor>> = {
  range: partitionAssignor('range', rangeAssignor),
  roundrobin: partitionAssignor('roundrobin', roundRobinAssignor),
  sticky: partitionAssignor('sticky', stickyAssignor),
  'cooperative-sticky': partitionAssignor('cooperative-sticky', cooperativeStickyAssignor, 'cooperative'),
};
