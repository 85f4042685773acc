/**
 * Helpers for the nodes' admin routes (RED.httpAdmin). Every answer there is JSON, errors
 * included, so the editor shows a reason rather than an HTML error page.
 */
import type { NodeAPI } from "node-red";

interface JsonResponse {
  headersSent: boolean;
  status(code: number): { json(body: unknown): void };
}

/** The status and body an admin route answers for an error thrown before or inside it. */
export function jsonErrorAnswer(err: unknown): { status: number; body: { error: string; category: "validation" } } {
  const e = (err ?? {}) as { status?: unknown; statusCode?: unknown; type?: unknown; message?: unknown };
  const raw = typeof e.status === "number" ? e.status : typeof e.statusCode === "number" ? e.statusCode : 500;
  const message = typeof e.message === "string" ? e.message : "bad request";
  const error = e.type === "entity.parse.failed" ? `the body is not valid JSON: ${message}` : message;
  return { status: raw >= 400 && raw < 600 ? raw : 500, body: { error, category: "validation" } };
}

/**
 * Answers in JSON every error under `/<prefix>`: a malformed body fails in the admin app's body
 * parser before a route runs, and would otherwise get Express's HTML page.
 */
export function answerErrorsInJson(RED: NodeAPI, prefix: string): void {
  RED.httpAdmin.use(`/${prefix}`, (err: unknown, _req: unknown, res: JsonResponse, next: (e?: unknown) => void) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const { status, body } = jsonErrorAnswer(err);
    res.status(status).json(body);
  });
}
