/**
 * Usage statistics: Marketo lets an integration read its own call and error
 * counts. The counts belong to the transport; this module only shapes them, from the optional
 * `ctx.usage()` accessor.
 */
import { chicagoDay } from "../lib/marketo/time";
import type { DomainContext, DomainModule, RouteDef, UsageDay } from "./types";

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

export function createUsageModule(ctx: DomainContext): DomainModule {
  /** The last `n` days, newest first; today always appears, even with no calls yet. */
  function days(n: number): UsageDay[] {
    const reported = ctx.usage?.() ?? [];
    const today = ctx.usageDate?.() ?? chicagoDay(ctx.now());
    const list = reported.some((d) => d.date === today)
      ? reported
      : [{ date: today, calls: {}, errors: {} }, ...reported];
    return list.slice(0, n);
  }

  const usageOut = (d: UsageDay) => ({
    date: d.date,
    total: sum(d.calls),
    users: Object.entries(d.calls).map(([userId, count]) => ({ userId, count })),
  });
  const errorsOut = (d: UsageDay) => ({
    date: d.date,
    total: sum(d.errors),
    errors: Object.entries(d.errors)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([errorCode, count]) => ({ errorCode, count })),
  });

  // Any API user may read the instance's usage; Marketo ties these calls to no role permission.
  const route = (pattern: string, build: () => unknown[]): RouteDef => ({
    method: "GET",
    pattern,
    permissions: [],
    family: "rest",
    handler: () => ({ body: { success: true, result: build() } }),
  });

  return {
    name: "usage",
    routes: [
      route("/rest/v1/stats/usage.json", () => days(1).map(usageOut)),
      route("/rest/v1/stats/usage/last7days.json", () => days(7).map(usageOut)),
      route("/rest/v1/stats/errors.json", () => days(1).map(errorsOut)),
      route("/rest/v1/stats/errors/last7days.json", () => days(7).map(errorsOut)),
    ],
    snapshot: () => ({ days: days(7) }),
    reset: () => undefined,
  };
}
