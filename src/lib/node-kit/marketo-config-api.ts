/**
 * What a marketo-config node offers the nodes that use it. The config node's module uses
 * `export =` (see the Node-RED guide), so its public shape lives here.
 */
import type { Node } from "node-red";
import type { LeadIdCache } from "../actions/lead-ids";
import type { MarketoClient, MarketoError, StateEvent } from "../marketo";

/** A node that uses a marketo-config; told when the shared client's state or figures change. */
export interface ConfigUser {
  id: string;
  clientChanged(): void;
}

export interface MarketoConfigNode extends Node {
  /**
   * The one client of this Marketo instance, created on first use. Throws the config's
   * MarketoError (category "validation") when the endpoint or credentials are unusable.
   */
  getClient(): MarketoClient;
  /** The client when it exists or can be made; undefined when the config is unusable. */
  readonly client: MarketoClient | undefined;
  /** Why no client can be made (missing secret, bad endpoint...), or undefined. */
  readonly configError: MarketoError | undefined;
  /**
   * The Marketo instance (REST host) this config names, or undefined when its endpoint is
   * unusable. Configs with the same instance share one set of limits and one day's count, so
   * a view of the limits shows the instance once, with the configs that use it.
   */
  readonly instance: string | undefined;
  /** The Redis URL its nodes share state through (its credential, else MARKETO_REDIS_URL), or undefined. */
  readonly redisUrl: string | undefined;
  /** configError in a few words for the status of the nodes that use this config ("no Client Id"). */
  readonly configStatus: string | undefined;
  /** The client's state; "ok" before the client exists. */
  clientState(): StateEvent;
  /** Lead ids learned by marketo-lead, read by the nodes further down the flow. */
  readonly leadIds: LeadIdCache;
  register(user: ConfigUser): void;
  deregister(user: ConfigUser): void;
}

export function isMarketoConfig(n: unknown): n is MarketoConfigNode {
  return (
    typeof n === "object" &&
    n !== null &&
    (n as { type?: unknown }).type === "marketo-config" &&
    typeof (n as { getClient?: unknown }).getClient === "function"
  );
}

/** What is missing or wrong in a marketo-config, in the few words a node's status has room for. */
export function configStatusText(problem: {
  missingEnv?: string[];
  clientId?: boolean;
  clientSecret?: boolean;
  endpoint?: string;
}): string {
  if (problem.missingEnv?.length) return `${problem.missingEnv.join(", ")} not set`;
  if (problem.clientId === false && problem.clientSecret === false) return "no Client Id or Secret";
  if (problem.clientId === false) return "no Client Id";
  if (problem.clientSecret === false) return "no Client Secret";
  if (problem.endpoint !== undefined) return problem.endpoint.trim() === "" ? "no endpoint" : "bad endpoint";
  return "config invalid";
}
