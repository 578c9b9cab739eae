// The decisions of the active controller, as pure code over the committed MetadataImage: it
// turns broker registrations, heartbeats, topic creations and ISR proposals into metadata
// records, and the quorum commits them. Nothing here changes the image; records take effect
// when every node applies them after commit. The driver (controller-service.ts) runs one
// operation at a time and waits for its records to commit before the next one, so each
// decision sees the effects of the one before.
//
// Liveness is the one piece of state kept beside the image: when each broker last heartbeat.
// It is not replicated; a newly active controller gives every broker a full session first.
import { ErrorCode } from '../../core/protocol/errors.ts';
import { isReassigning, originalReplicas, targetReplicas, type MetadataImage, type PartitionImage, type TopicImage } from './metadata-image.ts';
import type { MetadataRecord } from './metadata-records.ts';

export interface ControllerSettings {
  /** broker.session.timeout.ms: a broker silent for this long is fenced. */
  sessionTimeoutMs: number;
  /** unclean.leader.election.enable, the cluster default; a topic config may override it. */
  uncleanLeaderElection: boolean;
}

export type Outcome = { errorCode: number; errorMessage: string | null; records: MetadataRecord[] };

const ok = (records: MetadataRecord[]): Outcome => ({ errorCode: ErrorCode.NONE, errorMessage: null, records });
const failed = (errorCode: number, errorMessage: string): Outcome => ({ errorCode, errorMessage, records: [] });

export interface RegistrationRequest {
  brokerId: number;
  incarnationId: string;
  host: string;
  port: number;
  rack: string | null;
}

export interface HeartbeatRequest {
  brokerId: number;
  brokerEpoch: bigint;
  /** The broker asks to stay fenced (it has not caught up with the metadata log yet). */
  wantFence: boolean;
  /** The broker is shutting down and asks to be fenced (controlled shutdown). */
  wantShutdown: boolean;
}

export interface AlterPartitionRequest {
  brokerId: number;
  topicId: string;
  partition: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: number[];
}

export interface ReassignmentRequest {
  topic: string;
  partition: number;
  /** The target replicas, the first preferred as leader; null cancels the reassignment in progress. */
  replicas: number[] | null;
}

type PartitionChange = Extract<MetadataRecord, { type: 'PartitionChange' }>;

export class ControllerLogic {
  private readonly lastHeartbeatMs = new Map<number, number>();

  constructor(private readonly image: MetadataImage, private readonly settings: ControllerSettings) {}

  /** Called when this node becomes the active controller: every broker starts a fresh session. */
  activate(nowMs: number): void {
    this.lastHeartbeatMs.clear();
    for (const brokerId of this.image.brokers.keys()) this.lastHeartbeatMs.set(brokerId, nowMs);
  }

  registerBroker(request: RegistrationRequest, nowMs: number): Outcome {
    const existing = this.image.brokers.get(request.brokerId);
    // The same process registering again (a lost answer) gets its registration back unchanged.
    if (existing !== undefined && existing.incarnationId === request.incarnationId) return ok([]);
    this.lastHeartbeatMs.set(request.brokerId, nowMs);
    // A re-registration replaces the old one; the old process is gone or about to be fenced by
    // its stale broker epoch. Its partitions are led elsewhere until the new one catches up.
    const records: MetadataRecord[] = [];
    if (existing !== undefined && !existing.fenced) records.push(...this.fenceRecords(request.brokerId, existing.brokerEpoch));
    records.push({ type: 'RegisterBroker', ...request });
    return ok(records);
  }

  heartbeat(request: HeartbeatRequest, nowMs: number): Outcome {
    const broker = this.image.brokers.get(request.brokerId);
    if (broker === undefined) return failed(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${request.brokerId} is not registered`);
    if (broker.brokerEpoch !== request.brokerEpoch) return failed(ErrorCode.STALE_BROKER_EPOCH, `broker epoch ${request.brokerEpoch} is not ${broker.brokerEpoch}`);
    this.lastHeartbeatMs.set(request.brokerId, nowMs);
    if (request.wantShutdown) return broker.fenced ? ok([]) : ok(this.fenceRecords(request.brokerId, broker.brokerEpoch));
    if (broker.fenced && !request.wantFence) return ok(this.unfenceRecords(request.brokerId, broker.brokerEpoch));
    return ok([]);
  }

  /** Fences every unfenced broker whose session has expired, with the partition changes that follow. */
  expireSessions(nowMs: number): MetadataRecord[] {
    const records: MetadataRecord[] = [];
    for (const broker of this.image.brokers.values()) {
      if (broker.fenced) continue;
      const last = this.lastHeartbeatMs.get(broker.brokerId) ?? nowMs;
      if (!this.lastHeartbeatMs.has(broker.brokerId)) this.lastHeartbeatMs.set(broker.brokerId, nowMs);
      if (nowMs - last >= this.settings.sessionTimeoutMs) records.push(...this.fenceRecords(broker.brokerId, broker.brokerEpoch));
    }
    return records;
  }

  createTopic(name: string, partitionCount: number, replicationFactor: number, configs: Record<string, string>, topicId: string): Outcome {
    if (this.image.topics.has(name)) return failed(ErrorCode.TOPIC_ALREADY_EXISTS, `topic '${name}' already exists`);
    const brokers = this.assignableBrokers();
    if (replicationFactor < 1 || replicationFactor > brokers.length) {
      return failed(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${replicationFactor} needs that many live brokers; ${brokers.length} are live`);
    }
    const records: MetadataRecord[] = [{ type: 'Topic', name, topicId }];
    for (const [key, value] of Object.entries(configs)) records.push({ type: 'Config', resourceType: 'topic', resourceName: name, name: key, value });
    for (let partition = 0; partition < partitionCount; partition++) {
      const replicas = assignReplicas(brokers, partition, replicationFactor);
      records.push({ type: 'Partition', topicId, partition, replicas, isr: [...replicas], leader: replicas[0] as number, leaderEpoch: 0, partitionEpoch: 0 });
    }
    return ok(records);
  }

  /** Adds partitions to an existing topic, placed as if the topic had been created with them. */
  createPartitions(name: string, count: number): Outcome {
    const topic = this.image.topics.get(name);
    if (topic === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    if (count <= topic.partitions.length) return failed(ErrorCode.INVALID_PARTITIONS, `topic '${name}' has ${topic.partitions.length} partitions; the new count must be larger`);
    const replicationFactor = topic.partitions[0]?.replicas.length ?? 1;
    const brokers = this.assignableBrokers();
    if (replicationFactor > brokers.length) return failed(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${replicationFactor} needs that many live brokers`);
    const records: MetadataRecord[] = [];
    for (let partition = topic.partitions.length; partition < count; partition++) {
      const replicas = assignReplicas(brokers, partition, replicationFactor);
      records.push({ type: 'Partition', topicId: topic.topicId, partition, replicas, isr: [...replicas], leader: replicas[0] as number, leaderEpoch: 0, partitionEpoch: 0 });
    }
    return ok(records);
  }

  deleteTopic(name: string): Outcome {
    const topic = this.image.topics.get(name);
    if (topic === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${name}' does not exist`);
    return ok([{ type: 'RemoveTopic', topicId: topic.topicId }]);
  }

  /**
   * AllocateProducerIds (KIP-730): the next block of producer ids for a registered broker. The
   * record moves the cluster's next id past the block, so the block is the broker's alone.
   */
  allocateProducerIds(brokerId: number, brokerEpoch: bigint, blockSize: number): Outcome & { start: bigint } {
    const broker = this.image.brokers.get(brokerId);
    if (broker === undefined) return { ...failed(ErrorCode.BROKER_ID_NOT_REGISTERED, `broker ${brokerId} is not registered`), start: -1n };
    if (broker.brokerEpoch !== brokerEpoch) return { ...failed(ErrorCode.STALE_BROKER_EPOCH, `broker epoch ${brokerEpoch} is not ${broker.brokerEpoch}`), start: -1n };
    const start = this.image.nextProducerId;
    return { ...ok([{ type: 'ProducerIds', brokerId, brokerEpoch, nextProducerId: start + BigInt(blockSize) }]), start };
  }

  /** A leader proposes a new ISR (KIP-497). Refused when it is stale or names an ineligible replica. */
  alterPartition(request: AlterPartitionRequest): Outcome {
    const topic = this.image.topicsById.get(request.topicId);
    const partition = topic?.partitions[request.partition];
    if (topic === undefined || partition === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'no such partition');
    if (partition.leader !== request.brokerId) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER, `broker ${request.brokerId} does not lead this partition`);
    if (request.leaderEpoch !== partition.leaderEpoch) return failed(ErrorCode.FENCED_LEADER_EPOCH, `leader epoch ${request.leaderEpoch} is not ${partition.leaderEpoch}`);
    if (request.partitionEpoch !== partition.partitionEpoch) return failed(ErrorCode.INVALID_UPDATE_VERSION, `partition epoch ${request.partitionEpoch} is not ${partition.partitionEpoch}`);
    const newIsr = [...new Set(request.newIsr)];
    if (!newIsr.includes(request.brokerId)) return failed(ErrorCode.INVALID_REQUEST, 'the new ISR must contain the leader');
    for (const replica of newIsr) {
      const broker = this.image.brokers.get(replica);
      if (!partition.replicas.includes(replica) || broker === undefined || broker.fenced) {
        return failed(ErrorCode.INELIGIBLE_REPLICA, `replica ${replica} may not join the ISR`);
      }
    }
    const completion = this.completion(topic, partition, newIsr);
    return ok([completion ?? { type: 'PartitionChange', topicId: topic.topicId, partition: request.partition, isr: newIsr }]);
  }

  /**
   * Starts, replaces or cancels (replicas null) the reassignment of one partition, KIP-455's
   * way: the replicas become the target followed by the original ones not in it; the target
   * replicas outside the original are adding, the original ones outside the target removing.
   * The reassignment completes (alterPartition) once every target replica is in the ISR: then
   * the removing replicas leave and, if the leader was one of them, a target replica leads.
   */
  alterReassignment(request: ReassignmentRequest): Outcome {
    const topic = this.image.topics.get(request.topic);
    const partition = topic?.partitions[request.partition];
    if (topic === undefined || partition === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${request.topic}-${request.partition}`);
    const original = originalReplicas(partition);
    let target: number[];
    if (request.replicas === null) {
      if (!isReassigning(partition)) return failed(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `${request.topic}-${request.partition} is not being reassigned`);
      target = original;
    } else {
      const problem = this.assignmentProblem(request.replicas);
      if (problem !== null) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, problem);
      target = [...request.replicas];
    }
    const replicas = [...target, ...original.filter((replica) => !target.includes(replica))];
    const isr = partition.isr.filter((replica) => replicas.includes(replica));
    if (isr.length === 0) return failed(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `no replica of [${replicas.join(',')}] is in sync (ISR ${partition.isr.join(',')})`);
    const adding = target.filter((replica) => !original.includes(replica));
    const removing = original.filter((replica) => !target.includes(replica));
    const unchanged = sameMembers(replicas, partition.replicas) && sameMembers(adding, partition.addingReplicas) && sameMembers(removing, partition.removingReplicas)
      && replicas.every((replica, index) => partition.replicas[index] === replica);
    if (unchanged) return ok([]);
    const moved: PartitionImage = { ...partition, replicas, isr, addingReplicas: adding, removingReplicas: removing };
    const completion = this.completion(topic, moved, isr);
    if (completion !== null) return ok([completion]);
    const leader = this.electLeader(topic, moved, isr, new Set());
    return ok([{
      type: 'PartitionChange', topicId: topic.topicId, partition: partition.partition, replicas, isr: leader.isr, leader: leader.leader,
      addingReplicas: adding, removingReplicas: removing,
    }]);
  }

  /** Why a target replica list cannot be used, or null when it can. */
  private assignmentProblem(replicas: readonly number[]): string | null {
    if (replicas.length === 0) return 'the target replica list is empty';
    if (new Set(replicas).size !== replicas.length) return `the target replicas [${replicas.join(',')}] name a broker twice`;
    for (const replica of replicas) {
      const broker = this.image.brokers.get(replica);
      if (broker === undefined) return `broker ${replica} is not registered`;
      if (broker.fenced) return `broker ${replica} is fenced (not alive)`;
    }
    return null;
  }

  /**
   * The change that completes a reassignment once every target replica is in `isr`: replicas
   * become the target, the removing ones leave the ISR, and the leader stays if it is a target
   * replica, else the first live in-sync target replica leads. Null when not complete yet.
   */
  private completion(topic: TopicImage, partition: PartitionImage, isr: number[]): PartitionChange | null {
    if (!isReassigning(partition)) return null;
    const target = targetReplicas(partition);
    if (!target.every((replica) => isr.includes(replica))) return null;
    const targetIsr = isr.filter((replica) => target.includes(replica));
    const done: PartitionImage = { ...partition, replicas: target, isr: targetIsr, addingReplicas: [], removingReplicas: [] };
    const leader = this.electLeader(topic, done, targetIsr, new Set());
    if (leader.leader < 0) return null;
    return {
      type: 'PartitionChange', topicId: topic.topicId, partition: partition.partition, replicas: target, isr: leader.isr, leader: leader.leader,
      addingReplicas: [], removingReplicas: [],
    };
  }

  /** Brokers that may receive new replicas: registered and unfenced, in rack-alternating order. */
  private assignableBrokers(): { brokerId: number; rack: string | null }[] {
    return rackAlternating(this.image.liveBrokers());
  }

  private fenceRecords(brokerId: number, brokerEpoch: bigint): MetadataRecord[] {
    const records: MetadataRecord[] = [{ type: 'BrokerRegistrationChange', brokerId, brokerEpoch, fenced: true }];
    const unavailable = new Set([brokerId]);
    for (const { topic, partition } of this.image.allPartitions()) {
      if (!partition.isr.includes(brokerId) && partition.leader !== brokerId) continue;
      // The ISR never empties: the last member stays in it, so that without unclean election
      // only that replica (which has every acknowledged record) may lead again.
      const shrunk = partition.isr.filter((replica) => replica !== brokerId);
      const isr = shrunk.length === 0 ? partition.isr : shrunk;
      const change = this.electLeader(topic, partition, isr, unavailable);
      records.push({ type: 'PartitionChange', topicId: topic.topicId, partition: partition.partition, isr: change.isr, leader: change.leader });
    }
    return records;
  }

  private unfenceRecords(brokerId: number, brokerEpoch: bigint): MetadataRecord[] {
    const records: MetadataRecord[] = [{ type: 'BrokerRegistrationChange', brokerId, brokerEpoch, fenced: false }];
    for (const { topic, partition } of this.image.allPartitions()) {
      if (partition.leader >= 0 || !partition.replicas.includes(brokerId)) continue;
      const change = this.electLeader(topic, partition, partition.isr, new Set(), brokerId);
      if (change.leader >= 0) records.push({ type: 'PartitionChange', topicId: topic.topicId, partition: partition.partition, isr: change.isr, leader: change.leader });
    }
    return records;
  }

  /**
   * Picks a leader: the current one if it stays eligible, else the first replica in assignment
   * order that is in the ISR and live. Only with unclean election may a live replica outside
   * the ISR lead, and then the ISR restarts as that replica alone. `extraLive` counts a broker
   * as live that this same operation unfences.
   */
  private electLeader(topic: TopicImage, partition: PartitionImage, isr: number[], unavailable: ReadonlySet<number>, extraLive = -1): { leader: number; isr: number[] } {
    const live = (replica: number): boolean =>
      !unavailable.has(replica) && (replica === extraLive || this.image.brokers.get(replica)?.fenced === false);
    if (partition.leader >= 0 && isr.includes(partition.leader) && live(partition.leader)) return { leader: partition.leader, isr };
    const clean = partition.replicas.find((replica) => isr.includes(replica) && live(replica));
    if (clean !== undefined) return { leader: clean, isr };
    if (this.uncleanAllowed(topic)) {
      const unclean = partition.replicas.find(live);
      if (unclean !== undefined) return { leader: unclean, isr: [unclean] };
    }
    return { leader: -1, isr };
  }

  private uncleanAllowed(topic: TopicImage): boolean {
    const override = topic.configs['unclean.leader.election.enable'];
    return override === undefined ? this.settings.uncleanLeaderElection : override === 'true';
  }
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value) => b.includes(value));
}

/**
 * Kafka's placement: replica j of partition i goes on broker (i + j) mod n of the broker list.
 * With racks the list alternates racks, so consecutive replicas land on different racks.
 */
export function assignReplicas(brokers: readonly { brokerId: number }[], partition: number, replicationFactor: number): number[] {
  if (replicationFactor > brokers.length) throw new Error(`assertion: replication factor ${replicationFactor} > ${brokers.length} brokers`);
  const replicas: number[] = [];
  for (let replica = 0; replica < replicationFactor; replica++) {
    replicas.push((brokers[(partition + replica) % brokers.length] as { brokerId: number }).brokerId);
  }
  return replicas;
}

/**
 * Orders brokers so that racks alternate: the first broker of each rack (racks sorted by name),
 * then the second of each, and so on. Without racks it is the brokers by id.
 */
export function rackAlternating<T extends { brokerId: number; rack: string | null }>(brokers: readonly T[]): T[] {
  const sorted = [...brokers].sort((a, b) => a.brokerId - b.brokerId);
  if (sorted.every((broker) => broker.rack === null)) return sorted;
  const byRack = new Map<string, T[]>();
  for (const broker of sorted) {
    const rack = broker.rack ?? '';
    let list = byRack.get(rack);
    if (list === undefined) byRack.set(rack, list = []);
    list.push(broker);
  }
  const racks = [...byRack.keys()].sort();
  const result: T[] = [];
  for (let round = 0; result.length < sorted.length; round++) {
    for (const rack of racks) {
      const broker = byRack.get(rack)?.[round];
      if (broker !== undefined) result.push(broker);
    }
  }
  return result;
}
