// The records the group coordinator keeps in __consumer_offsets, in Kafka's own layout so that
// the topic reads the same as Kafka's:
//   offset commit key   => version i16 (1) | group string | topic string | partition i32
//   offset commit value => version i16 (3) | offset i64 | leaderEpoch i32 | metadata string | commitTimestamp i64
//   group metadata key  => version i16 (2) | group string
//   group metadata value (our own, version 100) => JSON of the group's generation, protocol,
//     leader and members (byte fields in base64), so that a coordinator that takes the group
//     over keeps its members, as Kafka's GroupMetadata value does
// A null value is a tombstone: the offset or the group was deleted.
import { z } from 'zod';

export type OffsetsTopicKey =
  | { kind: 'offset'; group: string; topic: string; partition: number }
  | { kind: 'group'; group: string };

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: bigint;
}

/** Who a member is and its timeouts: the same in its JoinGroup, while it is a member, and stored. */
export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
}

/** The identity fields alone, so that nothing else of the object they come from is copied along. */
export function memberIdentity(member: MemberIdentity): MemberIdentity {
  const { memberId, groupInstanceId, clientId, clientHost, sessionTimeoutMs, rebalanceTimeoutMs } = member;
  return { memberId, groupInstanceId, clientId, clientHost, sessionTimeoutMs, rebalanceTimeoutMs };
}

export interface StoredGroupMember extends MemberIdentity {
  /** The member's metadata for the group's protocol (a consumer's subscription). */
  protocolMetadata: Buffer;
  assignment: Buffer;
}

export interface StoredGroupMetadata {
  protocolType: string | null;
  generationId: number;
  protocolName: string | null;
  /** The members of a Stable generation; absent in records written before members were stored. */
  leaderId?: string | null;
  members?: StoredGroupMember[];
}

function writeString(parts: Buffer[], text: string | null): void {
  const header = Buffer.alloc(2);
  if (text === null) {
    header.writeInt16BE(-1);
    parts.push(header);
    return;
  }
  const body = Buffer.from(text, 'utf8');
  header.writeInt16BE(body.length);
  parts.push(header, body);
}

function readString(buffer: Buffer, position: { at: number }): string | null {
  const length = buffer.readInt16BE(position.at);
  position.at += 2;
  if (length < 0) return null;
  if (position.at + length > buffer.length) throw new RangeError('string runs past the record');
  const text = buffer.toString('utf8', position.at, position.at + length);
  position.at += length;
  return text;
}

export function encodeOffsetsKey(key: OffsetsTopicKey): Buffer {
  const parts: Buffer[] = [];
  const version = Buffer.alloc(2);
  version.writeInt16BE(key.kind === 'offset' ? 1 : 2);
  parts.push(version);
  writeString(parts, key.group);
  if (key.kind === 'offset') {
    writeString(parts, key.topic);
    const partition = Buffer.alloc(4);
    partition.writeInt32BE(key.partition);
    parts.push(partition);
  }
  return Buffer.concat(parts);
}

export function decodeOffsetsKey(buffer: Buffer): OffsetsTopicKey | null {
  const position = { at: 2 };
  const version = buffer.readInt16BE(0);
  if (version === 0 || version === 1) {
    const group = readString(buffer, position) ?? '';
    const topic = readString(buffer, position) ?? '';
    return { kind: 'offset', group, topic, partition: buffer.readInt32BE(position.at) };
  }
  if (version === 2) return { kind: 'group', group: readString(buffer, position) ?? '' };
  return null;
}

export function encodeCommittedOffset(value: CommittedOffset): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(14);
  head.writeInt16BE(3, 0);
  head.writeBigInt64BE(value.offset, 2);
  head.writeInt32BE(value.leaderEpoch, 10);
  parts.push(head);
  writeString(parts, value.metadata);
  const tail = Buffer.alloc(8);
  tail.writeBigInt64BE(value.commitTimestampMs);
  parts.push(tail);
  return Buffer.concat(parts);
}

export function decodeCommittedOffset(buffer: Buffer): CommittedOffset {
  const version = buffer.readInt16BE(0);
  const offset = buffer.readBigInt64BE(2);
  const position = { at: 10 };
  let leaderEpoch = -1;
  if (version >= 3) {
    leaderEpoch = buffer.readInt32BE(10);
    position.at = 14;
  }
  const metadata = readString(buffer, position);
  const commitTimestampMs = buffer.readBigInt64BE(position.at);
  return { offset, leaderEpoch, metadata, commitTimestampMs };
}

export function encodeGroupMetadata(value: StoredGroupMetadata): Buffer {
  const head = Buffer.alloc(2);
  head.writeInt16BE(100);
  const members = value.members?.map((member) => ({
    ...member, protocolMetadata: member.protocolMetadata.toString('base64'), assignment: member.assignment.toString('base64'),
  }));
  return Buffer.concat([head, Buffer.from(JSON.stringify({ ...value, members }), 'utf8')]);
}

const storedMemberSchema = z.object({
  memberId: z.string(), groupInstanceId: z.string().nullable(), clientId: z.string(), clientHost: z.string(),
  sessionTimeoutMs: z.number().int().positive(), rebalanceTimeoutMs: z.number().int().nonnegative(),
  protocolMetadata: z.string().transform((text) => Buffer.from(text, 'base64')),
  assignment: z.string().transform((text) => Buffer.from(text, 'base64')),
});

const storedGroupSchema = z.object({
  protocolType: z.string().nullable(),
  generationId: z.number().int(),
  protocolName: z.string().nullable(),
  leaderId: z.string().nullable().optional(),
  members: z.array(storedMemberSchema).optional(),
});

/** Null for a value of another version or one that does not parse (it is skipped, not trusted). */
export function decodeGroupMetadata(buffer: Buffer): StoredGroupMetadata | null {
  if (buffer.readInt16BE(0) !== 100) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(buffer.toString('utf8', 2));
  } catch {
    return null;
  }
  const result = storedGroupSchema.safeParse(parsed);
  if (!result.success) return null;
  const { leaderId, members, ...rest } = result.data;
  return { ...rest, ...(leaderId === undefined ? {} : { leaderId }), ...(members === undefined ? {} : { members }) };
}

/** Java's String.hashCode, which decides a group's __consumer_offsets partition. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index++) hash = (Math.imul(hash, 31) + text.charCodeAt(index)) | 0;
  return hash;
}

export function offsetsPartitionFor(group: string, partitionCount: number): number {
  const hash = javaStringHash(group);
  // Kafka's Utils.abs maps Integer.MIN_VALUE to 0 rather than overflowing.
  const positive = hash === -2147483648 ? 0 : Math.abs(hash);
  return positive % partitionCount;
}
