// The controller's pure logic over an image, for unit tests: a metadata log that commits every
// outcome at once, brokers registered and unfenced in one step, and a new controller that
// replays the same log, as the next active controller would.
import { expect } from 'vitest';
import { ControllerLogic, type Outcome } from '../../runtime/cluster/controller-logic.ts';
import { MetadataImage } from '../../runtime/cluster/metadata-image.ts';
import { decodeMetadataRecord, encodeMetadataRecord, type MetadataRecord } from '../../runtime/cluster/metadata-records.ts';

export function controllerCluster(options: { sessionTimeoutMs?: number; unclean?: boolean } = {}) {
  const image = new MetadataImage();
  const settings = { sessionTimeoutMs: options.sessionTimeoutMs ?? 1000, uncleanLeaderElection: options.unclean ?? false };
  const controller = new ControllerLogic(image, settings);
  const log: MetadataRecord[] = [];
  const commit = (records: MetadataRecord[]): void => {
    for (const record of records) {
      // Every record goes through its wire form, as it does on the real log.
      const decoded = decodeMetadataRecord(encodeMetadataRecord(record).value as Buffer);
      image.apply(decoded, BigInt(log.length));
      log.push(decoded);
    }
  };
  const expectOk = (outcome: Outcome): void => {
    expect(outcome.errorMessage).toBeNull();
    commit(outcome.records);
  };
  /** Registers a broker and unfences it with its first heartbeat. */
  const addBroker = (brokerId: number, nowMs = 0, rack: string | null = null): void => {
    expectOk(controller.registerBroker({ brokerId, incarnationId: `i${brokerId}-${nowMs}`, host: '127.0.0.1', port: 9000 + brokerId, rack }, nowMs));
    const epoch = image.brokers.get(brokerId)!.brokerEpoch;
    expectOk(controller.heartbeat({ brokerId, brokerEpoch: epoch, wantFence: false, wantShutdown: false }, nowMs));
  };
  /** A new controller: its image is the same log replayed. */
  const failover = (): { image: MetadataImage; controller: ControllerLogic } => {
    const replayed = new MetadataImage();
    log.forEach((record, index) => replayed.apply(record, BigInt(index)));
    return { image: replayed, controller: new ControllerLogic(replayed, settings) };
  };
  return { image, controller, log, commit, expectOk, addBroker, failover };
}
