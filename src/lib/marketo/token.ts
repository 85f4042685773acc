import type { AxiosInstance } from "axios";
import { apiUrl } from "./endpoint";
import { MarketoError, networkError, scrub, classify } from "./errors";
import { backoffDelay, type Timers } from "./timers";
import type { Logger } from "./types";

/** Marketo hands back the same token until it expires, so re-asking inside the last minute is pointless. */
const REFRESH_MARGIN_MS = 60_000;
/** Identity calls are not rate limited by Marketo, but a broken identity service must not be hammered. */
const MAX_IDENTITY_ATTEMPTS = 4;
const IDENTITY_TIMEOUT_MS = 30_000;

interface CachedToken {
  token: string;
  expiresAt: number;
  refreshAt: number;
}

export interface TokenManagerOptions {
  http: AxiosInstance;
  origin: string;
  clientId: string;
  clientSecret: string;
  timers: Timers;
  logger: Logger;
  /** Counts identity failures by code for usage() (successes are not API calls). */
  onAnswer?: (code: string) => void;
}

/**
 * OAuth client-credentials token for one custom service (client id): cached, renewed a
 * minute before expiry, and fetched by at most one identity call at a time.
 */
export class TokenManager {
  private cached?: CachedToken;
  private inFlight?: Promise<string>;

  constructor(private readonly o: TokenManagerOptions) {}

  /** A token valid for at least a moment; shares one identity call among all waiters. */
  get(): Promise<string> {
    const c = this.cached;
    if (c && Date.now() < c.refreshAt) return Promise.resolve(c.token);
    if (!this.inFlight) {
      this.inFlight = this.fetchUsable().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  /** After a 601/602: forget `token` (unless a newer one replaced it already) so the next get() asks identity. */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  private async fetchUsable(): Promise<string> {
    // expires_in <= 1 means "this token is about to die, a new one comes in a second":
    // never cache it, wait it out and ask again (bounded).
    for (let round = 1; ; round++) {
      const { token, expiresIn } = await this.fetchOnce();
      if (expiresIn > 1) {
        const now = Date.now();
        const expiresAt = now + expiresIn * 1000;
        // A token handed out with under a minute left is still used until just before it
        // dies: asking again would only return the same token.
        const refreshAt = expiresIn * 1000 > REFRESH_MARGIN_MS * 2 ? expiresAt - REFRESH_MARGIN_MS : expiresAt - 1000;
        this.cached = { token, expiresAt, refreshAt };
        return token;
      }
      if (round >= MAX_IDENTITY_ATTEMPTS) {
        throw new MarketoError({
          code: "TOKEN_EXPIRING",
          message: `Marketo identity kept returning a token about to expire (expires_in ${expiresIn})`,
          category: "auth",
          action: "reauth",
          retryable: true,
          operation: "identity",
        });
      }
      this.o.logger.debug(`marketo: token expires in ${expiresIn}s, asking again in ${expiresIn + 1}s`);
      await this.o.timers.sleep((Math.max(0, expiresIn) + 1) * 1000);
    }
  }

  /** One identity exchange, retried on network/5xx answers a few times. */
  private async fetchOnce(): Promise<{ token: string; expiresIn: number }> {
    let last: MarketoError | undefined;
    for (let attempt = 1; attempt <= MAX_IDENTITY_ATTEMPTS; attempt++) {
      try {
        return await this.exchange();
      } catch (err) {
        const e = err instanceof MarketoError ? err : networkError(err, this.secrets(), "identity");
        if (!e.retryable || e.category === "auth") throw e;
        last = e;
        if (attempt < MAX_IDENTITY_ATTEMPTS) await this.o.timers.sleep(backoffDelay(attempt, 500, 5000));
      }
    }
    throw last ?? new Error("unreachable");
  }

  private secrets(): string[] {
    return [this.o.clientSecret, this.cached?.token ?? ""];
  }

  private async exchange(): Promise<{ token: string; expiresIn: number }> {
    // Form body, not query string: keeps the secret out of URLs, proxies and access logs.
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: this.o.clientId,
      client_secret: this.o.clientSecret,
    }).toString();
    let res;
    try {
      res = await this.o.http.request<string>({
        method: "POST",
        url: apiUrl(this.o.origin, "/identity/oauth/token"),
        data: body,
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        timeout: IDENTITY_TIMEOUT_MS,
        responseType: "text",
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
      });
    } catch (err) {
      throw networkError(err, this.secrets(), "identity");
    }
    const parsed = parseJson(res.data);
    const errText = typeof parsed?.error === "string" ? parsed.error : undefined;
    const description = typeof parsed?.error_description === "string" ? parsed.error_description : undefined;
    if (res.status === 401 || res.status === 400 || errText) {
      this.o.onAnswer?.(String(res.status === 200 ? 401 : res.status));
      const why = scrub(description ?? errText ?? `HTTP ${res.status}`, this.secrets());
      throw new MarketoError({
        code: "401",
        message: `Marketo rejected the client credentials: ${why}`,
        category: "auth",
        action: "permanent",
        retryable: false,
        httpStatus: res.status,
        operation: "identity",
      });
    }
    if (res.status !== 200) {
      this.o.onAnswer?.(String(res.status));
      throw new MarketoError({
        code: String(res.status),
        message: `Marketo identity answered HTTP ${res.status}`,
        ...classify(String(res.status), "", res.status),
        httpStatus: res.status,
        operation: "identity",
      });
    }
    const token = parsed?.access_token;
    const expiresIn = Number(parsed?.expires_in);
    if (typeof token !== "string" || token === "" || !Number.isFinite(expiresIn)) {
      this.o.onAnswer?.("INVALID_RESPONSE");
      throw new MarketoError({
        code: "INVALID_RESPONSE",
        message: "Marketo identity answered without an access_token",
        category: "marketo",
        action: "retry",
        retryable: true,
        httpStatus: res.status,
        operation: "identity",
      });
    }
    return { token, expiresIn };
  }
}

export function parseJson(text: unknown): Record<string, unknown> | undefined {
  if (typeof text !== "string")
    return typeof text === "object" && text !== null ? (text as Record<string, unknown>) : undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
