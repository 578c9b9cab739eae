// ApiVersions, versions 0-3. The answer lists every handler in this folder with the range it
// advertises. A client asking for a newer version than 3 is answered by the broker with
// version 0 and UNSUPPORTED_VERSION, so it can step down (see Broker.handleFrame).
import { ApiKey } from '../../../core/protocol/index.ts';
import { ErrorCode } from '../../../core/protocol/errors.ts';
import { defineHandler } from '../handler.ts';

export const apiVersions = defineHandler({
  apiKey: ApiKey.ApiVersions,
  minVersion: 0,
  maxVersion: 3,
  handle(_request, { broker }) {
    return {
      errorCode: ErrorCode.NONE,
      apiKeys: broker.supportedApis(),
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
  },
});
