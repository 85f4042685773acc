import type { ClientSpec } from "./auth";
import type { RawBody } from "./requestBody";
import type { EmulatorRuntime } from "./runtime";
import type { Permission } from "./types";

export interface InspectAnswer {
  status: number;
  body: unknown;
}

type Op = (body: unknown) => unknown;

/**
 * The `/_emulator/` control API: plain JSON, no auth, never counted or limited, answered even
 * while API calls are paused. Each operation is a runtime method, so the in-process handle and
 * HTTP give identical answers.
 */
function operations(rt: EmulatorRuntime): Record<string, Partial<Record<string, Op>>> {
  return {
    "/_emulator/state": { GET: () => rt.stateJson() },
    "/_emulator/stats": { GET: () => rt.statsJson() },
    "/_emulator/stats/reset": { POST: () => rt.resetStats() },
    "/_emulator/reset": { POST: () => rt.resetAll() },
    "/_emulator/faults": { GET: () => rt.getFaults(), PUT: (b) => rt.setFaults(b), POST: (b) => rt.setFaults(b) },
    "/_emulator/limits": { GET: () => rt.getLimits(), PUT: (b) => rt.setLimits(b), POST: (b) => rt.setLimits(b) },
    "/_emulator/day/rollover": { POST: () => rt.rolloverDay() },
    "/_emulator/tokens/expire": { POST: () => rt.expireTokens() },
    "/_emulator/pause": { POST: () => rt.pause() },
    "/_emulator/resume": { POST: () => rt.resume() },
    "/_emulator/clients": { POST: (b) => rt.addClient(clientSpec(b)) },
  };
}

export function handleInspect(rt: EmulatorRuntime, method: string, path: string, raw: RawBody): InspectAnswer {
  const ops = operations(rt);
  const route = path.replace(/\/+$/, "");
  if (route === "/_emulator" && method === "GET") {
    return {
      status: 200,
      body: { routes: Object.entries(ops).map(([p, m]) => `${Object.keys(m).join("|")} ${p}`) },
    };
  }
  const byMethod = ops[route];
  if (!byMethod) return { status: 404, body: { error: `Unknown inspection route '${path}'` } };
  const op = byMethod[method];
  if (!op) return { status: 405, body: { error: `Method ${method} not allowed on ${route}` } };
  if (raw.tooLarge) return { status: 413, body: { error: "Body too large" } };
  let body: unknown = {};
  if (raw.buf.length > 0) {
    try {
      body = JSON.parse(raw.buf.toString("utf8"));
    } catch {
      return { status: 400, body: { error: "Body is not valid JSON" } };
    }
  }
  try {
    return { status: 200, body: op(body) };
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) return { status: 400, body: { error: err.message } };
    throw err;
  }
}

function clientSpec(body: unknown): ClientSpec {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new TypeError("client must be a JSON object");
  const b = body as Record<string, unknown>;
  if (typeof b.clientId !== "string" || b.clientId === "") throw new TypeError("clientId must be a non-empty string");
  if (typeof b.clientSecret !== "string" || b.clientSecret === "") {
    throw new TypeError("clientSecret must be a non-empty string");
  }
  let permissions: Permission[] | undefined;
  if (b.permissions !== undefined) {
    if (!Array.isArray(b.permissions) || !b.permissions.every((p) => typeof p === "string")) {
      throw new TypeError("permissions must be an array of permission names");
    }
    permissions = b.permissions as Permission[];
  }
  return { clientId: b.clientId, clientSecret: b.clientSecret, permissions };
}
