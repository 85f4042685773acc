/**
 * A REAL Node-RED (node_modules/node-red/red.js) as a child process, for what the test helper
 * cannot show: adminAuth actually enforced, the real log, flows and credentials on disk, and a
 * process that can be killed with SIGKILL and started again on the files it left behind.
 *
 * The package is loaded through `nodesDir` (the package root is itself a Node-RED module), so
 * nothing is installed into the scratch userDir. Every child is killed when the test process
 * exits, and each child also exits by itself when the test process is gone (a watchdog in the
 * settings file), so a crashed mocha leaves no Node-RED behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

/** The package root: a Node-RED module Node-RED can load from nodesDir as it is. */
export const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");
const RED_JS = require.resolve("node-red/red.js");

export type FlowJson = Array<Record<string, unknown>>;

export interface AdminUser {
  username: string;
  password: string;
  /** Node-RED permissions; "*" by default. */
  permissions?: string;
}

export interface StartOptions {
  flows: FlowJson;
  /** Credentials by node id, written to flows_cred.json (encrypted when credentialSecret is set). */
  credentials?: Record<string, Record<string, unknown>>;
  /** false (default): plaintext flows_cred.json; a string: Node-RED's aes-256-ctr with that key. */
  credentialSecret?: string | false;
  adminAuth?: AdminUser;
  /** Extra environment for the Node-RED process (env credentials, ...). */
  env?: Record<string, string>;
  /** An existing userDir to start in (kept afterwards); default: a fresh one under os.tmpdir(). */
  userDir?: string;
  /** More settings, JSON-serialisable, merged over the helper's. */
  settings?: Record<string, unknown>;
  /** Answer GET /_test/admin-routes with every route on the admin app (before auth: tests only). */
  listAdminRoutes?: boolean;
  /** How long to wait for "Started flows" (default 30 s). */
  startTimeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  body: any;
}

export interface NodeRedProcess {
  /** http://127.0.0.1:<port> (changes on restart only if the old port was taken). */
  readonly url: string;
  readonly userDir: string;
  readonly pid: number;
  readonly running: boolean;
  /** Everything the process(es) wrote to stdout and stderr so far, across restarts. */
  log(): string;
  /** The first match of `re` in the log from character `from` on; rejects on timeout or exit. */
  waitForLog(re: RegExp, ms?: number, from?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (SIGTERM by default) and resolves when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts Node-RED again in the same userDir, on the files as they are now; stops it first if running. */
  restart(): Promise<void>;
  /** Stops Node-RED (SIGTERM, then SIGKILL after 10 s) and removes a userDir the helper made. */
  stop(): Promise<void>;
  /** An HTTP request to the admin API; `token` is sent as a Bearer token. */
  request(method: string, route: string, options?: { body?: unknown; token?: string }): Promise<HttpAnswer>;
  /** An admin access token from POST /auth/token (password grant, client node-red-admin, scope *). */
  adminToken(username?: string, password?: string): Promise<string>;
}

// --- children are never left behind ---------------------------------------------------------

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
  children.clear();
}

process.once("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  const onSignal = (): void => {
    killAll();
    // Alone on this signal, the listener has replaced Node's default exit: restore it.
    if (process.listenerCount(sig) === 1) {
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    }
  };
  process.on(sig, onSignal);
}

// --- files ----------------------------------------------------------------------------------

/** Node-RED's own credential encryption (runtime/lib/node-kit/credentials.js). */
export function encryptCredentials(secret: string, credentials: unknown): { $: string } {
  const key = crypto.createHash("sha256").update(secret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-ctr", key, iv);
  return {
    $: iv.toString("hex") + cipher.update(JSON.stringify(credentials), "utf8", "base64") + cipher.final("base64"),
  };
}

export function decryptCredentials(secret: string, stored: { $: string }): unknown {
  const key = crypto.createHash("sha256").update(secret).digest();
  const iv = Buffer.from(stored.$.substring(0, 32), "hex");
  const decipher = crypto.createDecipheriv("aes-256-ctr", key, iv);
  return JSON.parse(decipher.update(stored.$.substring(32), "base64", "utf8") + decipher.final("utf8"));
}

function bcryptHash(password: string): string {
  // node-red ships bcryptjs for adminAuth; no dependency of our own for a test hash.
  const bcrypt = createRequire(require.resolve("node-red/package.json"))("bcryptjs") as {
    hashSync(s: string, rounds: number): string;
  };
  return bcrypt.hashSync(password, 8);
}

/** The runtime module red.js loads: its httpAdmin is the express app nodes add routes to. */
const RUNTIME_JS = require.resolve("@node-red/runtime", { paths: [path.dirname(RED_JS)] });

/**
 * Lists the routes nodes added to the runtime's admin app. Middleware runs before auth, so this
 * answers with adminAuth on: for tests only.
 */
const ROUTE_LISTER = `function (req, res, next) {
  if (req.method !== "GET" || req.path !== "/_test/admin-routes") return next();
  const app = require(${JSON.stringify(RUNTIME_JS)}).httpAdmin;
  const out = [];
  for (const layer of (app && app._router && app._router.stack) || []) {
    if (layer.route) for (const m of Object.keys(layer.route.methods)) out.push({ method: m.toUpperCase(), path: layer.route.path });
  }
  res.json(out);
}`;

function settingsSource(o: StartOptions): string {
  const settings: Record<string, unknown> = {
    uiHost: "127.0.0.1",
    flowFile: "flows.json",
    credentialSecret: o.credentialSecret ?? false,
    nodesDir: [PACKAGE_ROOT],
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    editorTheme: { tours: false, projects: { enabled: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    logging: { console: { level: "info", metrics: false, audit: false } },
    ...(o.adminAuth
      ? {
          adminAuth: {
            type: "credentials",
            users: [
              {
                username: o.adminAuth.username,
                password: bcryptHash(o.adminAuth.password),
                permissions: o.adminAuth.permissions ?? "*",
              },
            ],
          },
        }
      : {}),
    ...o.settings,
  };
  return [
    "// Written by test/helpers/node-red-process.ts for one test run.",
    `const settings = ${JSON.stringify(settings, null, 2)};`,
    // The port comes from the environment so that a restart can move if the old one was taken.
    "settings.uiPort = Number(process.env.NR_TEST_PORT);",
    o.listAdminRoutes ? `settings.httpAdminMiddleware = ${ROUTE_LISTER};` : "",
    // Exit when the test process that started us is gone (it may have been killed itself).
    "const parent = Number(process.env.NR_TEST_PARENT_PID);",
    "setInterval(() => { if (process.ppid !== parent) process.exit(1); }, 500).unref();",
    "module.exports = settings;",
    "",
  ].join("\n");
}

function freePort(preferred?: number): Promise<number> {
  const tryPort = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", () => {
        const got = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(got));
      });
    });
  return preferred ? tryPort(preferred).catch(() => tryPort(0)) : tryPort(0);
}

// --- the process --------------------------------------------------------------------------------

export async function startNodeRed(options: StartOptions): Promise<NodeRedProcess> {
  const madeDir = !options.userDir;
  const userDir = options.userDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "nr-marketo-"));
  fs.mkdirSync(userDir, { recursive: true });
  const settingsFile = path.join(userDir, "settings.js");
  fs.writeFileSync(settingsFile, settingsSource(options));
  fs.writeFileSync(path.join(userDir, "flows.json"), JSON.stringify(options.flows, null, 2));
  if (options.credentials) {
    const creds = options.credentialSecret
      ? encryptCredentials(options.credentialSecret, options.credentials)
      : options.credentials;
    fs.writeFileSync(path.join(userDir, "flows_cred.json"), JSON.stringify(creds, null, 2));
  }
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;

  let output = "";
  let child: ChildProcess | undefined;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({
    code: null,
    signal: null,
  });
  let port = 0;
  let stopped = false;
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };

  const waitForLog = (re: RegExp, ms = 10_000, from = 0): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const flags = re.flags.replace("g", "");
      const pattern = new RegExp(re.source, flags);
      let timer: NodeJS.Timeout | undefined = undefined;
      const done = (): void => {
        watchers.delete(check);
        if (timer) clearTimeout(timer);
      };
      const check = (): void => {
        const m = output.slice(from).match(pattern);
        if (m) {
          done();
          resolve(m);
        } else if (!child || child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`Node-RED exited before logging ${re}:\n${tail(output)}`));
        }
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${re} in the Node-RED log:\n${tail(output)}`));
      }, ms);
      watchers.add(check);
      check();
    });

  const spawnOnce = async (): Promise<void> => {
    port = await freePort(port || undefined);
    const from = output.length;
    const c = spawn(process.execPath, [RED_JS, "--userDir", userDir, "--settings", settingsFile], {
      cwd: userDir,
      env: { ...process.env, ...options.env, NR_TEST_PORT: String(port), NR_TEST_PARENT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = c;
    children.add(c);
    const onData = (d: Buffer): void => {
      output += d.toString("utf8");
      notify();
    };
    c.stdout!.on("data", onData);
    c.stderr!.on("data", onData);
    exited = new Promise((resolve) => {
      c.once("exit", (code, signal) => {
        children.delete(c);
        resolve({ code, signal });
        notify();
      });
    });
    try {
      await waitForLog(/Started flows/, startTimeoutMs, from);
    } catch (err) {
      c.kill("SIGKILL");
      await exited;
      throw err;
    }
  };

  const kill = async (
    signal: NodeJS.Signals = "SIGTERM",
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill(signal);
    return exited;
  };

  const shutDown = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const force = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await kill("SIGTERM");
    clearTimeout(force);
  };

  const url = (): string => `http://127.0.0.1:${port}`;

  const request = async (
    method: string,
    route: string,
    o: { body?: unknown; token?: string } = {},
  ): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    const res = await fetch(url() + route, {
      method,
      headers,
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, text, body };
  };

  await spawnOnce();

  return {
    get url() {
      return url();
    },
    userDir,
    get pid() {
      return child?.pid ?? -1;
    },
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    log: () => output,
    waitForLog,
    kill,
    restart: async () => {
      if (stopped) throw new Error("restart() after stop()");
      await shutDown();
      await spawnOnce();
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await shutDown();
      if (madeDir) fs.rmSync(userDir, { recursive: true, force: true });
    },
    request,
    adminToken: async (username = options.adminAuth?.username, password = options.adminAuth?.password) => {
      const res = await fetch(`${url()}/auth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ client_id: "node-red-admin", grant_type: "password", scope: "*", username, password }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || !body.access_token) throw new Error(`POST /auth/token answered ${res.status}`);
      return body.access_token;
    },
  };
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}
