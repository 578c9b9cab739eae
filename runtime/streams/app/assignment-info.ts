// What streams members tell each other through the group: the user data of subscriptions and
// assignments, as versioned JSON checked with zod (it comes from other processes), and the
// leader's step that turns members' subscriptions into assignments with the task assignor.
import { z } from 'zod';
import type { TopicPartitions } from '../../client/group-protocol.ts';
import type { GroupAssignor, JoinedMember, MemberAssignment } from './group-member.ts';
import { STREAMS_APP_LIMITS } from './limits.ts';
import type { TopologyPlan } from './plan.ts';
import { assignTasks } from './task-assignor.ts';

const taskIds = z.array(z.string().regex(/^\d+_\d+$/)).max(STREAMS_APP_LIMITS.tasksPerInstanceMax);

export const subscriptionInfoSchema = z.object({
  version: z.literal(1),
  /** host:port where the instance answers queries, or null. */
  endpoint: z.string().nullable(),
  previousActive: taskIds,
  localState: taskIds,
});
export type SubscriptionInfo = z.output<typeof subscriptionInfoSchema>;

export const assignmentInfoSchema = z.object({
  version: z.literal(1),
  active: taskIds,
  standby: taskIds,
  /** Active tasks of every member that has an endpoint, by endpoint. */
  endpoints: z.record(z.string(), taskIds),
});
export type AssignmentInfo = z.output<typeof assignmentInfoSchema>;

export function encodeInfo(info: SubscriptionInfo | AssignmentInfo): Buffer {
  return Buffer.from(JSON.stringify(info), 'utf8');
}

function decodeWith<T>(schema: z.ZodType<T>, data: Buffer | null): T | null {
  if (data === null || data.length === 0 || data.length > STREAMS_APP_LIMITS.userDataBytesMax) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(data.toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function decodeSubscriptionInfo(data: Buffer | null): SubscriptionInfo | null {
  return decodeWith(subscriptionInfoSchema, data);
}

export function decodeAssignmentInfo(data: Buffer | null): AssignmentInfo | null {
  return decodeWith(assignmentInfoSchema, data);
}

/** The leader's assignor over the current plan; members whose user data is unreadable get no tasks' history. */
export function streamsGroupAssignor(plan: () => Promise<TopologyPlan>, standbyReplicas: number): GroupAssignor {
  return async (members: readonly JoinedMember[]): Promise<Map<string, MemberAssignment>> => {
    const current = await plan();
    const infos = new Map(members.map((member) => [member.memberId, decodeSubscriptionInfo(member.userData)]));
    const placed = assignTasks(
      current.tasks,
      members.map((member) => ({ memberId: member.memberId, previousActive: infos.get(member.memberId)?.previousActive ?? [], localState: infos.get(member.memberId)?.localState ?? [] })),
      standbyReplicas,
    );
    const endpoints: Record<string, string[]> = {};
    for (const [memberId, tasks] of placed) {
      const endpoint = infos.get(memberId)?.endpoint ?? null;
      if (endpoint !== null) endpoints[endpoint] = [...(endpoints[endpoint] ?? []), ...tasks.active];
    }
    const tasksById = new Map(current.tasks.map((task) => [task.id, task]));
    const result = new Map<string, MemberAssignment>();
    for (const [memberId, tasks] of placed) {
      const byTopic = new Map<string, number[]>();
      for (const id of tasks.active) for (const input of tasksById.get(id)?.inputs ?? []) byTopic.set(input.topic, [...(byTopic.get(input.topic) ?? []), input.partition]);
      const partitions: TopicPartitions[] = [...byTopic].map(([topic, list]) => ({ topic, partitions: list.sort((left, right) => left - right) }));
      result.set(memberId, { partitions, userData: encodeInfo({ version: 1, active: tasks.active, standby: tasks.standby, endpoints }) });
    }
    return result;
  };
}
