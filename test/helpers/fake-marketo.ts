/**
 * A scripted stand-in for Marketo: answers exactly what a test tells it to, and records every
 * request. Not an emulator — no state beyond the script.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Parsed form body (application/x-www-form-urlencoded). */
  form?: URLSearchParams;
  json?: unknown;
  /** Multipart parts by field name (file content as text). */
  parts?: Record<string, string>;
  at: number;
}

export type Reply =
  | { status?: number; json?: unknown; text?: string; headers?: Record<string, string>; delayMs?: number }
  | "hang"
  | "reset";

export type Handler = (req: FakeRequest) => Reply | Promise<Reply>;

interface Route {
  method: string;
  path: string | RegExp;
  queue: Reply[];
  handler?: Handler;
}

let counter = 0;
export function envelope(result: unknown[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  counter++;
  return { requestId: `${counter.toString(16)}#${Date.now().toString(16)}`, success: true, result, ...extra };
}

export function failure(code: string, message = `error ${code}`): Record<string, unknown> {
  counter++;
  return {
    requestId: `${counter.toString(16)}#${Date.now().toString(16)}`,
    success: false,
    errors: [{ code, message }],
  };
}

export class FakeMarketo {
  url = "";
  readonly requests: FakeRequest[] = [];
  identityCalls = 0;
  token = "tok-1";
  expiresIn = 3600;
  /** Accept this token on API calls (defaults to `token`); anything else → 601. */
  acceptToken?: (t: string) => boolean;
  identity: Handler = () => ({
    json: { access_token: this.token, token_type: "bearer", expires_in: this.expiresIn, scope: "api@x" },
  });
  private readonly routes: Route[] = [];
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private readonly sockets = new Set<import("node:net").Socket>();

  async start(): Promise<this> {
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Replies used once each, in order, before falling back to `handler` (or 610). */
  on(method: string, path: string | RegExp, handler?: Handler, ...queue: Reply[]): this {
    this.routes.push({ method, path, queue, handler });
    return this;
  }

  api(path?: string | RegExp): FakeRequest[] {
    return this.requests.filter(
      (r) =>
        !r.path.startsWith("/identity") &&
        (path === undefined || (typeof path === "string" ? r.path === path : path.test(r.path))),
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://x");
    const ct = String(req.headers["content-type"] ?? "");
    const fr: FakeRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      at: Date.now(),
    };
    if (ct.startsWith("application/x-www-form-urlencoded")) fr.form = new URLSearchParams(body);
    if (ct.startsWith("application/json")) {
      try {
        fr.json = JSON.parse(body);
      } catch {
        /* left undefined: the test sees body */
      }
    }
    if (ct.startsWith("multipart/form-data")) fr.parts = parseMultipart(body, ct);
    this.requests.push(fr);
    let reply: Reply;
    if (fr.path === "/identity/oauth/token") {
      this.identityCalls++;
      reply = await this.identity(fr);
    } else {
      const auth = String(req.headers.authorization ?? "");
      const token = auth.replace(/^Bearer /, "");
      const ok = this.acceptToken ? this.acceptToken(token) : token === this.token;
      const method =
        fr.method === "POST" && (fr.query.get("_method") ?? fr.form?.get("_method"))
          ? String(fr.query.get("_method") ?? fr.form?.get("_method"))
          : fr.method;
      const matching = this.routes.filter(
        (r) => r.method === method && (typeof r.path === "string" ? r.path === fr.path : r.path.test(fr.path)),
      );
      // Scripted one-off replies go first, whichever route holds them.
      const route = matching.find((r) => r.queue.length) ?? matching.find((r) => r.handler) ?? matching[0];
      if (!auth) reply = { json: failure("600", "Access token not specified") };
      else if (!ok) reply = { json: failure("601", "Access token invalid") };
      else if (!route) reply = { json: failure("610", "Requested resource not found") };
      else if (route.queue.length) reply = route.queue.shift() as Reply;
      else if (route.handler) reply = await route.handler(fr);
      else reply = { json: failure("610", "no scripted reply left") };
    }
    if (reply === "hang") return; // never answers: the client's timeout must fire
    if (reply === "reset") {
      req.socket.destroy();
      return;
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const text = reply.text ?? JSON.stringify(reply.json ?? envelope());
    res.writeHead(reply.status ?? 200, {
      "Content-Type": reply.text !== undefined ? "text/html" : "application/json;charset=UTF-8",
      ...reply.headers,
    });
    res.end(text);
  }
}

function parseMultipart(body: string, contentType: string): Record<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  const out: Record<string, string> = {};
  if (!boundary) return out;
  for (const part of body.split(`--${boundary}`)) {
    const sep = part.indexOf("\r\n\r\n");
    if (sep < 0) continue;
    const head = part.slice(0, sep);
    const name = /name="([^"]+)"/.exec(head)?.[1];
    if (!name) continue;
    out[name] = part.slice(sep + 4).replace(/\r\n$/, "");
  }
  return out;
}
