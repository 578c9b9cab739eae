// Resetting a streams application so that its next run recomputes everything, in the manner of
// Kafka's application reset tool: the application's consumer group is rewound on its input
// topics, moved to the end of intermediate topics (topics it both writes and reads, whose old
// records must not be read again), its internal topics (changelogs, repartition and foreign-key
// subscription topics) are deleted, and its local state directory is removed. Every step is
// planned first, so a dry run shows exactly what would change.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Admin, ResetTarget, TopicPartitionOffset } from '../client/admin.ts';

export interface ResetOptions {
  applicationId: string;
  /** Topics the application reads from outside: rewound to `target`. */
  inputTopics: readonly string[];
  /** Topics the application writes and reads back: moved to their end. */
  intermediateTopics?: readonly string[];
  /** Extra internal topics to delete beyond those found by their names. */
  internalTopics?: readonly string[];
  target: ResetTarget;
  /** The application's state.dir; its `<applicationId>` folder is removed. */
  stateDir?: string;
  dryRun?: boolean;
}

export interface ResetPlan {
  inputOffsets: TopicPartitionOffset[];
  intermediateOffsets: TopicPartitionOffset[];
  internalTopics: string[];
  /** The local state folder that exists and will be removed, or null. */
  localState: string | null;
}

export type ResetStep = 'plan' | 'offsets' | 'topics' | 'state';

/** Called as the reset goes: `done` of `total` units of the current step. */
export type ResetProgress = (step: ResetStep, done: number, total: number) => void;

const INTERNAL_SUFFIXES = [/-changelog$/, /-repartition$/, /-SUBSCRIPTION-(REGISTRATION|RESPONSE)-\d+-topic$/];

/** Whether `topic` is one the application created for itself, judged by Runnel's naming. */
export function isInternalTopicOf(applicationId: string, topic: string): boolean {
  return topic.startsWith(`${applicationId}-`) && INTERNAL_SUFFIXES.some((suffix) => suffix.test(topic));
}

export class ResetError extends Error {}

/** Plans the reset and, unless `dryRun`, carries it out. Returns the plan either way. */
export async function resetApplication(admin: Admin, options: ResetOptions, progress: ResetProgress = () => undefined): Promise<ResetPlan> {
  await requireInactive(admin, options.applicationId);
  const plan = await planReset(admin, options, progress);
  if (options.dryRun === true) return plan;
  const offsets = [...plan.inputOffsets, ...plan.intermediateOffsets];
  if (offsets.length > 0) await admin.setGroupOffsets(options.applicationId, offsets);
  progress('offsets', offsets.length, offsets.length);
  let deleted = 0;
  for (const topic of plan.internalTopics) {
    await admin.deleteTopics([topic]);
    progress('topics', ++deleted, plan.internalTopics.length);
  }
  if (plan.localState !== null) {
    fs.rmSync(plan.localState, { recursive: true, force: true });
    progress('state', 1, 1);
  }
  return plan;
}

async function requireInactive(admin: Admin, applicationId: string): Promise<void> {
  const [group] = await admin.describeGroups([applicationId]);
  if (group !== undefined && group.state !== 'Empty' && group.state !== 'Dead') {
    throw new ResetError(`application '${applicationId}' still has ${group.members.length} running member(s) (group state ${group.state}); stop every instance before resetting it`);
  }
}

async function planReset(admin: Admin, options: ResetOptions, progress: ResetProgress): Promise<ResetPlan> {
  const existing = new Set(await admin.listTopics());
  const missing = [...options.inputTopics, ...(options.intermediateTopics ?? [])].filter((topic) => !existing.has(topic));
  if (missing.length > 0) throw new ResetError(`topic(s) ${missing.join(', ')} do not exist`);
  const overlap = options.inputTopics.filter((topic) => options.intermediateTopics?.includes(topic) === true);
  if (overlap.length > 0) throw new ResetError(`topic(s) ${overlap.join(', ')} are named both as input and as intermediate topics`);
  const steps = options.inputTopics.length + (options.intermediateTopics?.length ?? 0);
  let planned = 0;
  const inputOffsets: TopicPartitionOffset[] = [];
  for (const topic of options.inputTopics) {
    inputOffsets.push(...(await admin.planOffsetReset(topic, options.target)));
    progress('plan', ++planned, steps);
  }
  const intermediateOffsets: TopicPartitionOffset[] = [];
  for (const topic of options.intermediateTopics ?? []) {
    intermediateOffsets.push(...(await admin.planOffsetReset(topic, 'latest')));
    progress('plan', ++planned, steps);
  }
  const internal = new Set([...existing].filter((topic) => isInternalTopicOf(options.applicationId, topic)));
  for (const topic of options.internalTopics ?? []) if (existing.has(topic)) internal.add(topic);
  return { inputOffsets, intermediateOffsets, internalTopics: [...internal].sort(), localState: localStateFolder(options) };
}

function localStateFolder(options: ResetOptions): string | null {
  if (options.stateDir === undefined) return null;
  const folder = path.join(expandHome(options.stateDir), options.applicationId);
  return fs.existsSync(folder) ? folder : null;
}

function expandHome(folder: string): string {
  return folder === '~' || folder.startsWith('~/') ? path.join(os.homedir(), folder.slice(1)) : folder;
}
