// AlterConfigs, versions 0-2: replaces a topic's whole set of overrides (settings not named go
// back to their defaults), as Kafka's legacy call does.
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';
import { applyTopicConfigChange } from './alter-configs-shared.ts';

export const alterConfigs = defineHandler({
  apiKey: ApiKey.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  handle(request, { broker }) {
    return {
      throttleTimeMs: 0,
      responses: request.resources.map((resource) => {
        const next: Record<string, string> = {};
        for (const config of resource.configs) if (config.value !== null) next[config.name] = config.value;
        const problem = applyTopicConfigChange(broker, resource.resourceType, resource.resourceName, () => next, request.validateOnly);
        return { errorCode: problem?.errorCode ?? ErrorCode.NONE, errorMessage: problem?.errorMessage ?? null, resourceType: resource.resourceType, resourceName: resource.resourceName };
      }),
    };
  },
});
