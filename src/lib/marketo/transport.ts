import type { AxiosInstance, AxiosResponse } from "axios";
import { apiUrl } from "./endpoint";
import { MarketoError, classify, marketoError, networkError, scrub } from "./errors";
import type { CallLimiter, Grant } from "./limiter";
import { backoffDelay, concurrencyPause, rateLimitPause, type Timers } from "./timers";
import { parseJson, type TokenManager } from "./token";
import type { Logger, MarketoEnvelope, MarketoReason, RetryOptions } from "./types";
import type { UsageTracker } from "./usage";
import { dropUnsafeKeys } from "./keys";
import { mayHaveArrived } from "./arrival-check";

/** URLs longer than this go as POST + `_method=GET` (Marketo refuses > 8 KB with 414). */
const MAX_GET_URL_BYTES = 7000;

/** Codes the transport retries itself (with backoff), besides network failures. */
const TRANSPORT_RETRY = new Set(["500", "502", "503", "504", "604", "608", "611", "614", "713", "719", "1014"]);
/** 611 is an unhandled exception on Marketo's side: one more try, not five. */
const MAX_611_TRIES = 2;
const REAUTH_CODES = new Set(["600", "601", "602", "401"]);

export type QueryValue = string | number | boolean | undefined | Array<string | number>;

export interface CallSpec {
  /** Name used in usage figures and errors, e.g. "syncLeads". */
  operation: string;
  method: "GET" | "POST";
  path: string;
  query?: Record<string, QueryValue>;
  json?: unknown;
  /** Built anew for each attempt (a FormData body is consumed by sending it). */
  multipart?: () => FormData;
  /** "text" for CSV downloads (failures/warnings files). */
  expect?: "json" | "text";
  /** Records carried, for usage figures. */
  records?: number;
  timeoutMs: number;
  /** HTTP statuses handed back to the caller instead of failing (404 = no failures file). */
  passStatuses?: number[];
  /**
   * A write Marketo does not deduplicate: a failure that may come after the write applied is
   * handed back at once instead of being retried blind (the caller asks Marketo first).
   */
  writeOnce?: boolean;
  /** Goes before every other waiting call (the day's usage read at start). */
  first?: boolean;
}

export interface Answer {
  httpStatus: number;
  envelope: MarketoEnvelope;
  /** Raw body when `expect` is "text". */
  text?: string;
  requestId?: string;
}

export interface TransportOptions {
  http: AxiosInstance;
  origin: string;
  tokens: TokenManager;
  limiter: CallLimiter;
  usage: UsageTracker;
  timers: Timers;
  logger: Logger;
  retry: RetryOptions;
  windowMs: number;
  maxRateLimitWaitMs: number;
  secrets: () => Array<string | undefined>;
  onAuthState: (failed: boolean) => void;
  /** Something that affects the client's state changed (a retry wait began or ended). */
  onChange: () => void;
}

type AttemptResult =
  | { kind: "answer"; answer: Answer; sentAt: number }
  | { kind: "error"; error: MarketoError; sentAt?: number; token?: string; answered: boolean }
  | { kind: "nothing" };

interface CallState {
  spec?: CallSpec;
  /** A replay's call: live calls go before it. */
  background?: boolean;
  prepare?: () => CallSpec | undefined;
  forcePost: boolean;
}

/** One logical Marketo call: token, limiter, pauses, retries. Throws MarketoError. */
export class Transport {
  private inFlightCount = 0;
  private backingOff = 0;
  private consecutive606 = 0;
  private last606PauseAt = 0;

  constructor(private readonly o: TransportOptions) {}

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Calls sleeping before a retry (state "backoff"). */
  get backoffCount(): number {
    return this.backingOff;
  }

  /** `background`: a replay's call, which waits behind every live one. */
  call(spec: CallSpec, background = false): Promise<Answer> {
    return this.run({ spec, forcePost: false, background }) as Promise<Answer>;
  }

  /**
   * Like call(), but the request is only built when the limiter actually runs it, so a
   * batch can keep taking records while it waits. `undefined` when there was nothing to send.
   */
  callPrepared(prepare: () => CallSpec | undefined, background = false): Promise<Answer | undefined> {
    return this.run({ prepare, forcePost: false, background });
  }

  private async run(st: CallState): Promise<Answer | undefined> {
    let attempts = 0;
    let tries611 = 0;
    let reauthed = false;
    let rateWaitStart: number | undefined;
    for (;;) {
      const queuedAt = Date.now();
      const r = await this.o.limiter.schedule(
        (grant) => this.attempt(st, queuedAt, grant),
        st.spec?.first === true,
        st.background === true,
      );
      if (r.kind === "nothing") return undefined;
      if (r.kind === "answer") {
        this.consecutive606 = 0;
        this.o.limiter.answered();
        this.o.onAuthState(false);
        this.o.onChange(); // a pause that just ended shows as "ok" at once
        return r.answer;
      }
      const e = r.error;
      const op = st.spec?.operation;
      if (r.answered) {
        this.o.limiter.refund();
        this.o.usage.uncount();
      }
      if (r.answered && e.code !== "607") this.o.limiter.answered();

      if (REAUTH_CODES.has(e.code) && r.sentAt !== undefined) {
        if (!reauthed) {
          reauthed = true;
          if (r.token) this.o.tokens.invalidate(r.token);
          this.o.logger.debug(`marketo: ${e.code} on ${op}; fetching a new token and retrying once`);
          continue;
        }
        this.o.onAuthState(true);
        throw new MarketoError({
          ...e.toJSON(),
          category: "auth",
          action: "permanent",
          retryable: false,
          message: `${e.message} (again after fetching a new token)`,
        });
      }
      if (e.category === "auth") {
        // A role without the right to read the day's usage says nothing about the nodes' calls.
        if (e.code === "401" || (e.code === "603" && !st.spec?.first)) this.o.onAuthState(true);
        throw e;
      }
      if (e.code === "606" || e.code === "615" || e.code === "429") {
        const now = Date.now();
        rateWaitStart ??= now;
        let pause: number;
        if (e.code === "615") {
          pause = concurrencyPause();
        } else if ((r.sentAt ?? 0) >= this.last606PauseAt) {
          // Only calls sent after the last pause began escalate it; the others were already on the wire.
          this.consecutive606++;
          this.last606PauseAt = now;
          pause = rateLimitPause(this.consecutive606, this.o.windowMs);
        } else {
          pause = Math.max(0, this.o.limiter.pauseEndsAt - now);
        }
        const waitedSoFar = now - rateWaitStart;
        if (waitedSoFar + pause > this.o.maxRateLimitWaitMs) {
          throw new MarketoError({
            ...e.toJSON(),
            message: `${e.message}; gave up after waiting ${Math.round(waitedSoFar / 1000)} s for Marketo's rate limit (other integrations share it)`,
            retryable: true,
          });
        }
        this.o.logger.warn(`marketo: ${e.code} (${e.message}); pausing all calls for ${pause} ms`);
        this.o.limiter.pause(pause, e.message);
        continue;
      }
      if (e.code === "607") {
        this.o.limiter.quotaReached(e.message);
        continue;
      }
      // Only a GET can move its query into a form body; re-sending a POST unchanged would just
      // spend another call on the same 414.
      if (e.code === "414" && !st.forcePost && st.spec?.method === "GET") {
        st.forcePost = true;
        continue;
      }
      if (st.spec?.writeOnce && r.sentAt !== undefined && mayHaveArrived(e)) throw e;
      // Any HTTP 5xx (520-524 from a CDN, 501, 505...) is classified "retry" and retried like
      // the listed ones: an unlisted status is no reason to fail a record at once.
      const transportRetry =
        e.category === "network" ||
        TRANSPORT_RETRY.has(e.code) ||
        (e.httpStatus !== undefined && e.httpStatus >= 500 && /^5\d\d$/.test(e.code));
      if (!transportRetry) throw e;
      attempts++;
      if (e.code === "611") tries611++;
      if (attempts >= this.o.retry.maxAttempts || tries611 >= MAX_611_TRIES) {
        throw new MarketoError({ ...e.toJSON(), message: `${e.message} (after ${attempts} attempts)` });
      }
      const delay = backoffDelay(attempts, this.o.retry.baseDelayMs, this.o.retry.maxDelayMs);
      this.o.logger.debug(`marketo: ${e.code} on ${op}; retry ${attempts} in ${delay} ms`);
      this.backingOff++;
      this.o.onChange();
      try {
        await this.o.timers.sleep(delay);
      } finally {
        this.backingOff--;
        this.o.onChange();
      }
    }
  }

  /** Runs inside the limiter: never throws. */
  /**
   * Runs with a grant of the limiter: never throws. A grant not used for a request (no token,
   * nothing left to send) goes back whole; one answered stays in the window until one window
   * after the answer, so calls a stalled network releases together cannot exceed it.
   */
  private async attempt(st: CallState, queuedAt: number, grant: Grant): Promise<AttemptResult> {
    this.o.usage.waited(Date.now() - queuedAt);
    let token: string;
    try {
      token = await this.o.tokens.get();
    } catch (err) {
      return { kind: "error", error: toMarketoError(err, this.o.secrets()), answered: false };
    }
    if (!st.spec) {
      st.spec = st.prepare?.();
      if (!st.spec) return { kind: "nothing" };
    }
    const spec = st.spec;
    const sentAt = Date.now();
    this.o.usage.call(spec.operation, spec.records ?? 0);
    this.inFlightCount++;
    grant.sent = true;
    let res: AxiosResponse<string>;
    try {
      res = await this.o.http.request<string>(this.buildRequest(spec, token, st.forcePost));
      grant.answered = true;
    } catch (err) {
      const error = networkError(err, [...this.o.secrets(), token], spec.operation);
      this.o.usage.answer(error.code);
      return { kind: "error", error, sentAt, token, answered: false };
    } finally {
      this.inFlightCount--;
    }
    const out = this.interpret(spec, res, token);
    this.o.usage.answer(out.kind === "answer" ? "ok" : out.error.code);
    return out.kind === "answer"
      ? { kind: "answer", answer: out.answer, sentAt }
      : { kind: "error", error: out.error, sentAt, token, answered: true };
  }

  private buildRequest(spec: CallSpec, token: string, forcePost: boolean) {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      Accept: spec.expect === "text" ? "text/csv, application/json" : "application/json",
      "Accept-Encoding": "gzip",
    };
    const query = encodeQuery(spec.query);
    let url = apiUrl(this.o.origin, spec.path) + (query ? `?${query}` : "");
    let method: string = spec.method;
    let data: unknown;
    if (spec.method === "GET" && (forcePost || Buffer.byteLength(url) > MAX_GET_URL_BYTES)) {
      // Marketo's documented fix for long GETs: POST with the query in a form body.
      method = "POST";
      url = apiUrl(this.o.origin, spec.path) + "?_method=GET";
      data = (query ? query + "&" : "") + "_method=GET";
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (spec.multipart) {
      data = spec.multipart(); // axios sets the multipart boundary itself
    } else if (spec.json !== undefined) {
      data = JSON.stringify(spec.json, dropUnsafeKeys);
      headers["Content-Type"] = "application/json";
    }
    return {
      method,
      url,
      data,
      headers,
      timeout: spec.timeoutMs,
      responseType: "text" as const,
      transformResponse: [(d: unknown) => d],
      validateStatus: () => true,
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      maxRedirects: 0,
    };
  }

  private interpret(
    spec: CallSpec,
    res: AxiosResponse<string>,
    token: string,
  ): { kind: "answer"; answer: Answer } | { kind: "error"; error: MarketoError } {
    // The access token is a secret too: a gateway or Marketo echoing it in a message must not
    // put it into errors, logs or state events (only the client secret was scrubbed).
    const secrets = [...this.o.secrets(), token];
    const body = typeof res.data === "string" ? res.data : "";
    const parsed = parseJson(body);
    const envelope = (parsed ?? {}) as MarketoEnvelope;
    const requestId = typeof envelope.requestId === "string" ? envelope.requestId : undefined;
    const ctx = { requestId, httpStatus: res.status, operation: spec.operation };
    if (spec.passStatuses?.includes(res.status)) {
      return { kind: "answer", answer: { httpStatus: res.status, envelope, text: body, requestId } };
    }
    if (res.status < 200 || res.status >= 300) {
      // The HTTP status decides (413 split, 414 resend, 5xx retry); a JSON body only explains it.
      const reason = pickError(envelope.errors);
      const code = String(res.status);
      const msg = reason ? scrub(reason.message, secrets) : describeHttp(res.status);
      return { kind: "error", error: marketoError(code, `Marketo ${code}: ${msg}`, ctx) };
    }
    const contentType = String(res.headers["content-type"] ?? "");
    if (spec.expect === "text" && !parsed && !/json/i.test(contentType)) {
      return { kind: "answer", answer: { httpStatus: res.status, envelope: {}, text: body, requestId } };
    }
    if (!parsed) {
      return {
        kind: "error",
        error: new MarketoError({
          code: "INVALID_RESPONSE",
          message: `Marketo answered HTTP ${res.status} with a body that is not JSON`,
          category: "marketo",
          action: "retry",
          retryable: true,
          ...ctx,
        }),
      };
    }
    if (envelope.success === false || (envelope.errors?.length && envelope.success !== true)) {
      const reason = pickError(envelope.errors);
      const code = reason?.code ?? "UNKNOWN";
      const msg = scrub(reason?.message ?? "request failed without an error code", secrets);
      return { kind: "error", error: marketoError(code, `Marketo ${code}: ${msg}`, ctx) };
    }
    if (spec.expect === "text") {
      return { kind: "answer", answer: { httpStatus: res.status, envelope, text: body, requestId } };
    }
    return { kind: "answer", answer: { httpStatus: res.status, envelope, requestId } };
  }
}

/** Marketo usually sends one error; when it sends several, the one that changes what we do wins. */
function pickError(errors: MarketoReason[] | undefined): MarketoReason | undefined {
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const norm = errors
    .filter((e) => e && (typeof e.code === "string" || typeof e.code === "number"))
    .map((e) => ({ code: String(e.code), message: String(e.message ?? "") }));
  const urgent = norm.find((e) => {
    const k = classify(e.code, e.message);
    return k.category === "auth" || k.category === "rate-limit" || k.category === "quota";
  });
  return urgent ?? norm[0];
}

function describeHttp(status: number): string {
  switch (status) {
    case 413:
      return "request body too large (Marketo accepts 1 MB, 10 MB for bulk files)";
    case 414:
      return "request URL too long (over 8 KB)";
    case 401:
      return "unauthorized";
    default:
      return status >= 500 ? `server/gateway error HTTP ${status}` : `HTTP ${status}`;
  }
}

function encodeQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    p.append(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  return p.toString();
}

export function toMarketoError(err: unknown, secrets: Array<string | undefined>): MarketoError {
  return err instanceof MarketoError ? err : networkError(err, secrets);
}
