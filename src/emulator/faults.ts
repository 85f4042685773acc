import { messageFor } from "./envelope";

/** Fault injection settings (live: the inspection API merges changes into this object). */
export interface FaultsConfig {
  /** Probability (0..1) that an admitted API call fails with one of `codes`. */
  rate: number;
  /** Codes to draw from: "502"/"500" are HTTP errors, others are Marketo envelope errors. */
  codes: string[];
  /** Probability (0..1) that the connection is reset without an answer. */
  resetRate: number;
  /** For write routes, run the handler before failing ("604 but the write applied"). */
  applyBeforeFailure: boolean;
  /** Added to every API call while it is in flight, so the concurrency limit matters. */
  latencyMs: number;
  /** Uniform random extra latency, 0..latencyJitterMs. */
  latencyJitterMs: number;
}

export const DEFAULT_FAULTS: Readonly<FaultsConfig> = {
  rate: 0,
  codes: ["502", "604", "608", "611", "713", "500"],
  resetRate: 0,
  applyBeforeFailure: false,
  latencyMs: 0,
  latencyJitterMs: 0,
};

export type Fault =
  | { kind: "reset" }
  | { kind: "http"; code: string; status: number; contentType: string; body: string }
  | { kind: "envelope"; code: string; message: string };

const BAD_GATEWAY =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";

/** Draws the fault (if any) for one call. */
export function drawFault(cfg: Readonly<FaultsConfig>, random: () => number = Math.random): Fault | undefined {
  if (cfg.resetRate > 0 && random() < cfg.resetRate) return { kind: "reset" };
  if (cfg.rate <= 0 || cfg.codes.length === 0 || random() >= cfg.rate) return undefined;
  const code = cfg.codes[Math.min(cfg.codes.length - 1, Math.floor(random() * cfg.codes.length))];
  return faultFor(code);
}

export function faultFor(code: string): Fault {
  if (code === "502") {
    return { kind: "http", code, status: 502, contentType: "text/html", body: BAD_GATEWAY };
  }
  if (code === "500") {
    return { kind: "http", code, status: 500, contentType: "text/plain;charset=UTF-8", body: "Internal Server Error" };
  }
  return { kind: "envelope", code, message: messageFor(code) };
}

/** Validates and merges a partial update; throws a TypeError naming the bad member. */
export function mergeFaults(target: FaultsConfig, patch: unknown): FaultsConfig {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    throw new TypeError("faults must be a JSON object");
  }
  const next: FaultsConfig = { ...target, codes: [...target.codes] };
  for (const [key, value] of Object.entries(patch)) {
    switch (key) {
      case "rate":
      case "resetRate":
        if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
          throw new TypeError(`${key} must be a number between 0 and 1`);
        }
        next[key] = value;
        break;
      case "latencyMs":
      case "latencyJitterMs":
        if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
          throw new TypeError(`${key} must be a non-negative number`);
        }
        next[key] = value;
        break;
      case "applyBeforeFailure":
        if (typeof value !== "boolean") throw new TypeError("applyBeforeFailure must be a boolean");
        next.applyBeforeFailure = value;
        break;
      case "codes":
        if (!Array.isArray(value) || !value.every((c) => /^\d{3,4}$/.test(String(c)))) {
          throw new TypeError('codes must be an array of Marketo error codes such as "604"');
        }
        next.codes = value.map(String);
        break;
      default:
        throw new TypeError(`Unknown fault setting '${key}'`);
    }
  }
  Object.assign(target, next);
  return target;
}
