/**
 * marketo-config: one Marketo instance. Owns the one MarketoClient (token, limiter, batches)
 * every node of that instance shares, the lead ids they learn, and the "Test connection"
 * admin route. Shaped after core MQTT's broker node: users register, get status fan-out, and
 * the client is closed when the config node closes.
 */
import * as path from "path";
import type { Node, NodeAPI, NodeDef } from "node-red";
import { LeadIdCache } from "./lib/actions/lead-ids";
import {
  MarketoClient,
  MarketoError,
  normaliseEndpoint,
  type Logger,
  type MarketoClientOptions,
  type StateEvent,
} from "./lib/marketo";
import { resolveOptions } from "./lib/marketo/options";
import { configStatusText, type ConfigUser, type MarketoConfigNode } from "./lib/node-kit/marketo-config-api";
import { metrics } from "./lib/sidebar/metrics";
import { errorText } from "./lib/node-kit/guards";

interface MarketoConfigDef extends NodeDef {
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

interface Credentials {
  clientId?: string;
  clientSecret?: string;
  /** May hold a password, hence a credential; blank = the environment's MARKETO_REDIS_URL. */
  redisUrl?: string;
}

/** Replicas with identical flows name their Redis here, with no edit to the flow. */
const REDIS_URL_ENV = "MARKETO_REDIS_URL";

/** What the dialog posts to Test connection: its unsaved values. */
interface TestRequest {
  id?: string;
  endpoint?: string;
  credentialSource?: string;
  clientId?: string;
  clientSecret?: string;
  clientIdEnv?: string;
  clientSecretEnv?: string;
}

/** The editor sends this in place of a password it never received. */
const UNCHANGED_PASSWORD = "__PWRD__";

function num(v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

function asMarketoError(err: unknown): MarketoError {
  if (err instanceof MarketoError) return err;
  return new MarketoError({
    code: "INVALID_OPTION",
    message: errorText(err),
    category: "validation",
    action: "permanent",
    retryable: false,
  });
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

export = function (RED: NodeAPI) {
  /** Id and secret from the credentials or from the environment variables the dialog names. */
  function credentialsFor(
    node: Node | null,
    source: string | undefined,
    creds: Credentials,
    idEnv: string | undefined,
    secretEnv: string | undefined,
  ): Credentials & { problem?: string; missingEnv?: string[] } {
    if (source !== "env") return creds;
    const idVar = str(idEnv) ?? "MARKETO_CLIENT_ID";
    const secretVar = str(secretEnv) ?? "MARKETO_CLIENT_SECRET";
    const read = (name: string): string | undefined => {
      const v = node ? RED.util.getSetting(node, name) : process.env[name];
      return typeof v === "string" && v !== "" ? v : undefined;
    };
    const clientId = read(idVar);
    const clientSecret = read(secretVar);
    const missing = [clientId ? undefined : idVar, clientSecret ? undefined : secretVar].filter(
      (v): v is string => !!v,
    );
    return {
      ...(missing.length ? { missingEnv: missing } : {}),
      ...(clientId ? { clientId } : {}),
      ...(clientSecret ? { clientSecret } : {}),
      ...(missing.length
        ? { problem: `environment variable${missing.length > 1 ? "s" : ""} ${missing.join(" and ")} not set` }
        : {}),
    };
  }

  function MarketoConfigNode(this: MarketoConfigNode & { credentials: Credentials }, def: MarketoConfigDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const users = new Map<string, ConfigUser>();
    const leadIds = new LeadIdCache();
    let client: MarketoClient | undefined;
    let closing = false;

    const logger: Logger = {
      debug: (m) => node.debug(m),
      info: (m) => node.log(m),
      warn: (m) => node.warn(m),
      error: (m) => node.error(m),
    };

    let options: MarketoClientOptions | undefined;
    let configError: MarketoError | undefined;
    // The Redis every node of this config shares its state through: the credential, else the environment.
    const envRedis = RED.util.getSetting(node, REDIS_URL_ENV);
    const redisUrl = str(node.credentials?.redisUrl) ?? (typeof envRedis === "string" ? str(envRedis) : undefined);
    let configStatus: string | undefined;
    try {
      const creds = credentialsFor(
        node,
        def.credentialSource,
        node.credentials ?? {},
        def.clientIdEnv,
        def.clientSecretEnv,
      );
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
      // Check now, so every node using this config shows the problem at deploy, not at the first record.
      try {
        normaliseEndpoint(candidate.endpoint);
      } catch (err) {
        configStatus = configStatusText({ endpoint: typeof candidate.endpoint === "string" ? candidate.endpoint : "" });
        throw err;
      }
      resolveOptions(candidate);
      options = candidate;
      configStatus = undefined;
    } catch (err) {
      configError = asMarketoError(err);
      node.error(`marketo-config ${def.name || node.id}: ${configError.message}`);
    }

    const fanOut = (): void => {
      for (const u of users.values()) u.clientChanged();
    };

    const getClient = (): MarketoClient => {
      if (configError || !options) throw configError ?? asMarketoError(new Error("marketo-config is not usable"));
      if (closing)
        throw new MarketoError({
          code: "CLIENT_CLOSED",
          message: "marketo-config is closing (redeploy or shutdown)",
          category: "network",
          action: "retry",
          retryable: true,
        });
      if (!client) {
        client = new MarketoClient(options);
        client.on("state", (s: StateEvent) => {
          metrics.connection(node.id, s.state, s.reason);
          if (s.state === "auth-failed")
            node.warn(`Marketo refused the credentials of ${def.name || node.id}: ${s.reason ?? ""}`);
          fanOut();
        });
        client.on("usage", fanOut);
      }
      return client;
    };

    Object.defineProperties(node, {
      getClient: { value: getClient },
      client: {
        get: (): MarketoClient | undefined => {
          try {
            return getClient();
          } catch {
            return undefined;
          }
        },
      },
      configError: { get: () => configError },
      redisUrl: { value: redisUrl },
      instance: { value: options ? new URL(normaliseEndpoint(options.endpoint).origin).host : undefined },
      configStatus: { get: () => (configError ? (configStatus ?? configStatusText({})) : undefined) },
      clientState: { value: (): StateEvent => (client ? client.state() : { state: "ok" }) },
      leadIds: { value: leadIds },
      register: {
        value: (u: ConfigUser): void => {
          users.set(u.id, u);
        },
      },
      deregister: {
        value: (u: ConfigUser): void => {
          if (users.get(u.id) === u) users.delete(u.id);
        },
      },
    });

    node.on("close", (removed: boolean, done: () => void) => {
      if (removed) metrics.forget(node.id);
      closing = true;
      const c = client;
      client = undefined;
      users.clear();
      leadIds.clear();
      if (!c) {
        done();
        return;
      }
      // close() sends what is held and waits (bounded) for calls in flight, so the records of
      // a redeploy reach Marketo; what cannot is failed as retryable, never dropped silently.
      c.close().then(done, (err: unknown) => {
        node.error(`marketo-config close: ${errorText(err)}`);
        done();
      });
    });
  }

  // Node-RED encrypts flows_cred.json unless settings.js sets credentialSecret to false: the
  // dialog says "encrypted" only when that is so.
  const credentialSecret = (RED.settings as unknown as { credentialSecret?: unknown }).credentialSecret;
  RED.nodes.registerType(
    "marketo-config",
    MarketoConfigNode as unknown as (this: Node, def: NodeDef) => void,
    {
      credentials: {
        clientId: { type: "text" },
        clientSecret: { type: "password" },
        redisUrl: { type: "password" },
      },
      settings: {
        marketoConfigCredentialsEncrypted: { value: credentialSecret !== false, exportable: true },
      },
    } as never,
  );

  // --- Test connection ----------------------------------------------------------------------

  /**
   * Tries the dialog's unsaved values: a token, then one cheap probe per API permission the
   * package needs. The stored secret is used when the dialog did not change it. Nothing in
   * the answer comes from the request's secret.
   */
  RED.httpAdmin.post("/marketo-config/test", RED.auth.needsPermission("marketo-config.write"), (req, res) => {
    const body: TestRequest = req.body !== null && typeof req.body === "object" ? (req.body as TestRequest) : {};
    const id = str(body.id);
    const stored = (id ? (RED.nodes.getCredentials(id) as Credentials | undefined) : undefined) ?? {};
    const deployed = id ? RED.nodes.getNode(id) : null;
    const secretGiven =
      typeof body.clientSecret === "string" && body.clientSecret !== "" && body.clientSecret !== UNCHANGED_PASSWORD;
    const dialogCreds: Credentials = {
      ...((str(body.clientId) ?? stored.clientId) ? { clientId: str(body.clientId) ?? stored.clientId } : {}),
      ...(secretGiven
        ? { clientSecret: body.clientSecret }
        : stored.clientSecret
          ? { clientSecret: stored.clientSecret }
          : {}),
    };
    const creds = credentialsFor(deployed, body.credentialSource, dialogCreds, body.clientIdEnv, body.clientSecretEnv);
    const fail = (status: number, category: string, message: string): void => {
      res.status(status).json({ ok: false, error: { category, message } });
    };
    if (creds.problem) return fail(400, "validation", `Marketo credentials: ${creds.problem}`);
    let endpoint: ReturnType<typeof normaliseEndpoint>;
    let probe: MarketoClient;
    try {
      endpoint = normaliseEndpoint(body.endpoint);
      // Its own client: the dialog's values may differ from the deployed ones. A short timeout
      // and one retry keep the button responsive when the host is wrong.
      probe = new MarketoClient({
        endpoint: body.endpoint ?? "",
        clientId: creds.clientId ?? "",
        clientSecret: creds.clientSecret ?? "",
        requestTimeoutMs: 15_000,
        retry: { maxAttempts: 2 },
        closeTimeoutMs: 1000,
      });
    } catch (err) {
      const e = asMarketoError(err);
      return fail(400, e.category, e.message);
    }
    probe
      .checkAccess()
      .then(async (report) => {
        await probe.close();
        res.json({
          ...report,
          endpoint: endpoint.origin,
          ...(endpoint.pastedSuffix ? { pastedSuffix: endpoint.pastedSuffix } : {}),
        });
      })
      .catch((err: unknown) => {
        probe.close().catch(() => undefined);
        const e = asMarketoError(err);
        fail(500, e.category, e.message);
      });
  });
};
