// CreateTopics, versions 0-7. numPartitions -1 (v4+) takes num.partitions; the replication
// factor must be -1 or 1 on a single node. In a cluster the request goes to the active
// controller, which places the replicas; the answer comes once the topics are committed.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler, ZERO_UUID } from '../handler.ts';
import { effectiveTopicConfigs } from '../topic-config.ts';

export const createTopics = defineHandler({
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  handle(request, { broker }) {
    if (broker.cluster !== null) return broker.cluster.createTopics(request);
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => {
        const partitions = topic.numPartitions === -1 ? broker.config['num.partitions'] : topic.numPartitions;
        const failed = (errorCode: number, errorMessage: string) => ({
          name: topic.name, topicId: ZERO_UUID, errorCode, errorMessage, topicConfigErrorCode: 0,
          numPartitions: -1, replicationFactor: -1, configs: null,
        });
        if (topic.replicationFactor > 1) {
          return failed(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${topic.replicationFactor} is larger than the 1 available broker`);
        }
        if (topic.assignments.length > 0) {
          return failed(ErrorCode.INVALID_REQUEST, 'manual replica assignment is not supported on a single node');
        }
        const configs: Record<string, string> = {};
        for (const config of topic.configs) if (config.value !== null) configs[config.name] = config.value;
        const created = broker.createTopic(topic.name, partitions, configs, { validateOnly: request.validateOnly });
        if ('errorCode' in created) return failed(created.errorCode, created.errorMessage);
        return {
          name: topic.name, topicId: created.topicId || ZERO_UUID, errorCode: ErrorCode.NONE, errorMessage: null,
          topicConfigErrorCode: 0, numPartitions: partitions, replicationFactor: 1,
          configs: [...effectiveTopicConfigs(broker.config, configs)].map(([name, entry]) => ({
            name, value: entry.value, readOnly: false, configSource: entry.isDefault ? 5 : 1, isSensitive: false,
          })),
        };
      }),
    };
  },
});
