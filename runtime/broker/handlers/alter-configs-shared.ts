// What AlterConfigs and IncrementalAlterConfigs share: resolve the resource, compute the new
// overrides, validate them all, then apply them at once.
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { Broker, TopicProblem } from '../broker.ts';
import { validateTopicConfigs } from '../topic-config.ts';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

export function applyTopicConfigChange(
  broker: Broker,
  resourceType: number,
  resourceName: string,
  change: (current: Record<string, string>) => Record<string, string> | TopicProblem,
  validateOnly: boolean,
): TopicProblem | null {
  if (resourceType === RESOURCE_BROKER) {
    return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'broker settings are static: edit the properties file and restart' };
  }
  if (resourceType !== RESOURCE_TOPIC) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${resourceType} is not supported` };
  const topic = broker.topics.get(resourceName);
  if (topic === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${resourceName}' does not exist` };
  const next = change({ ...topic.configs });
  if ('errorCode' in next && typeof next.errorCode === 'number') return next as TopicProblem;
  const overrides = next as Record<string, string>;
  const problems = validateTopicConfigs(overrides);
  if (problems.length > 0) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: problems.map((p) => p.reason).join('; ') };
  if (!validateOnly) broker.alterTopicConfigs(resourceName, overrides);
  return null;
}
