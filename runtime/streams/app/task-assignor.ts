// The task-aware assignor the group leader runs. It places tasks, not partitions: every input
// partition of a task goes to the same member, so co-partitioned topics stay together. Rules, in
// order of weight:
//   1. balance: no member gets more than ceil(tasks / members) active tasks;
//   2. stickiness: a task stays with the member that ran it in the previous generation;
//   3. state: a stateful task that must move prefers a member that has its state on disk
//      (it restores only the changelog tail there);
//   4. load: otherwise the least-loaded member, ties broken by member id so every leader
//      computes the same plan.
// Standby replicas of stateful tasks go to members other than the active one, preferring those
// with the task's state on disk, at most one copy of a task per member.
import { STREAMS_APP_LIMITS } from './limits.ts';

export interface AssignableTask {
  readonly id: string;
  readonly stateful: boolean;
}

export interface TaskAssignorMember {
  readonly memberId: string;
  /** Tasks the member ran as active in the previous generation. */
  readonly previousActive: readonly string[];
  /** Tasks whose state directory the member has (previous active and standby tasks included). */
  readonly localState: readonly string[];
}

export interface MemberTasks {
  readonly active: string[];
  readonly standby: string[];
}

function byId(left: { readonly memberId: string }, right: { readonly memberId: string }): number {
  return left.memberId < right.memberId ? -1 : left.memberId > right.memberId ? 1 : 0;
}

/** Stateful tasks first (they care most where they go), then by id for a stable order. */
function taskOrder(left: AssignableTask, right: AssignableTask): number {
  if (left.stateful !== right.stateful) return left.stateful ? -1 : 1;
  return left.id < right.id ? -1 : left.id > right.id ? 1 : 0;
}

export function assignTasks(tasks: readonly AssignableTask[], members: readonly TaskAssignorMember[], standbyReplicas = 0): Map<string, MemberTasks> {
  if (members.length > STREAMS_APP_LIMITS.membersMax) throw new Error(`the group has ${members.length} members, above ${STREAMS_APP_LIMITS.membersMax}`);
  const sorted = [...members].sort(byId);
  const result = new Map<string, MemberTasks>(sorted.map((member) => [member.memberId, { active: [], standby: [] }]));
  if (sorted.length === 0) return result;
  const capacity = Math.ceil(tasks.length / sorted.length);
  const ordered = [...tasks].sort(taskOrder);
  const previousOwner = new Map<string, string>();
  for (const member of sorted) for (const task of member.previousActive) if (!previousOwner.has(task)) previousOwner.set(task, member.memberId);
  const activeOf = (memberId: string): string[] => (result.get(memberId) as MemberTasks).active;
  const unplaced: AssignableTask[] = [];
  for (const task of ordered) {
    const owner = previousOwner.get(task.id);
    if (owner !== undefined && activeOf(owner).length < capacity) activeOf(owner).push(task.id);
    else unplaced.push(task);
  }
  for (const task of unplaced) {
    const open = sorted.filter((member) => activeOf(member.memberId).length < capacity);
    const withState = task.stateful ? open.filter((member) => member.localState.includes(task.id)) : [];
    const chosen = leastLoaded(withState.length > 0 ? withState : open, (memberId) => activeOf(memberId).length);
    activeOf(chosen.memberId).push(task.id);
  }
  if (standbyReplicas > 0) assignStandbys(ordered, sorted, result, standbyReplicas);
  return result;
}

function leastLoaded(candidates: readonly TaskAssignorMember[], load: (memberId: string) => number): TaskAssignorMember {
  let best: TaskAssignorMember | undefined;
  for (const candidate of candidates) if (best === undefined || load(candidate.memberId) < load(best.memberId)) best = candidate;
  if (best === undefined) throw new Error('assignor: no member has room, which the capacity rule rules out');
  return best;
}

function assignStandbys(tasks: readonly AssignableTask[], members: readonly TaskAssignorMember[], result: Map<string, MemberTasks>, replicas: number): void {
  const tasksOf = (memberId: string): MemberTasks => result.get(memberId) as MemberTasks;
  for (const task of tasks) {
    if (!task.stateful) continue;
    for (let copy = 0; copy < replicas; copy++) {
      const eligible = members.filter((member) => !tasksOf(member.memberId).active.includes(task.id) && !tasksOf(member.memberId).standby.includes(task.id));
      if (eligible.length === 0) break;
      const withState = eligible.filter((member) => member.localState.includes(task.id));
      const chosen = leastLoaded(withState.length > 0 ? withState : eligible, (memberId) => tasksOf(memberId).standby.length + tasksOf(memberId).active.length);
      tasksOf(chosen.memberId).standby.push(task.id);
    }
  }
}
