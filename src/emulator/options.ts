import type { ClientSpec } from "./auth";
import { DEFAULT_FAULTS, mergeFaults, type FaultsConfig } from "./faults";
import { DEFAULT_LIMITS } from "./limits";
import { DEFAULT_ANSWERS, type AnswerOptions, type EmulatorLimits, type SeedOptions } from "./types";

export interface EmulatorOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1 (the emulator is for local use only). */
  host?: string;
  /** The default API user's credentials. */
  clientId?: string;
  clientSecret?: string;
  /** Extra API users (permissions default to all). */
  clients?: ClientSpec[];
  munchkinId?: string;
  limits?: Partial<EmulatorLimits>;
  /** Lifetime of a fresh access token; Marketo's is 3600. */
  tokenTtlSeconds?: number;
  /** Latency added to every API call while it is in flight. */
  latencyMs?: number;
  latencyJitterMs?: number;
  faults?: Partial<FaultsConfig>;
  /** Accept the legacy `access_token` query/form parameter (logs one warning). */
  allowQueryToken?: boolean;
  seed?: Partial<SeedOptions>;
  /** Time a bulk import job spends in each state, for the bulk module. */
  importDelayMs?: number;
  /** Log sink, one line per call; silent by default. */
  log?: (line: string) => void;
  /**
   * The emulator's clock in epoch ms (default Date.now): the rate window, the daily quota and
   * its 00:00 America/Chicago reset, token lifetimes, request ids, record dates and bulk job
   * states all read it, so tests can step over midnight or a token's expiry without waiting.
   * Latency and timeouts stay in real time.
   */
  now?: () => number;
  /** Where Marketo's documentation and recorded answers disagree, which answer to give. */
  answers?: Partial<AnswerOptions>;
}

export interface ResolvedOptions {
  port: number;
  host: string;
  clientId: string;
  clientSecret: string;
  clients: ClientSpec[];
  munchkinId: string;
  limits: EmulatorLimits;
  tokenTtlSeconds: number;
  faults: FaultsConfig;
  allowQueryToken: boolean;
  seed: SeedOptions;
  importDelayMs: number;
  log: (line: string) => void;
  now: () => number;
  answers: AnswerOptions;
}

export function resolveOptions(o: EmulatorOptions = {}): ResolvedOptions {
  const limits = mergeLimits({ ...DEFAULT_LIMITS }, defined(o.limits ?? {}));
  const faults = mergeFaults(
    { ...DEFAULT_FAULTS, codes: [...DEFAULT_FAULTS.codes] },
    defined({
      ...o.faults,
      latencyMs: o.latencyMs ?? o.faults?.latencyMs,
      latencyJitterMs: o.latencyJitterMs ?? o.faults?.latencyJitterMs,
    }),
  );
  const ttl = o.tokenTtlSeconds ?? 3600;
  if (!(ttl > 0)) throw new RangeError("tokenTtlSeconds must be positive");
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError("port must be 0..65535");
  return {
    port,
    host: o.host ?? "127.0.0.1",
    clientId: o.clientId ?? "emulator-client",
    clientSecret: o.clientSecret ?? "emulator-secret",
    clients: o.clients ?? [],
    munchkinId: o.munchkinId ?? "123-ABC-456",
    limits,
    tokenTtlSeconds: ttl,
    faults,
    allowQueryToken: o.allowQueryToken ?? true,
    seed: { enabled: true, ...o.seed },
    importDelayMs: o.importDelayMs ?? 300,
    log: o.log ?? (() => undefined),
    now: o.now ?? Date.now,
    answers: resolveAnswers(o.answers ?? {}),
  };
}

/** Validates and merges a partial limits update in place; throws TypeError on a bad member. */
export function mergeLimits(target: EmulatorLimits, patch: unknown): EmulatorLimits {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    throw new TypeError("limits must be a JSON object");
  }
  const next = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (!(key in DEFAULT_LIMITS)) throw new TypeError(`Unknown limit '${key}'`);
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw new TypeError(`${key} must be a non-negative integer`);
    }
    if (key === "windowMs" && value === 0) throw new TypeError("windowMs must be positive");
    next[key as keyof EmulatorLimits] = value;
  }
  Object.assign(target, next);
  return target;
}

function resolveAnswers(patch: Partial<AnswerOptions>): AnswerOptions {
  const answers: AnswerOptions = { ...DEFAULT_ANSWERS, ...defined(patch) };
  if (answers.unsetLeadFields !== "null" && answers.unsetLeadFields !== "omit") {
    throw new RangeError('answers.unsetLeadFields must be "null" or "omit"');
  }
  if (answers.missingLinkedLead !== "1004" && answers.missingLinkedLead !== "1003") {
    throw new RangeError('answers.missingLinkedLead must be "1004" or "1003"');
  }
  return answers;
}

/** Drops undefined members so `{ port: undefined }` means "default", not "invalid". */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
