// StreamsApp: runs a Topology against a broker. One poll loop per instance owns everything
// mutable (tasks, stores, offsets): it rejoins the group when asked, routes polled records to
// their tasks, processes them, hands outputs to the producer, fires wall-clock punctuations and
// commits every commit.interval.ms. Several instances share the work through the consumer group
// named by application.id; each task (sub-topology, partition) runs in exactly one of them.
//
// at-least-once commit: flush the stores (caches reach sinks and changelogs), flush the
// producer (everything acknowledged), write the local RocksDB copies and checkpoints, commit the
// input offsets. A crash between two commits replays the input since the last commit, so
// outputs may repeat and aggregates may count a record twice, but nothing is lost.
//
// exactly-once (v2): one transactional producer per instance; outputs, changelog writes and the
// input offsets of a commit interval go into one transaction; inputs and restores read
// read_committed. A crash aborts the open transaction (the restarted instance fences it), and
// the local state, which may hold writes of that transaction, is wiped and rebuilt from the
// committed changelog.
import path from 'node:path';
import { createLogger, type Logger } from '../../logger.ts';
import type { Topology } from '../../../core/topology/topology.ts';
import type { TopicPartition } from '../../client/index.ts';
import { StreamsProcessingError } from '../task.ts';
import { StateDirectory, taskDirectoryName } from '../../../state/directory/index.ts';
import type { ReadOnlyKeyValueStore, ReadOnlySessionStore, ReadOnlyWindowStore } from '../../../state/stores/types.ts';
import { ProgressPrinter, renderRestoreProgress } from '../../../state/stores/progress-bar.ts';
import type { RestoreProgress } from '../../../state/stores/rocksdb/restore.ts';
import { ActiveTask, type RestoreReport } from './active-task.ts';
import { ChangelogRestorer } from './changelog-reader.ts';
import { closeClients, createClients, type Clients } from './clients.ts';
import { parseStreamsConfig, StreamsConfigError, type StreamsConfig, type StreamsConfigInput } from './config.ts';
import { GlobalStores } from './global-stores.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';
import { globalSourceTopics, type TaskPlan, type TopologyPlan } from './plan.ts';
import { readOrCreateProcessId } from './process-id.ts';
import { StoreQueries, type KeyQueryMetadata, type QueryableStoreView } from './queries.ts';
import { StandbyTasks } from './standbys.ts';
import { prestartStateWorker } from './task-state.ts';
import { transitionAllowed, type StreamsState } from './states.ts';
import { prepareTopics } from './topics.ts';

export type { StreamsState } from './states.ts';

/** What to do after an uncaught processing error (Kafka's StreamThreadExceptionResponse). */
export type UncaughtErrorResponse = 'replace-thread' | 'shutdown-client';
export type UncaughtErrorHandler = (error: Error) => UncaughtErrorResponse;
export type StateListener = (next: StreamsState, previous: StreamsState) => void;
/** Told the input offsets after each successful commit. */
export type CommitListener = (offsets: readonly (TopicPartition & { offset: bigint })[]) => void;

/**
 * Group errors after which a commit is dropped and the group rejoined: ILLEGAL_GENERATION (22),
 * UNKNOWN_MEMBER_ID (25), REBALANCE_IN_PROGRESS (27). The input since the last commit is then
 * processed again, by this instance or the task's new owner.
 */
const REBALANCE_COMMIT_CODES = new Set([22, 25, 27]);

/** The group error code behind a refused commit (also when wrapped by a transaction error), or null. */
function rebalanceCode(error: unknown): number | null {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 3; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'number' && REBALANCE_COMMIT_CODES.has(code)) return code;
  }
  return null;
}

export class StreamsApp {
  readonly config: StreamsConfig;
  private currentState: StreamsState = 'CREATED';
  private readonly stateListeners: StateListener[] = [];
  private readonly restoreListeners: ((report: RestoreReport) => void)[] = [];
  /** Restoration progress: a bar rewritten in place when stdout is a terminal, else a line per task. */
  private readonly restoreProgressListeners: ((taskId: string, progress: RestoreProgress) => void)[] = [];
  private readonly restoreProgressPrinter = new ProgressPrinter(process.stdout);
  private readonly commitListeners: CommitListener[] = [];
  private uncaughtErrorHandler: UncaughtErrorHandler = () => 'shutdown-client';
  private clients: Clients | null = null;
  /** The locked `<state.dir>/<application.id>`; one process at a time may use it. */
  private stateDirectory: StateDirectory | null = null;
  private lastCleanupMs = Date.now();
  private lastPurgeMs = 0;
  private plan: TopologyPlan | null = null;
  private readonly tasks = new Map<string, ActiveTask>();
  /** The input offsets of the last successful commit, by `topic\0partition`. */
  private readonly committedOffsets = new Map<string, bigint>();
  private readonly standbys: StandbyTasks;
  /** Global tables: filled before the first task runs, kept current by the poll loop. */
  private globals: GlobalStores | null = null;
  /** The endpoint (application.server) running each active task, by task id, from the last assignment. */
  private endpoints = new Map<string, string>();
  private loop: Promise<void> | null = null;
  private lastCommitMs = Date.now();
  private readonly queries: StoreQueries;
  private readonly logger: Logger;
  private processedCount = 0;

  constructor(private readonly topology: Topology, config: StreamsConfigInput) {
    this.config = parseStreamsConfig(config);
    this.logger = createLogger(`streams ${this.config.applicationId}`);
    this.standbys = new StandbyTasks({
      topology,
      applicationId: this.config.applicationId,
      persistent: this.config.defaultDslStore === 'rocksDB',
      claim: (plan) => this.claimTaskDirectory(plan),
      release: (plan) => this.stateDirectory?.releaseTask({ subtopology: plan.subtopologyId, partition: plan.partition }) ?? Promise.resolve(),
      log: (message) => this.log(message),
    });
    this.queries = new StoreQueries(topology, () => [...this.tasks.values()].map((task) => task.task), () => this.globals?.stores() ?? new Map());
  }

  /** Input records this instance processed since start, for progress reports and tests. */
  get processedRecords(): number {
    return this.processedCount;
  }

  get state(): StreamsState {
    return this.currentState;
  }

  /** The bootstrap address in use; with an embedded broker, the address it listens on. */
  get bootstrapServers(): string {
    if (this.clients === null) throw new Error('the application has not started');
    return this.clients.bootstrap;
  }

  onStateChange(listener: StateListener): void {
    this.stateListeners.push(listener);
  }

  onRestore(listener: (report: RestoreReport) => void): void {
    this.restoreListeners.push(listener);
  }

  /** Told how each task's restoration goes (records restored, total, rate, ETA), every 500 ms and at the end. */
  onRestoreProgress(listener: (taskId: string, progress: RestoreProgress) => void): void {
    this.restoreProgressListeners.push(listener);
  }

  onCommit(listener: CommitListener): void {
    this.commitListeners.push(listener);
  }

  setUncaughtErrorHandler(handler: UncaughtErrorHandler): void {
    this.uncaughtErrorHandler = handler;
  }

  /** Ids of the tasks this instance runs now. */
  activeTaskIds(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** Ids of the standby tasks this instance keeps warm now. */
  standbyTaskIds(): string[] {
    return this.standbys.ids();
  }

  /** Connects, creates internal topics and starts the poll loop; resolves once it runs. */
  async start(): Promise<void> {
    if (this.currentState !== 'CREATED') throw new Error(`start() needs state CREATED, not ${this.currentState}`);
    this.setState('REBALANCING');
    // Only a topology with stores has tasks that open RocksDB: a stateless application would
    // pay for loading the worker (a thread compiling its modules) while it processes.
    if (this.config.defaultDslStore === 'rocksDB' && this.topology.stores.length > 0) prestartStateWorker();
    try {
      this.stateDirectory = await StateDirectory.lock({ stateDir: this.config.stateDir, applicationId: this.config.applicationId });
      this.clients = await this.connect();
      this.plan = await this.prepareTopics(this.clients);
      await this.loadGlobalStores(this.clients);
    } catch (error) {
      await this.releaseClients();
      await this.unlockStateDirectory();
      this.setState('PENDING_ERROR');
      this.setState('ERROR');
      throw error;
    }
    this.loop = this.runLoop();
  }

  /** Resolves once the application is RUNNING, or rejects when it fails or the deadline passes. */
  async waitUntilRunning(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.currentState !== 'RUNNING') {
      if (this.currentState === 'ERROR' || this.currentState === 'NOT_RUNNING') throw new Error(`the application stopped in state ${this.currentState}`);
      if (Date.now() > deadline) throw new Error(`the application did not reach RUNNING within ${timeoutMs} ms (state ${this.currentState})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Commits, closes every task cleanly (checkpoints written), leaves the group and disconnects. */
  async close(): Promise<void> {
    if (this.currentState === 'NOT_RUNNING' || this.currentState === 'ERROR') return;
    if (this.currentState === 'CREATED') {
      this.setState('PENDING_SHUTDOWN');
      this.setState('NOT_RUNNING');
      return;
    }
    if (this.currentState !== 'PENDING_SHUTDOWN' && this.currentState !== 'PENDING_ERROR') this.setState('PENDING_SHUTDOWN');
    await this.loop;
  }

  /**
   * Closes the application gracefully on these signals (commit, checkpoints, leave the group),
   * then exits the process with 0, or 1 when closing failed; returns a function that removes
   * the handlers. Examples and services call it once after start().
   */
  closeOnSignals(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'], exit = true): () => void {
    const handler = (): void => {
      void this.close().then(
        () => { if (exit) process.exit(this.currentState === 'ERROR' ? 1 : 0); },
        () => { if (exit) process.exit(1); },
      );
    };
    for (const signal of signals) process.once(signal, handler);
    return () => { for (const signal of signals) process.removeListener(signal, handler); };
  }

  /** A read-only view over this instance's instances of the named store, tagged with its kind. */
  store<K, V>(name: string): QueryableStoreView<K, V> {
    return this.queries.store<K, V>(name);
  }

  keyValueStore<K, V>(name: string): ReadOnlyKeyValueStore<K, V> {
    return this.queries.keyValueStore<K, V>(name);
  }

  windowStore<K, V>(name: string): ReadOnlyWindowStore<K, V> {
    return this.queries.windowStore<K, V>(name);
  }

  sessionStore<K, V>(name: string): ReadOnlySessionStore<K, V> {
    return this.queries.sessionStore<K, V>(name);
  }

  /** Which instance (application.server) holds the key in the store, by the last assignment. */
  metadataForKey<K>(storeName: string, key: K, serializer: (key: K) => Uint8Array): KeyQueryMetadata {
    return this.queries.metadataForKey(storeName, key, serializer, this.plan?.taskCounts ?? new Map(), this.endpoints);
  }

  private setState(next: StreamsState): void {
    const previous = this.currentState;
    if (previous === next) return;
    if (!transitionAllowed(previous, next)) throw new Error(`illegal state transition ${previous} -> ${next}`);
    this.currentState = next;
    for (const listener of this.stateListeners) listener(next, previous);
  }

  private log(message: string): void {
    this.logger.info(message);
  }

  private async loadGlobalStores(clients: Clients): Promise<void> {
    if (this.topology.globalStores.length === 0) return;
    this.globals = new GlobalStores(this.topology, this.config.applicationId);
    const loaded = await this.globals.bootstrap(clients.admin, clients.globalConsumer, globalSourceTopics(this.topology));
    this.log(`global stores loaded ${loaded} records`);
  }

  private async connect(): Promise<Clients> {
    const transactionalId = this.exactlyOnce() ? `${this.config.applicationId}-${await readOrCreateProcessId(this.appDirectory())}` : null;
    return createClients({
      config: this.config,
      transactionalId,
      plan: (admin) => prepareTopics(admin, this.topology, this.config.applicationId, this.userTopicPartitions()),
      log: (message) => this.log(message),
    });
  }

  private async releaseClients(): Promise<void> {
    if (this.clients !== null) await closeClients(this.clients);
  }

  private async unlockStateDirectory(): Promise<void> {
    await this.stateDirectory?.unlock().catch(() => undefined);
    this.stateDirectory = null;
  }

  private async runLoop(): Promise<void> {
    const clients = this.clients as Clients;
    for (;;) {
      try {
        await this.runUntilStopped(clients);
        await this.shutdown(clients, true);
        this.setState('NOT_RUNNING');
        return;
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.log(`stream thread failed: ${failure.message}`);
        const response = this.stopping() ? 'shutdown-client' : this.uncaughtErrorHandler(failure);
        await this.closeTasksDirty(clients);
        if (response === 'replace-thread' && !this.stopping()) {
          clients.member.rejoinNeeded = true;
          continue;
        }
        if (this.currentState !== 'PENDING_SHUTDOWN') this.setState('PENDING_ERROR');
        await this.shutdown(clients, false);
        this.setState(this.currentState === 'PENDING_SHUTDOWN' ? 'NOT_RUNNING' : 'ERROR');
        return;
      }
    }
  }

  private stopping(): boolean {
    return this.currentState === 'PENDING_SHUTDOWN' || this.currentState === 'PENDING_ERROR';
  }

  private async runUntilStopped(clients: Clients): Promise<void> {
    while (!this.stopping()) {
      if (clients.member.rejoinNeeded) await this.rebalance(clients);
      if (this.stopping()) return;
      await this.globals?.update(clients.globalConsumer);
      const runs = await clients.consumer.pollPacked({ timeoutMs: this.config.pollMs });
      for (const run of runs) this.taskReading(run.topic, run.partition).addRun(run);
      await Promise.all([...this.tasks.values()].map((task) => task.prefetch()));
      for (const task of this.tasks.values()) this.processedCount += task.processBuffered();
      const now = Date.now();
      for (const task of this.tasks.values()) task.task.punctuateWallClock(now);
      if (clients.collector.hasWaiting()) await this.beginTransactionIfNeeded(clients);
      await clients.collector.dispatch();
      await this.standbys.update(clients.standbyConsumer);
      const requested = [...this.tasks.values()].some((task) => task.task.commitRequested);
      if (requested || now - this.lastCommitMs >= this.config.commitIntervalMs) {
        await this.commit(clients);
        await this.cleanRemovedTasks();
      }
    }
  }

  private taskReading(topic: string, partition: number): ActiveTask {
    const subtopologyId = this.plan?.subtopologyByTopic.get(topic);
    const task = subtopologyId === undefined ? undefined : this.tasks.get(`${subtopologyId}_${partition}`);
    if (task === undefined) throw new Error(`polled ${topic}-${partition}, which no active task reads`);
    return task;
  }

  private exactlyOnce(): boolean {
    return this.config.processingGuarantee === 'exactly_once_v2';
  }

  /** Under exactly-once, records may only be sent inside a transaction. */
  private async beginTransactionIfNeeded(clients: Clients): Promise<void> {
    if (this.exactlyOnce() && clients.producer.transactionState === 'ready') await clients.producer.beginTransaction();
  }

  /** Commits every task; a commit refused because of a rebalance is dropped and the group rejoined. */
  private async commit(clients: Clients): Promise<void> {
    this.lastCommitMs = Date.now();
    const offsets: (TopicPartition & { offset: bigint })[] = [];
    for (const task of this.tasks.values()) offsets.push(...task.task.commit());
    this.globals?.flush();
    if (this.nothingToCommit(clients, offsets)) return;
    try {
      const committed = this.exactlyOnce() ? await this.commitTransaction(clients, offsets) : await this.commitAtLeastOnce(clients, offsets);
      if (!committed) return;
      for (const entry of offsets) this.committedOffsets.set(`${entry.topic}\u0000${entry.partition}`, entry.offset);
      for (const listener of this.commitListeners) listener(offsets);
      await this.purgeRepartitionTopics(clients, offsets);
    } catch (error) {
      const code = rebalanceCode(error);
      if (code === null) throw error;
      this.log(`commit refused (${code}); rejoining the group`);
      clients.member.rejoinNeeded = true;
      // Under exactly-once the transaction was aborted: the stores hold its writes, so they go.
      if (this.exactlyOnce()) await this.closeTasksDirty(clients);
    }
  }

  /**
   * True when a commit would change nothing: every input offset is the one committed last, no
   * record waits for the producer or was sent since the last flush (so no store changed and the
   * checkpoints are current) and no transaction is open. An idle application then sends no
   * OffsetCommit or EndTxn and writes no checkpoint every commit interval.
   */
  private nothingToCommit(clients: Clients, offsets: readonly (TopicPartition & { offset: bigint })[]): boolean {
    if (!clients.collector.idle() || clients.producer.transactionState === 'inTransaction') return false;
    return offsets.every((entry) => this.committedOffsets.get(`${entry.topic}\u0000${entry.partition}`) === entry.offset);
  }

  /**
   * Deletes repartition records below the committed offsets (Kafka Streams' purge), at most
   * every repartition.purge.interval.ms: they were written only to be read once, by this group.
   */
  private async purgeRepartitionTopics(clients: Clients, offsets: readonly (TopicPartition & { offset: bigint })[]): Promise<void> {
    if (Date.now() - this.lastPurgeMs < this.config.repartitionPurgeIntervalMs) return;
    this.lastPurgeMs = Date.now();
    const repartition = new Set(this.plan?.internalTopics.filter((topic) => topic.kind === 'repartition').map((topic) => topic.name));
    const byTopic = new Map<string, { partition: number; offset: bigint }[]>();
    for (const entry of offsets) if (repartition.has(entry.topic)) byTopic.set(entry.topic, [...(byTopic.get(entry.topic) ?? []), { partition: entry.partition, offset: entry.offset }]);
    for (const [topic, partitions] of byTopic) {
      await clients.admin.deleteRecords(topic, partitions).catch((error: unknown) => this.logger.warn(`purging ${topic} failed`, { error }));
    }
  }

  /** at-least-once: flush producer, write local state and checkpoints, commit offsets. */
  private async commitAtLeastOnce(clients: Clients, offsets: readonly (TopicPartition & { offset: bigint })[]): Promise<boolean> {
    await clients.collector.flush();
    for (const task of this.tasks.values()) await task.state.checkpoint(task.writtenChangelogOffsets(clients.collector));
    if (clients.member.membershipLost) {
      this.logger.warn('membership lost: offsets not committed');
      return false;
    }
    await clients.member.commit(offsets, true);
    return true;
  }

  /** exactly-once: outputs, changelog writes and input offsets commit in one transaction. */
  private async commitTransaction(clients: Clients, offsets: readonly (TopicPartition & { offset: bigint })[]): Promise<boolean> {
    const producer = clients.producer;
    if (offsets.length === 0 && !clients.collector.hasWaiting() && producer.transactionState !== 'inTransaction') return false;
    try {
      await this.beginTransactionIfNeeded(clients);
      await clients.collector.dispatch();
      const group = { groupId: this.config.applicationId, generationId: clients.member.generationId, memberId: clients.member.memberId, groupInstanceId: null };
      await producer.sendOffsetsToTransaction(offsets, group);
      await producer.commitTransaction();
    } catch (error) {
      if (producer.transactionState === 'inTransaction' || producer.transactionState === 'abortableError') await producer.abortTransaction().catch(() => undefined);
      throw error;
    }
    await clients.collector.flush();
    for (const task of this.tasks.values()) await task.state.checkpoint(task.writtenChangelogOffsets(clients.collector));
    return true;
  }

  private async rebalance(clients: Clients): Promise<void> {
    if (this.currentState === 'RUNNING') this.setState('REBALANCING');
    if (clients.member.membershipLost) await this.closeTasksDirty(clients);
    else if (this.tasks.size > 0) await this.commit(clients);
    const plan = this.plan as TopologyPlan;
    const topics = [...plan.subtopologyByTopic.keys()].sort();
    const localState = ((await this.stateDirectory?.listTaskDirectories()) ?? []).map((info) => taskDirectoryName(info.task));
    const previous = [...this.tasks.keys()];
    clients.assignor.subscription = { version: 1, endpoint: this.config.applicationServer ?? null, previousActive: previous, localState };
    await clients.member.join(topics);
    const info = clients.assignor.assignment;
    if (info === null) throw new Error('the group leader sent an assignment without streams task information (is another kind of client in the group?)');
    this.endpoints = new Map(Object.entries(info.endpoints).flatMap(([endpoint, ids]) => ids.map((id) => [id, endpoint] as const)));
    const wanted = new Set(info.active);
    for (const [id, task] of [...this.tasks]) {
      if (wanted.has(id)) continue;
      await this.closeTaskClean(clients, task);
    }
    this.plan = await this.prepareTopics(clients);
    await this.standbys.close((id) => wanted.has(id) || !info.standby.includes(id));
    await this.createTasks(clients, info.active.filter((id) => !this.tasks.has(id)));
    for (const id of info.standby) {
      const task = this.plan.tasks.find((candidate) => candidate.id === id);
      if (task !== undefined && !this.standbys.has(id)) await this.standbys.open(task, clients.restoreConsumer);
    }
    this.standbys.assign(clients.standbyConsumer);
    clients.consumer.assign([...this.tasks.values()].flatMap((task) => task.plan.inputs.map((input) => ({ topic: input.topic, partition: input.partition }))));
    this.lastCommitMs = Date.now();
    if (!this.stopping() && !clients.member.rejoinNeeded) this.setState('RUNNING');
  }

  private userTopicPartitions(): number | null {
    return this.config.bootstrapServers === 'embedded' ? this.config.embeddedTopicPartitions : null;
  }

  private prepareTopics(clients: Clients): Promise<TopologyPlan> {
    return prepareTopics(clients.admin, this.topology, this.config.applicationId, this.userTopicPartitions());
  }

  private async claimTaskDirectory(plan: TaskPlan): Promise<string> {
    const directory = this.stateDirectory;
    if (directory === null) throw new Error('the state directory is not locked');
    return directory.claimTask({ subtopology: plan.subtopologyId, partition: plan.partition });
  }

  private async releaseTaskDirectory(task: ActiveTask): Promise<void> {
    await this.stateDirectory?.releaseTask({ subtopology: task.plan.subtopologyId, partition: task.plan.partition });
  }

  /** Deletes directories of tasks that left this instance longer than state.cleanup.delay.ms ago. */
  private async cleanRemovedTasks(): Promise<void> {
    if (Date.now() - this.lastCleanupMs < STREAMS_APP_LIMITS.stateCleanupCheckIntervalMs) return;
    this.lastCleanupMs = Date.now();
    const removed = (await this.stateDirectory?.cleanRemovedTasks()) ?? [];
    if (removed.length > 0) this.log(`deleted the state of tasks ${removed.map(taskDirectoryName).join(', ')}, unused for state.cleanup.delay.ms`);
  }

  private appDirectory(): string {
    return path.join(this.config.stateDir, this.config.applicationId);
  }

  /**
   * Creates tasks restoringTasksMax at a time, so their changelogs are restored together through
   * one restorer (interleaved in the restore consumer's fetches), not task after task. Every task
   * is settled before a failure is thrown, so none is left half made.
   */
  private async createTasks(clients: Clients, ids: readonly string[]): Promise<void> {
    const restorer = new ChangelogRestorer(clients.restoreConsumer);
    const queue = [...ids];
    const failures: unknown[] = [];
    const creator = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        await this.createTask(clients, id, restorer).catch((error: unknown) => void failures.push(error));
        if (failures.length > 0) return;
      }
    };
    await Promise.all(Array.from({ length: Math.min(ids.length, STREAMS_APP_LIMITS.restoringTasksMax) }, creator));
    if (failures.length > 0) throw failures[0];
  }

  private async createTask(clients: Clients, id: string, restorer: ChangelogRestorer): Promise<void> {
    const plan: TaskPlan | undefined = this.plan?.tasks.find((candidate) => candidate.id === id);
    if (plan === undefined) throw new Error(`assigned task ${id} is not in the topology's plan`);
    const { task, report } = await ActiveTask.create({
      applicationId: this.config.applicationId,
      topology: this.topology,
      plan,
      directory: await this.claimTaskDirectory(plan),
      persistent: this.config.defaultDslStore === 'rocksDB',
      exactlyOnce: this.exactlyOnce(),
      collector: clients.collector,
      restoreConsumer: clients.restoreConsumer,
      restorer,
      deserializationErrorHandler: this.config.deserializationExceptionHandler,
      globalStores: this.globals?.stores() ?? new Map(),
      partitionCount: (topic) => this.plan?.partitionCounts.get(topic) ?? 1,
      log: (message) => this.log(message),
      onRestoreProgress: (taskId, progress) => {
        this.restoreProgressPrinter.print(renderRestoreProgress(progress, { label: `restoring task ${taskId}` }), progress.done);
        for (const listener of this.restoreProgressListeners) listener(taskId, progress);
      },
    });
    for (const store of task.stores) clients.collector.registerChangelog(store.changelogTopic);
    this.tasks.set(id, task);
    if (report.localRecords + report.changelogRecords > 0) this.log(`task ${id} restored ${report.localRecords} records from local state and ${report.changelogRecords} from changelogs in ${report.durationMs} ms`);
    for (const listener of this.restoreListeners) listener(report);
  }

  /** The task was committed just before; close its processors and stores and keep its checkpoint. */
  private async closeTaskClean(clients: Clients, task: ActiveTask): Promise<void> {
    task.task.close();
    await clients.collector.flush();
    await task.state.checkpoint(task.writtenChangelogOffsets(clients.collector), true);
    await task.state.close();
    await this.releaseTaskDirectory(task);
    this.tasks.delete(task.id);
  }

  /**
   * Closes tasks without committing offsets, as after a lost membership or a failure. Closing
   * flushes the stores' caches; those writes are dropped rather than sent (the task may already
   * belong to another instance) and the checkpoint is deleted, because the local copy now holds
   * writes the changelog lacks: the next start here rebuilds the task from the changelog.
   */
  private async closeTasksDirty(clients: Clients): Promise<void> {
    if (this.exactlyOnce()) {
      clients.collector.discardWaiting();
      if (clients.producer.transactionState === 'inTransaction' || clients.producer.transactionState === 'abortableError') await clients.producer.abortTransaction().catch(() => undefined);
    } else {
      await clients.collector.flush().catch(() => undefined);
    }
    for (const task of this.tasks.values()) {
      try {
        task.task.close();
      } catch (error) {
        this.log(`task ${task.id} failed to close: ${error instanceof Error ? error.message : String(error)}`);
      }
      await task.state.discardCheckpoint().catch(() => undefined);
      await task.state.close().catch(() => undefined);
      await this.releaseTaskDirectory(task).catch(() => undefined);
    }
    await clients.collector.settleDiscarded();
    this.tasks.clear();
  }

  private async shutdown(clients: Clients, clean: boolean): Promise<void> {
    if (clean && !clients.member.membershipLost && this.tasks.size > 0) {
      await this.commit(clients);
      for (const task of [...this.tasks.values()]) await this.closeTaskClean(clients, task);
    } else {
      await this.closeTasksDirty(clients);
    }
    await this.standbys.close(() => true).catch((error: unknown) => this.logger.warn('closing standbys failed', { error }));
    this.globals?.close();
    this.globals = null;
    await this.releaseClients();
    await this.unlockStateDirectory();
  }
}

export { StreamsProcessingError, StreamsConfigError };
