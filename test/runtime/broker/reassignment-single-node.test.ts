// A single-node broker serves AlterPartitionReassignments and ListPartitionReassignments (it
// advertises them like every handler) but has nothing to move: one replica per partition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { Admin } from '../../../runtime/client/admin.ts';
import { KafkaProtocolError } from '../../../runtime/client/errors.ts';
import { cleanup, startBroker, type BrokerProcess } from '../../helpers/broker.ts';

let broker: BrokerProcess;
let admin: Admin;

beforeAll(async () => {
  broker = await startBroker();
  admin = new Admin({ bootstrapServers: broker.bootstrap, clientId: 'reassignment-single' });
  await admin.createTopics([{ topic: 'single', numPartitions: 1, replicationFactor: 1 }]);
});

afterAll(async () => {
  await admin?.close();
  await cleanup();
});

async function codeOf(run: () => Promise<unknown>): Promise<number> {
  try {
    await run();
    return ErrorCode.NONE;
  } catch (error) {
    if (error instanceof KafkaProtocolError) return error.code;
    throw error;
  }
}

describe('partition reassignment on a single node', () => {
  it('lists none and refuses moves, cancellations and unknown partitions with their Kafka errors', async () => {
    expect(await admin.listPartitionReassignments()).toEqual([]);
    expect(await codeOf(() => admin.alterPartitionReassignments([{ topic: 'single', partition: 0, replicas: [1, 2] }]))).toBe(ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    expect(await codeOf(() => admin.alterPartitionReassignments([{ topic: 'single', partition: 0, replicas: null }]))).toBe(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
    expect(await codeOf(() => admin.alterPartitionReassignments([{ topic: 'single', partition: 3, replicas: [1] }]))).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});
