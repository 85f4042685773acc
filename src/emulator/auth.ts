import { randomUUID } from "node:crypto";
import { ALL_PERMISSIONS, type Permission } from "./types";

export interface ClientSpec {
  clientId: string;
  clientSecret: string;
  /** Role permissions of the API user; default: all of them. */
  permissions?: Permission[];
}

export interface ApiClient {
  clientId: string;
  clientSecret: string;
  permissions: Permission[];
}

interface IssuedToken {
  value: string;
  clientId: string;
  expiresAt: number;
}

/** An identity answer: OAuth-style JSON, never the Marketo envelope. */
export interface IdentityAnswer {
  status: number;
  body: Record<string, unknown>;
}

export type Verification =
  { ok: true; client: ApiClient } | { ok: false; code: "600" | "601" | "602"; message: string };

/**
 * Marketo's token model: one token per client id, handed out again with its
 * remaining lifetime until it expires, then replaced. Tokens belong to the client id, so two
 * API users get independent tokens.
 */
export class TokenStore {
  private readonly clients = new Map<string, ApiClient>();
  /** Current token per client id. */
  private readonly current = new Map<string, IssuedToken>();
  /** Every token ever issued, so an old one answers 602 rather than 601. */
  private readonly issued = new Map<string, IssuedToken>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  addClient(spec: ClientSpec): ApiClient {
    if (!spec.clientId || !spec.clientSecret) throw new TypeError("clientId and clientSecret are required");
    const permissions = spec.permissions ?? [...ALL_PERMISSIONS];
    for (const p of permissions) {
      if (!ALL_PERMISSIONS.includes(p)) throw new TypeError(`Unknown permission '${String(p)}'`);
    }
    const client: ApiClient = {
      clientId: spec.clientId,
      clientSecret: spec.clientSecret,
      permissions: [...permissions],
    };
    this.clients.set(spec.clientId, client);
    return client;
  }

  client(clientId: string): ApiClient | undefined {
    return this.clients.get(clientId);
  }

  /** `/identity/oauth/token` with its parameters (query and form body merged). */
  identity(params: URLSearchParams): IdentityAnswer {
    const grantType = params.get("grant_type");
    const clientId = params.get("client_id");
    const secret = params.get("client_secret");
    if (!clientId) {
      return unauthorized("unauthorized", "Full authentication is required to access this resource");
    }
    const client = this.clients.get(clientId);
    if (!client) return unauthorized("unauthorized", `No client with requested id: ${clientId}`);
    if (secret !== client.clientSecret) return unauthorized("invalid_client", "Bad client credentials");
    // Client authentication passed, so these are request errors: OAuth 2.0
    // answers them with 400 and keeps 401 for bad client credentials (the Spring OAuth server
    // whose messages Marketo's identity returns does the same).
    if (!grantType) return badRequest("invalid_request", "Missing grant type");
    if (grantType !== "client_credentials") {
      return badRequest("unsupported_grant_type", `Unsupported grant type: ${grantType}`);
    }
    const now = this.now();
    let token = this.current.get(clientId);
    if (!token || now >= token.expiresAt) {
      token = { value: `${randomUUID()}:ab`, clientId, expiresAt: now + this.ttlSeconds * 1000 };
      this.current.set(clientId, token);
      this.issued.set(token.value, token);
    }
    return {
      status: 200,
      body: {
        access_token: token.value,
        token_type: "bearer",
        // Whole seconds left, not counting the current one: 3599 for a fresh token (as
        // Marketo answers) and 0 during the token's last second.
        expires_in: Math.max(0, Math.floor((token.expiresAt - now - 1) / 1000)),
        scope: `${clientId}@api.emulator.invalid`,
      },
    };
  }

  verify(token: string | undefined): Verification {
    if (!token) return { ok: false, code: "600", message: "Access token not specified" };
    const issued = this.issued.get(token);
    if (!issued) return { ok: false, code: "601", message: "Access token invalid" };
    if (this.now() >= issued.expiresAt) return { ok: false, code: "602", message: "Access token expired" };
    const client = this.clients.get(issued.clientId);
    if (!client) return { ok: false, code: "601", message: "Access token invalid" };
    return { ok: true, client };
  }

  /** Makes every live token expired; returns how many were live. */
  expireAll(): number {
    const now = this.now();
    let n = 0;
    for (const t of this.current.values()) {
      if (t.expiresAt > now) {
        t.expiresAt = now;
        n += 1;
      }
    }
    return n;
  }

  /** Every token handed out since the last reset, expired or not (tests prove none leaked). */
  issuedTokens(): string[] {
    return [...this.issued.keys()];
  }

  /** Forgets every token (clients stay: they are configuration, not data). */
  clearTokens(): void {
    this.current.clear();
    this.issued.clear();
  }
}

function unauthorized(error: string, description: string): IdentityAnswer {
  return { status: 401, body: { error, error_description: description } };
}

function badRequest(error: string, description: string): IdentityAnswer {
  return { status: 400, body: { error, error_description: description } };
}
