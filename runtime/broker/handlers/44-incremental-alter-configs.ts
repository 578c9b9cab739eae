// IncrementalAlterConfigs, versions 0-1: SET (0), DELETE (1), APPEND (2) and SUBTRACT (3) on
// single settings, leaving the others alone.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { topicConfigDefinition } from '../topic-config.ts';
import { applyTopicConfigChange } from './alter-configs-shared.ts';

export const incrementalAlterConfigs = defineHandler({
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      responses: request.resources.map((resource) => {
        const problem = applyTopicConfigChange(broker, resource.resourceType, resource.resourceName, (current) => {
          const next = { ...current };
          for (const { name, configOperation, value } of resource.configs) {
            const currentList = (next[name] ?? topicConfigDefinition(name)?.defaultValue(broker.config) ?? '').split(',').filter((v) => v !== '');
            const items = (value ?? '').split(',').filter((v) => v !== '');
            if (configOperation === 0) next[name] = value ?? '';
            else if (configOperation === 1) delete next[name];
            else if (configOperation === 2) next[name] = [...new Set([...currentList, ...items])].join(',');
            else if (configOperation === 3) next[name] = currentList.filter((v) => !items.includes(v)).join(',');
            else return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown config operation ${configOperation}` };
          }
          return next;
        }, request.validateOnly);
        return { errorCode: problem?.errorCode ?? ErrorCode.NONE, errorMessage: problem?.errorMessage ?? null, resourceType: resource.resourceType, resourceName: resource.resourceName };
      }),
    };
  },
});
