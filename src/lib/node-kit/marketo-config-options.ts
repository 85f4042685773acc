/**
 * A marketo-config's settings read into the shared client's options, checked at deploy so every
 * node using the config shows the problem then, not at the first record.
 */
import * as path from "path";
import type { Node, NodeAPI, NodeDef } from "node-red";
import { MarketoError, normaliseEndpoint, type Logger, type MarketoClientOptions } from "../marketo";
import { resolveOptions } from "../marketo/options";
import { configStatusText } from "./marketo-config-api";
import { credentialsFor, type Credentials } from "./marketo-credentials";
import { errorText } from "./guards";

export interface MarketoConfigDef extends NodeDef {
  endpoint: string;
  /** "credentials" (the dialog's fields, encrypted by Node-RED) or "env" (variables named below). */
  credentialSource?: string;
  clientIdEnv?: string;
  clientSecretEnv?: string;
  callsPerWindow?: string | number;
  concurrency?: string | number;
  dailyBudget?: string | number;
  batchWindowMs?: string | number;
  /** Not in the dialog: how often bulk import jobs are polled (tests, demos). */
  bulkPollIntervalMs?: string | number;
  /** Not in the dialog: Marketo's window is 20 s; an emulator's may be shorter (tests, benchmarks). */
  windowMs?: string | number;
  /** Not in the dialog: how often a paused client asks whether the daily quota is back (tests). */
  quotaProbeIntervalMs?: string | number;
  /** Not in the dialog: how long a dead replica's call slots stay taken in Redis (tests). */
  leaseMs?: string | number;
}

/** The client's options, or why there are none and those words for the users' status. */
export type ConfigOptions =
  | { options: MarketoClientOptions; configError?: undefined; configStatus?: undefined }
  | { options?: undefined; configError: MarketoError; configStatus: string | undefined };

/** A blank setting is unset (undefined); anything else not a number is NaN, which the options check refuses. */
function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

/** Any failure as a MarketoError; a plain Error is a settings problem (category "validation"). */
export function asMarketoError(err: unknown): MarketoError {
  if (err instanceof MarketoError) return err;
  return new MarketoError({
    code: "INVALID_OPTION",
    message: errorText(err),
    category: "validation",
    action: "permanent",
    retryable: false,
  });
}

/** The options the config's one client is made with, read from its settings, credentials and Redis URL. */
export function configOptions(
  RED: NodeAPI,
  node: Node,
  def: MarketoConfigDef,
  credentials: Credentials,
  redisUrl: string | undefined,
  logger: Logger,
): ConfigOptions {
  let configStatus: string | undefined;
  try {
    const creds = credentialsFor(RED, node, def.credentialSource, credentials, def.clientIdEnv, def.clientSecretEnv);
    const given = (v: unknown): boolean => typeof v === "string" && v.trim() !== "";
    configStatus = configStatusText({
      ...(creds.missingEnv ? { missingEnv: creds.missingEnv } : {}),
      clientId: given(creds.clientId),
      clientSecret: given(creds.clientSecret),
    });
    if (creds.problem) throw new Error(`Marketo credentials: ${creds.problem}`);
    const candidate: MarketoClientOptions = {
      endpoint: def.endpoint,
      clientId: creds.clientId ?? "",
      clientSecret: creds.clientSecret ?? "",
      logger,
    };
    const limits = {
      callsPerWindow: num(def.callsPerWindow),
      concurrency: num(def.concurrency),
      dailyBudget: num(def.dailyBudget),
      batchWindowMs: num(def.batchWindowMs),
      bulkPollIntervalMs: num(def.bulkPollIntervalMs),
      windowMs: num(def.windowMs),
      quotaProbeIntervalMs: num(def.quotaProbeIntervalMs),
      leaseMs: num(def.leaseMs),
    };
    if (redisUrl) candidate.redisUrl = redisUrl;
    // The day's count survives restarts in the userDir; Marketo's own figure is read at start.
    const userDir = (RED.settings as { userDir?: unknown }).userDir;
    if (typeof userDir === "string" && userDir !== "") candidate.stateDir = path.join(userDir, "marketo-limits");
    candidate.readDailyUsage = true;
    for (const [k, v] of Object.entries(limits))
      if (v !== undefined) (candidate as unknown as Record<string, number>)[k] = v;
    try {
      normaliseEndpoint(candidate.endpoint);
    } catch (err) {
      configStatus = configStatusText({ endpoint: typeof candidate.endpoint === "string" ? candidate.endpoint : "" });
      throw err;
    }
    resolveOptions(candidate);
    return { options: candidate };
  } catch (err) {
    return { configError: asMarketoError(err), configStatus };
  }
}
