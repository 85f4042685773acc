/**
 * Where a marketo-config's Client Id and Secret come from: its encrypted credentials, or the
 * environment variables its dialog names. Shared by the deployed node and the Test connection route.
 */
import type { Node, NodeAPI } from "node-red";

export interface Credentials {
  clientId?: string;
  clientSecret?: string;
  /** May hold a password, hence a credential; blank = the environment's MARKETO_REDIS_URL. */
  redisUrl?: string;
}

/** The credentials, with why they cannot be used when an environment variable is missing. */
export type ResolvedCredentials = Credentials & { problem?: string; missingEnv?: string[] };

/** A trimmed, non-blank string, else undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/**
 * Id and secret from the credentials or from the environment variables the dialog names. A
 * deployed `node` reads them as its flow / group would; without one, from the process environment.
 */
export function credentialsFor(
  RED: NodeAPI,
  node: Node | null,
  source: string | undefined,
  creds: Credentials,
  idEnv: string | undefined,
  secretEnv: string | undefined,
): ResolvedCredentials {
  if (source !== "env") return creds;
  const idVar = str(idEnv) ?? "MARKETO_CLIENT_ID";
  const secretVar = str(secretEnv) ?? "MARKETO_CLIENT_SECRET";
  const read = (name: string): string | undefined => {
    const v = node ? RED.util.getSetting(node, name) : process.env[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
  const clientId = read(idVar);
  const clientSecret = read(secretVar);
  const missing = [clientId ? undefined : idVar, clientSecret ? undefined : secretVar].filter((v): v is string => !!v);
  return {
    ...(missing.length ? { missingEnv: missing } : {}),
    ...(clientId ? { clientId } : {}),
    ...(clientSecret ? { clientSecret } : {}),
    ...(missing.length
      ? { problem: `environment variable${missing.length > 1 ? "s" : ""} ${missing.join(" and ")} not set` }
      : {}),
  };
}
