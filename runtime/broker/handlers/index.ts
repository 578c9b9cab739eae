// Every API this broker serves, in key order. ApiVersions advertises exactly this list.
import type { ApiHandler } from '../handler.ts';
import { produce } from './00-produce.ts';
import { fetch } from './01-fetch.ts';
import { listOffsets } from './02-list-offsets.ts';
import { metadata } from './03-metadata.ts';
import { offsetCommit } from './08-offset-commit.ts';
import { offsetFetch } from './09-offset-fetch.ts';
import { findCoordinator } from './10-find-coordinator.ts';
import { joinGroup } from './11-join-group.ts';
import { heartbeat } from './12-heartbeat.ts';
import { leaveGroup } from './13-leave-group.ts';
import { syncGroup } from './14-sync-group.ts';
import { describeGroups } from './15-describe-groups.ts';
import { listGroups } from './16-list-groups.ts';
import { apiVersions } from './18-api-versions.ts';
import { createTopics } from './19-create-topics.ts';
import { deleteTopics } from './20-delete-topics.ts';
import { deleteRecords } from './21-delete-records.ts';
import { initProducerId } from './22-init-producer-id.ts';
import { offsetForLeaderEpoch } from './23-offset-for-leader-epoch.ts';
import { addPartitionsToTxn } from './24-add-partitions-to-txn.ts';
import { addOffsetsToTxn } from './25-add-offsets-to-txn.ts';
import { endTxn } from './26-end-txn.ts';
import { writeTxnMarkers } from './27-write-txn-markers.ts';
import { txnOffsetCommit } from './28-txn-offset-commit.ts';
import { describeConfigs } from './32-describe-configs.ts';
import { alterConfigs } from './33-alter-configs.ts';
import { createPartitions } from './37-create-partitions.ts';
import { deleteGroups } from './42-delete-groups.ts';
import { incrementalAlterConfigs } from './44-incremental-alter-configs.ts';
import { alterPartitionReassignments } from './45-alter-partition-reassignments.ts';
import { listPartitionReassignments } from './46-list-partition-reassignments.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of handlers of different keys
type AnyHandler = ApiHandler<any>;

export const HANDLERS: readonly AnyHandler[] = [
  produce, fetch, listOffsets, metadata, offsetCommit, offsetFetch, findCoordinator, joinGroup, heartbeat, leaveGroup,
  syncGroup, describeGroups, listGroups, apiVersions, createTopics, deleteTopics, deleteRecords, initProducerId, offsetForLeaderEpoch,
  addPartitionsToTxn, addOffsetsToTxn, endTxn, writeTxnMarkers, txnOffsetCommit, describeConfigs, alterConfigs, createPartitions, deleteGroups, incrementalAlterConfigs,
  alterPartitionReassignments, listPartitionReassignments,
];

const BY_KEY = new Map<number, AnyHandler>(HANDLERS.map((handler) => [handler.apiKey as number, handler]));

export function handlerFor(apiKey: number): AnyHandler | undefined {
  return BY_KEY.get(apiKey);
}
