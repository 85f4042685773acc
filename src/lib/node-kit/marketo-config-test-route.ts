/**
 * The marketo-config dialog's "Test connection": tries the dialog's unsaved values with a client
 * of its own, so it works before a deploy and never disturbs the deployed one.
 */
import type { NodeAPI } from "node-red";
import { MarketoClient, normaliseEndpoint } from "../marketo";
import { credentialsFor, str, type Credentials } from "./marketo-credentials";
import { asMarketoError } from "./marketo-config-options";

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

/**
 * Tries the dialog's unsaved values: a token, then one cheap probe per API permission the
 * package needs. The stored secret is used when the dialog did not change it. Nothing in
 * the answer comes from the request's secret.
 */
export function registerTestConnectionRoute(RED: NodeAPI): void {
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
    const creds = credentialsFor(
      RED,
      deployed,
      body.credentialSource,
      dialogCreds,
      body.clientIdEnv,
      body.clientSecretEnv,
    );
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
}
