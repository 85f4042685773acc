import type { RouteDef } from "./types";

export type Family = RouteDef["family"];

/** Messages Marketo writes for the gateway-level codes the emulator produces itself. */
export const MESSAGES: Readonly<Record<string, string>> = {
  "500": "Internal Server Error",
  "502": "Bad Gateway",
  "600": "Access token not specified",
  "601": "Access token invalid",
  "602": "Access token expired",
  "603": "Access denied",
  "604": "Request timed out",
  "605": "HTTP Method not supported",
  "606": "Max rate limit exceeded",
  "607": "Daily quota reached",
  "608": "API Temporarily Unavailable",
  "609": "Invalid JSON",
  "610": "Requested resource not found",
  "611": "System error",
  "612": "Invalid Content Type",
  "613": "Invalid Multipart Request",
  "614": "Invalid Subscription",
  "615": "Concurrent access limit reached",
  "713": "Transient Error",
  "719": "Lock wait timeout exception",
};

export function messageFor(code: string): string {
  return MESSAGES[code] ?? `Error ${code}`;
}

/**
 * Marketo request ids are `<hex counter>#<hex epoch ms>`; clients log them and some parse the
 * time half, so both halves are real. The counter starts at a random point like a real pod's.
 */
export class RequestIds {
  private counter = 0x1000 + Math.floor(Math.random() * 0xefff);

  next(nowMs: number): string {
    this.counter += 1;
    return `${this.counter.toString(16)}#${Math.floor(nowMs).toString(16)}`;
  }

  reset(): void {
    this.counter = 0x1000 + Math.floor(Math.random() * 0xefff);
  }
}

export interface ErrorItem {
  code: string;
  message: string;
}

export type Envelope = Record<string, unknown> & { success: boolean };

export function isEnvelope(body: unknown): body is Envelope {
  return (
    typeof body === "object" &&
    body !== null &&
    !Array.isArray(body) &&
    typeof (body as { success?: unknown }).success === "boolean"
  );
}

/** The error codes of a failed envelope (response level), as strings. */
export function envelopeErrorCodes(body: unknown): string[] {
  if (!isEnvelope(body) || body.success) return [];
  const errors = body.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .map((e: unknown) => (typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined))
    .filter((c): c is string | number => typeof c === "string" || typeof c === "number")
    .map(String);
}

/** A handler-side success body (the server adds `requestId` and family conventions). */
export function ok(result: unknown[], extra: Record<string, unknown> = {}): Envelope {
  return { success: true, result, ...extra };
}

export function failure(code: string, message?: string): Envelope {
  return { success: false, errors: [{ code, message: message ?? messageFor(code) }] };
}

/**
 * Puts `requestId` first and applies the family's conventions: lead-DB successes carry no
 * `errors` key (real responses omit it), asset answers always carry `errors` and `warnings`.
 */
export function finishEnvelope(body: Envelope, requestId: string, family: Family): Envelope {
  const { requestId: _ignored, ...rest } = body;
  const out: Envelope = { requestId, ...rest };
  if (family === "asset") {
    if (!Array.isArray(out.errors)) out.errors = [];
    if (!Array.isArray(out.warnings)) out.warnings = [];
  } else if (out.success && Array.isArray(out.errors) && out.errors.length === 0) {
    delete out.errors;
  }
  return out;
}

export function errorEnvelope(requestId: string, family: Family, code: string, message?: string): Envelope {
  return finishEnvelope(failure(code, message), requestId, family);
}

/** Which family a path belongs to, judged from its prefix (also for unrouted paths). */
export function familyOf(path: string): Family {
  if (path.startsWith("/bulk/")) return "bulk";
  if (path.startsWith("/rest/asset/")) return "asset";
  return "rest";
}
