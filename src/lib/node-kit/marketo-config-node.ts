/**
 * What a deployed marketo-config offers the nodes that use it (MarketoConfigNode in
 * marketo-config-api.ts), defined on the node from its parts.
 */
import type { LeadIdCache } from "../actions/lead-ids";
import { normaliseEndpoint, type MarketoClient, type MarketoClientOptions, type MarketoError } from "../marketo";
import { configStatusText, type ConfigUser } from "./marketo-config-api";
import type { SharedClient } from "./shared-client";

export interface ConfigParts {
  shared: SharedClient;
  options: MarketoClientOptions | undefined;
  configError: MarketoError | undefined;
  /** The few words for the users' status when the config is unusable (undefined: "config invalid"). */
  configStatus: string | undefined;
  redisUrl: string | undefined;
  leadIds: LeadIdCache;
}

export function offerConfigApi(node: object, parts: ConfigParts): void {
  const { shared, options, configError, configStatus, redisUrl, leadIds } = parts;
  Object.defineProperties(node, {
    getClient: { value: (): MarketoClient => shared.get() },
    client: {
      get: (): MarketoClient | undefined => {
        try {
          return shared.get();
        } catch {
          return undefined;
        }
      },
    },
    configError: { get: () => configError },
    redisUrl: { value: redisUrl },
    instance: { value: options ? new URL(normaliseEndpoint(options.endpoint).origin).host : undefined },
    configStatus: { get: () => (configError ? (configStatus ?? configStatusText({})) : undefined) },
    clientState: { value: () => shared.state() },
    leadIds: { value: leadIds },
    register: { value: (u: ConfigUser): void => shared.register(u) },
    deregister: { value: (u: ConfigUser): void => shared.deregister(u) },
  });
}
