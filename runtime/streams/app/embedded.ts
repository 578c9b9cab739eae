// `bootstrap.servers: 'embedded'`: a single-node Runnel broker started inside the application's
// process on a data directory, for development and demos. Its modules load only when asked for,
// so an application that talks to a real cluster never pays for them.
import type { Broker } from '../../broker/broker.ts';

export interface EmbeddedBroker {
  readonly bootstrap: string;
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(dataDirectory: string): Promise<EmbeddedBroker> {
  const { Broker: BrokerClass } = await import('../../broker/broker.ts');
  const { resolveBrokerConfig } = await import('../../broker/config.ts');
  const config = resolveBrokerConfig({
    'log.dirs': dataDirectory,
    listeners: 'PLAINTEXT://127.0.0.1:0',
    // One member joins at a time in development; waiting for more would only slow start-up.
    'group.initial.rebalance.delay.ms': 0,
  });
  const broker: Broker = await BrokerClass.start(config);
  const { host, port } = broker.advertisedAddress;
  return { bootstrap: `${host}:${port}`, stop: () => broker.stop() };
}
