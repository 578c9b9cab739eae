// What streams members tell each other through the group: the user data of subscriptions and
// assignments, as versioned JSON checked with zod (it comes from other processes), and the
// streams partition assignor, which the client's group membership runs: the leader turns
// members' subscriptions into assignments with the task assignor, and every member keeps the
// assignment info it was given for the poll loop to act on.
import { z } from 'zod';
import type { AssignmentMetadata, MemberAssignment, MemberSubscription, PartitionAssignor, TopicPartitions } from '../../client/index.ts';
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

function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array | null): T | null {
  if (data === null || data.byteLength === 0 || data.byteLength > STREAMS_APP_LIMITS.userDataBytesMax) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function decodeSubscriptionInfo(data: Uint8Array | null): SubscriptionInfo | null {
  return decodeWith(subscriptionInfoSchema, data);
}

export function decodeAssignmentInfo(data: Uint8Array | null): AssignmentInfo | null {
  return decodeWith(assignmentInfoSchema, data);
}

/** The protocol name streams members offer; plain consumers cannot join by accident. */
export const STREAMS_PROTOCOL = 'runnel-streams';

/**
 * The streams members' assignor. Before each join the poll loop sets `subscription` (endpoint,
 * tasks run, task state on disk); the leader places tasks over the current plan, members whose
 * user data is unreadable counting as having no history; after the join `assignment` holds this
 * member's tasks, or null when the leader sent no readable streams information.
 */
export class StreamsPartitionAssignor implements PartitionAssignor {
  readonly name = STREAMS_PROTOCOL;
  subscription: SubscriptionInfo = { version: 1, endpoint: null, previousActive: [], localState: [] };
  assignment: AssignmentInfo | null = null;

  constructor(private readonly plan: () => Promise<TopologyPlan>, private readonly standbyReplicas: number) {}

  subscriptionUserData(): Uint8Array {
    return encodeInfo(this.subscription);
  }

  onAssignment(assignment: MemberAssignment): void {
    this.assignment = decodeAssignmentInfo(assignment.userData);
  }

  async assign(_metadata: AssignmentMetadata, subscriptions: ReadonlyMap<string, MemberSubscription>): Promise<Map<string, MemberAssignment>> {
    const current = await this.plan();
    const infos = new Map([...subscriptions].map(([memberId, subscription]) => [memberId, decodeSubscriptionInfo(subscription.userData)]));
    const placed = assignTasks(
      current.tasks,
      [...infos].map(([memberId, info]) => ({ memberId, previousActive: info?.previousActive ?? [], localState: info?.localState ?? [] })),
      this.standbyReplicas,
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
  }
}
