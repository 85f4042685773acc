import { TokenStore, type ClientSpec } from "./auth";
import { createDomainModules } from "./domains";
import { RequestIds } from "./envelope";
import { mergeFaults, type FaultsConfig } from "./faults";
import { createLeadsModule } from "./leads";
import { Limiter } from "./limits";
import { mergeLimits, type ResolvedOptions } from "./options";
import { Router } from "./router";
import { Stats, type StatsJson } from "./stats";
import { UsageLog } from "./usageLog";
import type { DomainContext, DomainModule, EmulatorLimits, Lead, LeadsApi, Permission } from "./types";

/** `/_emulator/state`: the leads table plus every domain module's snapshot under its name. */
export interface StateJson {
  leads: Lead[];
  [module: string]: unknown;
}

/**
 * Everything one emulator instance knows, shared by the HTTP transport (server.ts), the
 * inspection API (inspect.ts) and the in-process handle (index.ts), so the three cannot drift.
 */
export class EmulatorRuntime {
  readonly limits: EmulatorLimits;
  readonly faults: FaultsConfig;
  readonly tokens: TokenStore;
  readonly limiter: Limiter;
  readonly stats = new Stats();
  readonly usage = new UsageLog(() => this.now());
  readonly requestIds = new RequestIds();
  readonly leads: DomainModule & LeadsApi;
  readonly modules: DomainModule[];
  readonly router: Router;
  readonly log: (line: string) => void;
  random: () => number = Math.random;

  /** Set by shutdown(): calls still under way unwind without running their handlers. */
  stopped = false;
  private paused = false;
  private held: Array<() => void> = [];
  /** Pending sleeps and their resolvers, so shutdown() can end them (see there). */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly sequences = new Map<string, number>();
  private warnedQueryToken = false;

  constructor(readonly options: ResolvedOptions) {
    this.limits = options.limits;
    this.faults = options.faults;
    this.log = options.log;
    this.tokens = new TokenStore(options.tokenTtlSeconds, () => this.now());
    this.tokens.addClient({ clientId: options.clientId, clientSecret: options.clientSecret });
    for (const c of options.clients) this.tokens.addClient(c);
    this.limiter = new Limiter(this.limits, () => this.now());

    // The leads module is built first because the others reach leads through the context.
    let leads: (DomainModule & LeadsApi) | undefined;
    const ctx: DomainContext = {
      get leads(): LeadsApi {
        if (!leads) throw new Error("leads module used before it was built");
        return leads;
      },
      now: () => this.now(),
      nextId: (table) => this.nextId(table),
      seed: options.seed,
      limits: this.limits,
      importDelayMs: options.importDelayMs,
      munchkinId: options.munchkinId,
      log: options.log,
      usage: () => this.usage.list(),
      usageDate: () => this.usage.date(),
      answers: options.answers,
    };
    leads = createLeadsModule(ctx);
    this.leads = leads;
    this.modules = [leads, ...createDomainModules(ctx)];
    this.router = new Router(this.modules.flatMap((m) => m.routes));
  }

  /** The emulator's clock (options.now; Date.now by default): limits, tokens, usage, data. */
  now(): number {
    return this.options.now();
  }

  nextId(table: string): number {
    const next = (this.sequences.get(table) ?? 1000) + 1;
    this.sequences.set(table, next);
    return next;
  }

  /** Logs the query-token deprecation once per instance, as a gateway would warn once. */
  warnQueryToken(): void {
    if (this.warnedQueryToken) return;
    this.warnedQueryToken = true;
    this.log(
      "warning: access_token sent as a query/form parameter; Marketo is removing this, send 'Authorization: Bearer'",
    );
  }

  /** A delay that stop() can cancel; its timer never keeps the process alive. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      t.unref();
      this.timers.set(t, resolve);
    });
  }

  /** Holds an API call while paused. */
  waitIfPaused(): Promise<void> {
    if (!this.paused || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  }

  // ---- inspection operations: the HTTP API and the handle both call these ----

  statsJson(): StatsJson {
    return this.stats.json(this.limiter.snapshot(), this.paused, this.held.length);
  }

  resetStats(): StatsJson {
    this.stats.reset();
    this.limiter.resetMaxima();
    return this.statsJson();
  }

  stateJson(): StateJson {
    const state: StateJson = { leads: this.leads.all() };
    for (const m of this.modules) if (m !== this.leads) state[m.name] = m.snapshot();
    return state;
  }

  /** Clears data, stats, usage and tokens, then reseeds; configuration stays. */
  resetAll(): { reset: true } {
    this.sequences.clear();
    for (const m of this.modules) m.reset();
    this.stats.reset();
    this.usage.reset();
    this.limiter.reset();
    this.tokens.clearTokens();
    this.requestIds.reset();
    return { reset: true };
  }

  getFaults(): FaultsConfig {
    return { ...this.faults, codes: [...this.faults.codes] };
  }

  setFaults(patch: unknown): FaultsConfig {
    mergeFaults(this.faults, patch);
    return this.getFaults();
  }

  getLimits(): EmulatorLimits {
    return { ...this.limits };
  }

  setLimits(patch: unknown): EmulatorLimits {
    mergeLimits(this.limits, patch);
    return this.getLimits();
  }

  rolloverDay(): { dailyUsed: number; quotaResetsAt: string } {
    this.limiter.rolloverDay();
    this.usage.rollover();
    const s = this.limiter.snapshot();
    return { dailyUsed: s.dailyUsed, quotaResetsAt: s.quotaResetsAt };
  }

  expireTokens(): { expired: number } {
    return { expired: this.tokens.expireAll() };
  }

  pause(): { paused: boolean; held: number } {
    this.paused = true;
    return { paused: true, held: this.held.length };
  }

  resume(): { paused: boolean; released: number } {
    this.paused = false;
    const held = this.held;
    this.held = [];
    for (const release of held) release();
    return { paused: false, released: held.length };
  }

  addClient(spec: ClientSpec): { clientId: string; permissions: Permission[] } {
    const c = this.tokens.addClient(spec);
    return { clientId: c.clientId, permissions: [...c.permissions] };
  }

  /**
   * Ends pending delays and releases held calls at once, so that no call sleeping through its
   * latency stays admitted forever (stats() after stop() reports none in flight). Released
   * calls see `stopped` and unwind through the limiter's finish() without running their
   * handler (their sockets are closed by then).
   */
  shutdown(): void {
    this.stopped = true;
    const pending = [...this.timers];
    this.timers.clear();
    const held = this.held;
    this.held = [];
    this.paused = false;
    for (const [t, resolve] of pending) {
      clearTimeout(t);
      resolve();
    }
    for (const release of held) release();
  }
}
