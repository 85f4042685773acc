import type { AddressInfo } from "node:net";
import type { ClientSpec } from "./auth";
import type { FaultsConfig } from "./faults";
import { resolveOptions, type EmulatorOptions } from "./options";
import { EmulatorRuntime, type StateJson } from "./runtime";
import { createHttpServer } from "./server";
import type { StatsJson } from "./stats";
import type { EmulatorLimits, Permission } from "./types";

export * from "./types";
export type { ClientSpec } from "./auth";
export type { FaultsConfig } from "./faults";
export type { EmulatorOptions } from "./options";
export type { StateJson } from "./runtime";
export type { StatsJson } from "./stats";
export { DEFAULT_LIMITS, Limiter } from "./limits";
export { DEFAULT_FAULTS } from "./faults";
export { createLeadsModule } from "./leads";

/** A running emulator. Each method does what the matching `/_emulator/` route does. */
export interface EmulatorHandle {
  /** Origin, e.g. `http://127.0.0.1:54321` (REST base is `${url}/rest`). */
  url: string;
  port: number;
  clientId: string;
  clientSecret: string;
  munchkinId: string;
  /** POST /_emulator/clients */
  addClient(spec: ClientSpec): { clientId: string; permissions: Permission[] };
  /** GET /_emulator/stats */
  stats(): StatsJson;
  /** POST /_emulator/stats/reset */
  resetStats(): StatsJson;
  /** GET /_emulator/state */
  state(): StateJson;
  /** GET /_emulator/faults */
  faults(): FaultsConfig;
  /** PUT /_emulator/faults (merges; throws TypeError on a bad member) */
  setFaults(patch: Partial<FaultsConfig>): FaultsConfig;
  /** GET /_emulator/limits */
  limits(): EmulatorLimits;
  /** PUT /_emulator/limits (merges; throws TypeError on a bad member) */
  setLimits(patch: Partial<EmulatorLimits>): EmulatorLimits;
  /** POST /_emulator/day/rollover */
  rolloverDay(): { dailyUsed: number; quotaResetsAt: string };
  /** POST /_emulator/tokens/expire */
  expireTokens(): { expired: number };
  /** Every access token issued since start or the last reset (no route: tests only). */
  issuedTokens(): string[];
  /** POST /_emulator/pause: API calls are held until resume(). */
  pause(): { paused: boolean; held: number };
  /** POST /_emulator/resume */
  resume(): { paused: boolean; released: number };
  /** POST /_emulator/reset: clears data, stats, usage and tokens, then reseeds. */
  reset(): { reset: true };
  /** Closes every connection and timer; resolves when the port is free. */
  stop(): Promise<void>;
}

export async function startEmulator(options?: EmulatorOptions): Promise<EmulatorHandle> {
  const resolved = resolveOptions(options);
  const rt = new EmulatorRuntime(resolved);
  const server = createHttpServer(rt);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = resolved.host.includes(":") ? `[${resolved.host}]` : resolved.host;
  let stopping: Promise<void> | undefined;

  return {
    url: `http://${host}:${port}`,
    port,
    clientId: resolved.clientId,
    clientSecret: resolved.clientSecret,
    munchkinId: resolved.munchkinId,
    addClient: (spec) => rt.addClient(spec),
    stats: () => rt.statsJson(),
    resetStats: () => rt.resetStats(),
    state: () => rt.stateJson(),
    faults: () => rt.getFaults(),
    setFaults: (patch) => rt.setFaults(patch),
    limits: () => rt.getLimits(),
    setLimits: (patch) => rt.setLimits(patch),
    rolloverDay: () => rt.rolloverDay(),
    expireTokens: () => rt.expireTokens(),
    issuedTokens: () => rt.tokens.issuedTokens(),
    pause: () => rt.pause(),
    resume: () => rt.resume(),
    reset: () => rt.resetAll(),
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        rt.shutdown();
        server.close(() => resolve());
        // Keep-alive and held (paused) connections would otherwise keep close() waiting.
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
