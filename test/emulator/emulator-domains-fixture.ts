/**
 * Drives the built domain modules directly: a DomainContext with a hand-moved clock, the real
 * leads module, the module routes matched by the real router, and ApiError turned into the
 * envelope the transport would send (so tests read codes the way a client does).
 */
import { createDomainModules } from "../../nodes/emulator/domains";
import { createLeadsModule } from "../../nodes/emulator/leads";
import { DEFAULT_LIMITS } from "../../nodes/emulator/limits";
import { Router } from "../../nodes/emulator/router";
import {
  ApiError,
  DEFAULT_ANSWERS,
  type AnswerOptions,
  type DomainContext,
  type DomainModule,
  type EmulatorLimits,
  type LeadsApi,
  type RouteDef,
  type SeedOptions,
  type UsageDay,
} from "../../nodes/emulator/types";

export interface Answer {
  status: number;
  // `any` on purpose: tests assert deep into Marketo-shaped JSON with should.
  body: any;
  contentType?: string;
}

export interface Harness {
  clock: { now: number };
  limits: EmulatorLimits;
  ctx: DomainContext;
  leads: DomainModule & LeadsApi;
  modules: DomainModule[];
  module<T extends DomainModule = DomainModule>(name: string): T;
  route(method: "GET" | "POST" | "DELETE", path: string): RouteDef;
  call(
    method: "GET" | "POST" | "DELETE",
    pathAndQuery: string,
    opts?: { body?: unknown; form?: FormData },
  ): Promise<Answer>;
  /** Creates (or updates) a lead by email and returns its id. */
  lead(email: string, fields?: Record<string, unknown>): number;
  /** Resets every module (also clears bulk timers). */
  reset(): void;
}

export const T0 = Date.parse("2026-03-02T10:00:00Z");

export function harness(
  opts: {
    seed?: Partial<SeedOptions>;
    importDelayMs?: number;
    usage?: () => UsageDay[];
    answers?: Partial<AnswerOptions>;
  } = {},
): Harness {
  const clock = { now: T0 };
  const limits: EmulatorLimits = { ...DEFAULT_LIMITS };
  const ids = new Map<string, number>();
  let leads: (DomainModule & LeadsApi) | undefined;
  const ctx: DomainContext = {
    get leads(): LeadsApi {
      if (!leads) throw new Error("leads used before built");
      return leads;
    },
    now: () => clock.now,
    nextId: (table) => {
      const next = (ids.get(table) ?? 1000) + 1;
      ids.set(table, next);
      return next;
    },
    seed: { enabled: true, ...opts.seed },
    limits,
    importDelayMs: opts.importDelayMs ?? 1000,
    usage: opts.usage,
    answers: { ...DEFAULT_ANSWERS, ...opts.answers },
  };
  leads = createLeadsModule(ctx);
  const leadsModule = leads;
  const modules = createDomainModules(ctx);
  const router = new Router([...leadsModule.routes, ...modules.flatMap((m) => m.routes)]);

  function route(method: "GET" | "POST" | "DELETE", path: string): RouteDef {
    const m = router.match(method, path);
    if (!m.found) throw new Error(`no route ${method} ${path}`);
    return m.route;
  }

  return {
    clock,
    limits,
    ctx,
    leads: leadsModule,
    modules,
    module<T extends DomainModule = DomainModule>(name: string): T {
      const found = modules.find((m) => m.name === name);
      if (!found) throw new Error(`no module ${name}`);
      return found as T;
    },
    route,
    async call(method, pathAndQuery, callOpts = {}) {
      const [path, qs = ""] = pathAndQuery.split("?");
      const m = router.match(method, path);
      if (!m.found) throw new Error(`no route ${method} ${path}`);
      try {
        const res = await m.route.handler({
          method,
          path,
          params: m.params,
          query: new URLSearchParams(qs),
          body: callOpts.body,
          form: callOpts.form,
          clientId: "test",
        });
        return { status: res.status ?? 200, body: res.body, contentType: res.contentType };
      } catch (err) {
        if (err instanceof ApiError) {
          return { status: 200, body: { success: false, errors: [{ code: err.code, message: err.message }] } };
        }
        throw err;
      }
    },
    lead(email, fields = {}) {
      const r = leadsModule.sync({ email, ...fields }, { action: "createOrUpdate", lookupField: "email" });
      if (r.id === undefined) throw new Error(`lead not created: ${JSON.stringify(r)}`);
      return r.id;
    },
    reset() {
      leadsModule.reset();
      for (const m of modules) m.reset();
    },
  };
}

/** The single response-level error of an answer. */
export function errorOf(a: Answer): { code: string; message: string } {
  if (a.body.success !== false) throw new Error(`expected an error, got ${JSON.stringify(a.body)}`);
  return a.body.errors[0];
}
