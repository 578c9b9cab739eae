// ListPartitionReassignments, version 0 (KIP-455): the reassignments in progress, with each
// partition's replicas and the ones being added and removed. Null topics asks for all. In a
// cluster the active controller answers from the committed metadata; a single-node broker
// never has one in progress.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const listPartitionReassignments = defineHandler({
  apiKey: ApiKey.ListPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  handle(request, { broker }) {
    if (broker.cluster !== null) return broker.cluster.listPartitionReassignments(request);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] };
  },
});
