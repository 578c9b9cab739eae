// DescribeConfigs, versions 0-4. A topic lists every setting with its effective value, default
// or not, which librdkafka-based tools rely on. The broker resource lists the broker settings.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import type { Broker } from '../broker.ts';
import { defineHandler } from '../handler.ts';
import { CONFIG_TYPE_CODE, effectiveTopicConfigs } from '../topic-config.ts';

export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;
export const SOURCE_DYNAMIC_TOPIC = 1;
export const SOURCE_STATIC_BROKER = 4;
export const SOURCE_DEFAULT = 5;

function topicEntries(broker: Broker, name: string, includeSynonyms: boolean, includeDocumentation: boolean) {
  const topic = broker.topics.get(name)!;
  return [...effectiveTopicConfigs(broker.config, topic.configs)].map(([key, entry]) => {
    const source = entry.isDefault ? SOURCE_DEFAULT : SOURCE_DYNAMIC_TOPIC;
    const synonyms = !includeSynonyms ? [] : [
      ...(entry.isDefault ? [] : [{ name: key, value: entry.value, source: SOURCE_DYNAMIC_TOPIC }]),
      ...(entry.definition.brokerSynonym === undefined ? [] : [{ name: entry.definition.brokerSynonym, value: entry.definition.defaultValue(broker.config), source: SOURCE_DEFAULT }]),
    ];
    return {
      name: key, value: entry.value, readOnly: false, isDefault: entry.isDefault, configSource: source, isSensitive: false,
      synonyms, configType: CONFIG_TYPE_CODE[entry.definition.type], documentation: includeDocumentation ? entry.definition.doc : null,
    };
  });
}

function brokerEntries(broker: Broker) {
  return Object.entries(broker.config).map(([name, value]) => ({
    name, value: value === undefined ? null : String(value), readOnly: true, isDefault: false, configSource: SOURCE_STATIC_BROKER,
    isSensitive: false, synonyms: [], configType: typeof value === 'number' ? CONFIG_TYPE_CODE.LONG : typeof value === 'boolean' ? CONFIG_TYPE_CODE.BOOLEAN : CONFIG_TYPE_CODE.STRING,
    documentation: null,
  }));
}

export const describeConfigs = defineHandler({
  apiKey: ApiKey.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      results: request.resources.map((resource) => {
        const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
        let entries;
        if (resource.resourceType === RESOURCE_TOPIC) {
          if (broker.topics.get(resource.resourceName) === undefined) {
            return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic '${resource.resourceName}' does not exist`, configs: [] };
          }
          entries = topicEntries(broker, resource.resourceName, request.includeSynonyms, request.includeDocumentation);
        } else if (resource.resourceType === RESOURCE_BROKER) {
          if (resource.resourceName !== '' && resource.resourceName !== String(broker.nodeId)) {
            return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `this is broker ${broker.nodeId}`, configs: [] };
          }
          entries = brokerEntries(broker);
        } else {
          return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${resource.resourceType} is not supported`, configs: [] };
        }
        const keys = resource.configurationKeys;
        const configs = keys === null || keys.length === 0 ? entries : entries.filter((e) => keys.includes(e.name));
        return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
      }),
    };
  },
});
