// A broker's standing with the controller: it registers (BrokerRegistration) and then
// heartbeats every broker.heartbeat.interval.ms (BrokerHeartbeat). The controller keeps it
// fenced until it has caught up with the metadata log up to its own registration, and fences
// it again when its heartbeats stop for broker.session.timeout.ms. A stale broker epoch (the
// controller fenced and replaced this registration) makes it register again.
//
// Requests go to the active controller: the quorum's leader when this node knows it, else
// each voter in turn until one answers without NOT_CONTROLLER.
import { randomUUID } from 'node:crypto';
import { ApiKey, type BodyInput, type RequestBodyByKey, type ResponseBodyByKey } from '../../core/protocol/index.ts';
import { LIMITS } from '../../core/limits.ts';
import { ErrorCode } from '../../core/protocol/errors.ts';
import type { Logger } from '../logger.ts';
import { CONTROLLER_VERSIONS } from './controller-service.ts';
import type { MetadataImage } from './metadata-image.ts';
import { VoterChannels, type Endpoint, type RequestChannel } from './request-channel.ts';

const REGISTRATION_RETRY_MS = 100;
const CONTROLLER_REQUEST_TIMEOUT_MS = LIMITS.controllerRequestTimeoutMs;
/** Pause between rounds of tries at the voters while none is the active controller. */
const CONTROLLER_RETRY_PAUSE_MIN_MS = 20;
const CONTROLLER_RETRY_PAUSE_MAX_MS = 250;
/** How long a stopping broker tries to reach a controller before it goes unfenced by it. */
const CONTROLLED_SHUTDOWN_WAIT_MS = 1_000;

export interface BrokerLifecycleOptions {
  brokerId: number;
  clusterId: string;
  listener: () => Endpoint;
  rack: string | null;
  voters: ReadonlyMap<number, Endpoint>;
  heartbeatIntervalMs: number;
  image: MetadataImage;
  /** The controller this node believes active, -1 when it does not know. */
  controllerHint: () => number;
  logger: Logger;
}

type ControllerKey = keyof typeof CONTROLLER_VERSIONS;

export class BrokerLifecycle {
  readonly incarnationId = randomUUID();
  brokerEpoch = -1n;
  fenced = true;
  private readonly channels: VoterChannels;
  private rotation = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: BrokerLifecycleOptions) {
    this.channels = new VoterChannels(options.voters, `broker-${options.brokerId}`);
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.beat().then((nextMs) => this.schedule(nextMs));
    }, delayMs);
  }

  /** One registration or heartbeat; returns when to run the next. */
  private async beat(): Promise<number> {
    try {
      if (this.brokerEpoch < 0n) return (await this.register()) ? 0 : REGISTRATION_RETRY_MS;
      const response = await this.heartbeat(false);
      if (response.errorCode === ErrorCode.STALE_BROKER_EPOCH || response.errorCode === ErrorCode.BROKER_ID_NOT_REGISTERED) {
        this.options.logger.warn('registration lost; registering again', { errorCode: response.errorCode });
        this.brokerEpoch = -1n;
        return 0;
      }
      if (response.errorCode === ErrorCode.NONE) this.fenced = response.isFenced;
    } catch (error) {
      this.options.logger.debug('controller request failed', { error: (error as Error).message });
    }
    return this.options.heartbeatIntervalMs;
  }

  private async register(): Promise<boolean> {
    const { host, port } = this.options.listener();
    const response = await this.sendToController(ApiKey.BrokerRegistration, {
      brokerId: this.options.brokerId, clusterId: this.options.clusterId, incarnationId: this.incarnationId,
      listeners: [{ name: 'PLAINTEXT', host, port, securityProtocol: 0 }], features: [], rack: this.options.rack,
    });
    if (response.errorCode !== ErrorCode.NONE) return false;
    this.brokerEpoch = response.brokerEpoch;
    this.options.logger.info('registered with the controller', { brokerEpoch: String(this.brokerEpoch) });
    return true;
  }

  private heartbeat(wantShutdown: boolean, timeoutMs: number = CONTROLLER_REQUEST_TIMEOUT_MS): Promise<ResponseBodyByKey[63]> {
    // The broker asks to stay fenced until its image holds its own registration.
    const caughtUp = this.options.image.appliedOffset > this.brokerEpoch;
    return this.sendToController(ApiKey.BrokerHeartbeat, {
      brokerId: this.options.brokerId, brokerEpoch: this.brokerEpoch, currentMetadataOffset: this.options.image.appliedOffset - 1n,
      wantFence: !caughtUp, wantShutDown: wantShutdown,
    }, timeoutMs);
  }

  /**
   * Sends to the active controller, trying the voters in turn on NOT_CONTROLLER or a broken
   * connection, with a growing pause between rounds, until one answers or the controller
   * request timeout has passed. An election (or a controller slowed by load) can leave no
   * active controller for longer than a few quick retries; like Kafka's forwarding, the broker
   * keeps trying for the request's time rather than failing the client's request at once.
   */
  async sendToController<K extends ControllerKey>(apiKey: K, body: BodyInput<RequestBodyByKey[K]>, timeoutMs: number = CONTROLLER_REQUEST_TIMEOUT_MS): Promise<ResponseBodyByKey[K]> {
    const voterIds = [...this.options.voters.keys()];
    const deadline = Date.now() + timeoutMs;
    let lastError: Error = new Error('no controller');
    let pauseMs = CONTROLLER_RETRY_PAUSE_MIN_MS;
    for (let attempt = 0; ; attempt++) {
      const hint = this.options.controllerHint();
      const target = attempt % voterIds.length === 0 && this.options.voters.has(hint) ? hint : voterIds[this.rotation++ % voterIds.length] as number;
      const remainingMs = deadline - Date.now();
      try {
        const response = await this.channel(target).send(apiKey, CONTROLLER_VERSIONS[apiKey], body, Math.max(1, remainingMs));
        if (!isNotController(response)) return response;
        lastError = new Error(`node ${target} is not the active controller`);
      } catch (error) {
        lastError = error as Error;
      }
      if (Date.now() + pauseMs >= deadline) throw lastError;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
      if ((attempt + 1) % voterIds.length === 0) pauseMs = Math.min(pauseMs * 2, CONTROLLER_RETRY_PAUSE_MAX_MS);
    }
  }

  private channel(controllerId: number): RequestChannel {
    return this.channels.get(controllerId);
  }

  /**
   * Stops heartbeating. `controlled` first asks to be fenced (controlled shutdown) so that
   * leadership moves before the process goes; returns whether the controller fenced it.
   */
  async shutdown(controlled: boolean): Promise<boolean> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.closed = true;
    let fenced = false;
    if (controlled && this.brokerEpoch >= 0n) {
      try {
        fenced = (await this.heartbeat(true, CONTROLLED_SHUTDOWN_WAIT_MS)).isFenced;
      } catch {
        // The controller is unreachable; the session timeout fences this broker instead.
      }
      this.options.logger.info('controlled shutdown', { fenced });
    }
    this.channels.closeAll();
    return fenced;
  }
}

function isNotController(response: object): boolean {
  if ('errorCode' in response && response.errorCode === ErrorCode.NOT_CONTROLLER) return true;
  // CreateTopics answers per topic.
  if ('topics' in response && Array.isArray(response.topics) && response.topics.length > 0) {
    return response.topics.every((topic: { errorCode?: number }) => topic.errorCode === ErrorCode.NOT_CONTROLLER);
  }
  return false;
}
