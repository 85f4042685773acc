import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { familyOf, messageFor } from "./envelope";
import { drawFault, type Fault } from "./faults";
import { handleInspect } from "./inspect";
import { Reply } from "./reply";
import { bearerToken, mediaType, parseMultipart, readBody } from "./requestBody";
import type { EmulatorRuntime } from "./runtime";
import type { ApiClient } from "./auth";
import { ApiError, type EmuRequest, type RouteDef } from "./types";
import { errorText } from "../lib/node-kit/guards";

const IDENTITY_PATH = "/identity/oauth/token";
const DEFAULT_TIMEOUT_MS = 30_000;

const html = (status: string): string =>
  `<html>\r\n<head><title>${status}</title></head>\r\n<body>\r\n<center><h1>${status}</h1></center>\r\n</body>\r\n</html>\r\n`;

/** The HTTP transport: parses requests and applies Marketo's gateway rules in Marketo's order. */
export function createHttpServer(rt: EmulatorRuntime): http.Server {
  // A generous header limit so over-long URLs reach the 414 check instead of Node's own 431.
  return http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    handle(rt, req, res).catch((err: unknown) => {
      if (res.destroyed || res.writableEnded) return;
      rt.log(`error: ${errorText(err)}`);
      res.writeHead(500, { "Content-Type": "text/plain;charset=UTF-8" });
      res.end("Internal Server Error");
    });
  });
}

async function handle(rt: EmulatorRuntime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rawUrl = req.url ?? "/";
  const rawMethod = (req.method ?? "GET").toUpperCase();
  const url = parseUrl(rawUrl);
  if (!url) {
    // Node's parser lets through request targets the WHATWG URL parser refuses (`//[`). They
    // are answered and recorded here rather than thrown out of handle() as a bare 500: Marketo
    // answers only 413/414 at HTTP level, and a path it cannot route is a 610 envelope.
    rt.stats.totalRequests += 1;
    const reply = new Reply(rt, res, "rest", rawMethod, "(unparseable URL)");
    await readBody(req, 0);
    reply.error("610");
    return;
  }
  const path = url.pathname;

  if (path === "/_emulator" || path.startsWith("/_emulator/")) {
    const body = await readBody(req, rt.limits.maxBodyBytes);
    const answer = handleInspect(rt, rawMethod, path, body);
    // Written directly, not through Reply: inspection calls stay out of the stats they report.
    const text = JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      "Content-Type": "application/json;charset=UTF-8",
      "Content-Length": String(Buffer.byteLength(text)),
    });
    res.end(text);
    return;
  }

  rt.stats.totalRequests += 1;
  const family = familyOf(path);
  const reply = new Reply(rt, res, family, rawMethod, path);

  if (Buffer.byteLength(rawUrl) > rt.limits.maxUrlBytes) {
    await readBody(req, 0);
    reply.text(414, "text/html", html("414 Request-URI Too Large"));
    return;
  }
  const limit = family === "bulk" ? rt.limits.maxBulkBodyBytes : rt.limits.maxBodyBytes;
  const raw = await readBody(req, limit);
  if (raw.tooLarge) {
    reply.text(413, "text/html", html("413 Request Entity Too Large"));
    return;
  }

  const contentTypeHeader = req.headers["content-type"];
  const ct = mediaType(contentTypeHeader);
  const query = new URLSearchParams(url.search);
  // Form bodies carry the query of `POST ...?_method=GET` overrides (and identity parameters).
  if (ct === "application/x-www-form-urlencoded" && raw.buf.length > 0) {
    for (const [k, v] of new URLSearchParams(raw.buf.toString("utf8"))) query.append(k, v);
  }

  if (path === IDENTITY_PATH) {
    rt.stats.identityCalls += 1;
    if (rawMethod !== "GET" && rawMethod !== "POST") {
      reply.error("605", `Request method '${rawMethod}' not supported`);
      return;
    }
    const answer = rt.tokens.identity(query);
    reply.clientId = query.get("client_id") ?? undefined;
    reply.json(answer.status, answer.body, { "Cache-Control": "no-store", Pragma: "no-cache" });
    return;
  }

  await rt.waitIfPaused();
  // Released by stop(): the socket is gone, nothing to answer or count.
  if (reply.closed || rt.stopped) return;

  const override = query.get("_method")?.toUpperCase();
  const method = rawMethod === "POST" && (override === "GET" || override === "DELETE") ? override : rawMethod;
  const match = rt.router.match(method, path);
  if (!match.found) {
    if (match.pathKnown) reply.error("605", `Request method '${method}' not supported`);
    else reply.error("610");
    return;
  }
  const { route, params } = match;
  rt.stats.route(`${route.method} ${route.pattern}`);

  let body: unknown;
  let form: FormData | undefined;
  // Parsed on the raw verb: `POST ...?_method=GET` may carry a JSON body (compound-key
  // custom object queries), not only a form.
  if (rawMethod === "POST") {
    const hasBody = raw.buf.length > 0;
    if (ct === "multipart/form-data" && route.family === "bulk") {
      try {
        form = await parseMultipart(raw.buf, contentTypeHeader ?? "");
      } catch {
        reply.error("613");
        return;
      }
    } else if (ct === "application/json") {
      if (hasBody) {
        try {
          body = JSON.parse(raw.buf.toString("utf8"));
        } catch {
          reply.error("609");
          return;
        }
      }
    } else if (ct === "application/x-www-form-urlencoded" && method !== "POST") {
      // An overridden GET/DELETE: its form body was merged into the query above.
    } else if (ct !== undefined || hasBody) {
      reply.error("612");
      return;
    }
  }

  const token =
    bearerToken(req.headers.authorization) ?? (rt.options.allowQueryToken ? paramToken(rt, query, form) : undefined);
  const verified = rt.tokens.verify(token);
  if (!verified.ok) {
    reply.error(verified.code, verified.message);
    return;
  }
  reply.clientId = verified.client.clientId;

  const admission = rt.limiter.admit();
  if (!admission.ok) {
    reply.error(admission.code, admission.message);
    return;
  }
  let counted = false;
  try {
    const emuReq: EmuRequest = {
      method: route.method,
      path,
      params,
      query,
      body,
      form,
      clientId: verified.client.clientId,
    };
    counted = await admitted(rt, route, emuReq, verified.client, reply);
  } finally {
    rt.limiter.finish(admission.ticket, counted);
    if (counted) {
      rt.stats.countedCalls += 1;
      rt.usage.call(verified.client.clientId);
    }
  }
}

function parseUrl(rawUrl: string): URL | undefined {
  try {
    return new URL(rawUrl.startsWith("/") ? rawUrl : `/${rawUrl}`, "http://emulator.invalid");
  } catch {
    return undefined;
  }
}

/** The `access_token` parameter of legacy clients (query, form body or multipart field). */
function paramToken(rt: EmulatorRuntime, query: URLSearchParams, form: FormData | undefined): string | undefined {
  const fromForm = form?.get("access_token");
  const token = query.get("access_token") ?? (typeof fromForm === "string" ? fromForm : undefined);
  if (token) rt.warnQueryToken();
  return token ?? undefined;
}

/** An admitted call: permissions, batch size, faults, latency, handler. Returns whether it counts. */
async function admitted(
  rt: EmulatorRuntime,
  route: RouteDef,
  req: EmuRequest,
  client: ApiClient,
  reply: Reply,
): Promise<boolean> {
  if (route.permissions.length > 0 && !route.permissions.some((p) => client.permissions.includes(p))) {
    reply.error("603", "Access denied");
    return false;
  }
  const input = inputLength(req.body);
  if (req.method === "POST" && input > rt.limits.maxBatch) {
    reply.error("1003", `Too many records in input: ${input} (max ${rt.limits.maxBatch})`);
    return false;
  }

  const fault = drawFault(rt.faults, rt.random);
  const afterHandler = fault !== undefined && route.writes === true && rt.faults.applyBeforeFailure;
  if (fault && !afterHandler) {
    sendFault(rt, fault, reply);
    return false;
  }

  const delay = rt.faults.latencyMs + rt.random() * rt.faults.latencyJitterMs;
  const timeout = route.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (delay >= timeout) {
    await rt.sleep(timeout);
    if (rt.stopped) return false;
    reply.error("604", "Request timed out");
    return false;
  }
  // The handler runs even if the client has gone away meanwhile: Marketo would still apply it.
  await rt.sleep(delay);
  // ...but not after stop(): the sleep was cut short only so the call can leave the limiter.
  if (rt.stopped) return false;

  let counted: boolean;
  try {
    const response = await route.handler(req);
    if (route.writes) rt.stats.results(`${route.method} ${route.pattern}`, response.body);
    if (fault) {
      // "604 but the write applied": the handler ran, the client sees only the failure.
      sendFault(rt, fault, reply);
      return false;
    }
    counted = reply.handlerResponse(response);
  } catch (err) {
    if (isApiError(err)) {
      reply.error(err.code, err.message);
    } else {
      rt.log(`error: handler for ${route.method} ${route.pattern} threw: ${errorText(err)}`);
      reply.error("611", messageFor("611"));
    }
    return false;
  }
  return counted;
}

function sendFault(rt: EmulatorRuntime, fault: Fault, reply: Reply): void {
  rt.stats.faultsInjected += 1;
  if (fault.kind === "reset") reply.reset();
  else if (fault.kind === "http") reply.text(fault.status, fault.contentType, fault.body, fault.code);
  else reply.error(fault.code, fault.message);
}

function inputLength(body: unknown): number {
  if (typeof body !== "object" || body === null) return 0;
  const input = (body as { input?: unknown }).input;
  return Array.isArray(input) ? input.length : 0;
}

/** Tolerates a second copy of the ApiError class (e.g. a module loaded twice). */
function isApiError(err: unknown): err is ApiError {
  return (
    err instanceof ApiError ||
    (err instanceof Error && err.name === "ApiError" && typeof (err as { code?: unknown }).code === "string")
  );
}
