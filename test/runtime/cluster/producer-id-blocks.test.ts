// KIP-730 in the controller: blocks of producer ids handed to registered brokers, each one
// committed to the metadata log, so no two blocks (to the same broker or to different ones,
// before or after a controller change) overlap. And the broker side: an allocator that takes
// blocks from the controller hands out each id once and answers null while it has none.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { ClusterView } from '../../../runtime/broker/cluster-view.ts';
import { ProducerIdAllocator } from '../../../runtime/broker/producer-ids.ts';
import { ControllerLogic } from '../../../runtime/cluster/controller-logic.ts';
import { MetadataImage } from '../../../runtime/cluster/metadata-image.ts';
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from '../../../runtime/cluster/metadata-records.ts';

function controllerWithBrokers() {
  const image = new MetadataImage();
  let offset = 0n;
  const commit = (records: MetadataRecord[]): void => {
    for (const record of records) image.apply(decodeMetadataRecord(encodeMetadataRecord(record).value as Buffer), offset++);
  };
  const controller = new ControllerLogic(image, { sessionTimeoutMs: 1000, uncleanLeaderElection: false });
  for (const brokerId of [1, 2]) commit(controller.registerBroker({ brokerId, incarnationId: `i${brokerId}`, host: '127.0.0.1', port: 9000 + brokerId, rack: null }, 0).records);
  return { image, controller, commit };
}

describe('producer id blocks', () => {
  it('never hands out overlapping blocks, also after the image is rebuilt from the log', () => {
    const { image, controller, commit } = controllerWithBrokers();
    const log: MetadataRecord[] = [];
    const blocks: bigint[] = [];
    for (const brokerId of [1, 2, 1, 2]) {
      const epoch = image.brokers.get(brokerId)!.brokerEpoch;
      const outcome = controller.allocateProducerIds(brokerId, epoch, 1000);
      expect(outcome.errorCode).toBe(ErrorCode.NONE);
      blocks.push(outcome.start);
      commit(outcome.records);
      log.push(...outcome.records);
    }
    expect(blocks).toEqual([0n, 1000n, 2000n, 3000n]);
    // A new controller replaying the records continues after the last block.
    const replayed = new MetadataImage();
    log.forEach((record, index) => replayed.apply(record, BigInt(index)));
    expect(replayed.nextProducerId).toBe(4000n);
    expect(controller.allocateProducerIds(3, 0n, 1000).errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
    expect(controller.allocateProducerIds(1, 999n, 1000).errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
  });

  it('a cluster broker hands out ids from its blocks only, and none while it waits for one', async () => {
    let nextStart = 5000n;
    let requests = 0;
    const cluster = { allocateProducerIds: async () => { requests += 1; const start = nextStart; nextStart += 200n; return { errorCode: ErrorCode.NONE, start, length: 200 }; } } as unknown as ClusterView;
    const allocator = new ProducerIdAllocator('/nonexistent', cluster);
    expect(allocator.next()).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const ids: bigint[] = [];
    for (let index = 0; index < 450; index++) {
      let id = allocator.next();
      while (id === null) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        id = allocator.next();
      }
      ids.push(id);
    }
    expect(new Set(ids).size).toBe(450);
    expect(ids[0]).toBe(5000n);
    expect(ids.every((id) => id >= 5000n && id < nextStart)).toBe(true);
    expect(requests).toBeLessThanOrEqual(4);
  });
});
