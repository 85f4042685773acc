export type ErrorCategory = "validation" | "auth" | "rate-limit" | "quota" | "network" | "marketo";
export type ErrorAction = "retry" | "reauth" | "wait-window" | "wait-day" | "permanent";

export interface Classification {
  category: ErrorCategory;
  action: ErrorAction;
  /** True when the same request may succeed later without a person changing anything. */
  retryable: boolean;
  /** Marketo uses an error code, but the outcome is what the caller wanted (1037, 1015, 702...). */
  benign?: boolean;
}

export interface MarketoErrorInit extends Classification {
  code: string;
  message: string;
  requestId?: string;
  httpStatus?: number;
  operation?: string;
}

/** What an error says about itself in JSON: everything but the classifier's internal `benign` flag. */
export type MarketoErrorJSON = Omit<MarketoErrorInit, "benign">;

/**
 * Every failure the client reports. Deliberately carries no `cause`, request or config:
 * axios errors hold the URL, headers (Bearer token) and body (client secret).
 */
export class MarketoError extends Error {
  code: string;
  category: ErrorCategory;
  action: ErrorAction;
  retryable: boolean;
  requestId?: string;
  httpStatus?: number;
  operation?: string;

  constructor(init: MarketoErrorInit) {
    super(init.message);
    this.name = "MarketoError";
    this.code = init.code;
    this.category = init.category;
    this.action = init.action;
    this.retryable = init.retryable;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.httpStatus !== undefined) this.httpStatus = init.httpStatus;
    if (init.operation !== undefined) this.operation = init.operation;
  }

  /** Exactly the fields a flow or log may see: no stack, no cause, no request. */
  toJSON(): MarketoErrorJSON {
    const out: MarketoErrorJSON = {
      code: this.code,
      message: this.message,
      category: this.category,
      action: this.action,
      retryable: this.retryable,
    };
    if (this.requestId !== undefined) out.requestId = this.requestId;
    if (this.httpStatus !== undefined) out.httpStatus = this.httpStatus;
    if (this.operation !== undefined) out.operation = this.operation;
    return out;
  }

  /** A copy naming the operation it happened in (errors are shared between records). */
  withOperation(operation: string): MarketoError {
    const copy = new MarketoError({ ...this.toJSON(), operation });
    copy.stack = this.stack;
    return copy;
  }
}

const c = (category: ErrorCategory, action: ErrorAction, benign = false): Classification => ({
  category,
  action,
  retryable: action !== "permanent",
  ...(benign ? { benign: true } : {}),
});

const FAIL_INPUT = c("validation", "permanent");
const RETRY = c("marketo", "retry");
const SERVER_FAIL = c("marketo", "permanent");

/**
 * Every code Marketo documents, code by code. Decisions on points Marketo's documentation leaves
 * open are marked [U] and commented inline.
 */
const TABLE: Record<string, Classification> = {
  // HTTP statuses
  "401": c("auth", "permanent"), // identity refused the client id/secret: a person must fix them
  "413": FAIL_INPUT, // the client splits batches itself; surfacing means one record is > 1 MB
  "414": FAIL_INPUT, // the client resends as POST _method=GET; surfacing means the body is too big too
  "429": c("rate-limit", "wait-window"), // [U] not documented; a gateway may still send it
  "500": RETRY, // Marketo's own internal error: category marketo, retried a few times
  // [U] 502/503/504 are gateway answers (upstream unreachable or slow), not Marketo judging
  // the data, so they are "network" like a reset socket.
  "502": c("network", "retry"),
  "503": c("network", "retry"),
  "504": c("network", "retry"),
  // 6xx: request-level
  "600": c("auth", "reauth"), // [U] library-only code; a fresh token is the only fix we can try
  "601": c("auth", "reauth"),
  "602": c("auth", "reauth"),
  "603": c("auth", "permanent"), // the API user's role lacks a permission, or IP allow-list
  "604": RETRY, // writes may have applied; createOrUpdate retries are safe
  "605": FAIL_INPUT, // wrong HTTP method: usually a proxy/endpoint misconfiguration
  "606": c("rate-limit", "wait-window"),
  "607": c("quota", "wait-day"),
  "608": RETRY,
  "609": FAIL_INPUT,
  "610": FAIL_INPUT, // unknown URL: the endpoint points at the wrong place
  "611": RETRY, // [U] libraries disagree; retried at most twice by the transport
  "612": FAIL_INPUT,
  "613": FAIL_INPUT,
  "614": RETRY,
  "615": c("rate-limit", "wait-window"),
  "616": FAIL_INPUT, // subscription lacks the feature: an admin/licence fix
  // 7xx: request-level, mostly asset API
  "701": FAIL_INPUT,
  "702": c("marketo", "permanent", true), // "no data found" = empty result
  "703": FAIL_INPUT,
  "704": FAIL_INPUT,
  "709": FAIL_INPUT,
  "710": FAIL_INPUT,
  "711": FAIL_INPUT,
  "712": FAIL_INPUT,
  "713": RETRY,
  "714": FAIL_INPUT,
  "718": FAIL_INPUT,
  "719": RETRY,
  // 1xxx: record-level mostly
  "1001": FAIL_INPUT,
  "1002": FAIL_INPUT,
  "1003": FAIL_INPUT,
  "1004": FAIL_INPUT,
  "1005": FAIL_INPUT,
  "1006": FAIL_INPUT,
  "1007": FAIL_INPUT,
  "1008": FAIL_INPUT,
  "1009": FAIL_INPUT,
  "1010": FAIL_INPUT,
  "1011": FAIL_INPUT,
  "1012": FAIL_INPUT,
  "1013": FAIL_INPUT,
  "1014": RETRY,
  "1015": c("validation", "permanent", true), // lead not in list: the removal's goal already holds
  "1016": RETRY, // import queue full: bulk import waits and resubmits
  "1017": FAIL_INPUT,
  "1018": FAIL_INPUT,
  "1019": RETRY,
  "1020": c("quota", "wait-day"),
  "1021": FAIL_INPUT,
  "1022": SERVER_FAIL, // [U] object in use: Marketo state, not the request's data; not retried
  "1025": FAIL_INPUT,
  "1026": FAIL_INPUT,
  "1027": FAIL_INPUT,
  "1028": FAIL_INPUT,
  "1029": RETRY, // refined by message below
  "1035": FAIL_INPUT,
  "1036": FAIL_INPUT, // the batcher never puts one key twice in a call; if seen, it is the input
  "1037": c("marketo", "permanent", true), // already in or past this status = nothing to do
  "1042": FAIL_INPUT,
  "1048": SERVER_FAIL,
  "1049": FAIL_INPUT,
  "1076": FAIL_INPUT,
  "1077": FAIL_INPUT,
  "1078": FAIL_INPUT,
  "1079": FAIL_INPUT,
  "1080": FAIL_INPUT,
};

/** Transport failures (no HTTP answer). A client-side timeout is reported as ETIMEDOUT. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND", // [U] may be a typo in the host, but DNS outages are transient too; retries are bounded
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ESOCKETTIMEDOUT",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "UND_ERR_SOCKET",
  "SOCKET_HANG_UP",
  "ERR_BAD_RESPONSE",
]);

export function classify(code: string, message = "", httpStatus?: number): Classification {
  if (code === "1029") {
    if (/export daily quota/i.test(message)) return c("quota", "wait-day");
    if (/already queued/i.test(message)) return c("marketo", "permanent", true);
    return RETRY; // "Too many jobs in queue" and anything unrecognised
  }
  const known = TABLE[code];
  if (known) return known;
  const n = /^\d+$/.test(code) ? Number(code) : NaN;
  if (Number.isNaN(n)) {
    if (NETWORK_CODES.has(code.toUpperCase()) || /socket hang up|timeout/i.test(message)) {
      return c("network", "retry");
    }
    return httpStatus !== undefined && httpStatus >= 500 ? RETRY : SERVER_FAIL;
  }
  if (n >= 500 && n <= 599) return RETRY; // unknown 5xx: transient until proven otherwise
  // Unknown HTTP 4xx, 6xx, 7xx (715-717 are undocumented) and 1xxx: permanent.
  return SERVER_FAIL;
}

/** Builds a MarketoError for a Marketo code, classified. */
export function marketoError(
  code: string,
  message: string,
  extra: { requestId?: string; httpStatus?: number; operation?: string } = {},
): MarketoError {
  return new MarketoError({ code, message, ...classify(code, message, extra.httpStatus), ...extra });
}

export function clientClosedError(operation?: string, wasQueued = false): MarketoError {
  // Never the record's fault: whoever holds it may send it again through a client that is open
  // (in Node-RED, the one the redeploy made), so it is retryable either way.
  return new MarketoError({
    code: "CLIENT_CLOSED",
    message: wasQueued
      ? "Marketo client closed before this record was sent"
      : "Marketo client closed: no new records are accepted",
    category: "network",
    action: "retry",
    retryable: true,
    ...(operation ? { operation } : {}),
  });
}

/** Removes anything that looks like a secret from text we did not write (server bodies, axios messages). */
export function scrub(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  }
  return out
    .replace(/(client_secret|access_token)=[^&\s"]*/gi, "$1=[redacted]")
    .replace(/Bearer\s+[A-Za-z0-9:._-]+/g, "Bearer [redacted]");
}

/** What of a connection URL (Redis) must never be shown: its password, raw and decoded, and the URL itself. */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [u.password, decodeURIComponent(u.password), url].filter((s) => s !== "");
  } catch {
    return [url];
  }
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
}

/**
 * Turns a thrown transport error (axios/Node) into a network MarketoError, keeping only the
 * error code and a scrubbed message — never the request, config or response objects.
 */
export function networkError(err: unknown, secrets: Array<string | undefined>, operation?: string): MarketoError {
  const e = (typeof err === "object" && err !== null ? err : {}) as ErrorLike;
  let code = typeof e.code === "string" && e.code ? e.code : "";
  const rawMessage = typeof e.message === "string" ? e.message : String(err);
  if (code === "ECONNABORTED" && /timeout/i.test(rawMessage)) code = "ETIMEDOUT";
  if (!code && /socket hang up/i.test(rawMessage)) code = "ECONNRESET";
  if (!code && /timeout/i.test(rawMessage)) code = "ETIMEDOUT";
  if (!code) code = "NETWORK_ERROR";
  const message = scrub(`Could not reach Marketo (${code}): ${rawMessage}`, secrets);
  return new MarketoError({
    code,
    message,
    category: "network",
    action: "retry",
    retryable: true,
    ...(operation ? { operation } : {}),
  });
}
