import type { OpContext } from "./context";
import { MarketoError } from "./errors";
import { asError } from "./results";
import type { TokenManager } from "./token";

/**
 * The API role permissions this package needs: the five the Kaltura guide asks for, plus
 * Custom Objects for the custom-object target of marketo-custom-activity.
 */
export const REQUIRED_PERMISSIONS = [
  "Read-Write Person",
  "Read-Write Activity",
  "Read-Write Activity Metadata",
  "Read-Write Assets",
  "Read-Write Campaigns",
  "Read-Write Custom Objects",
] as const;

export type RequiredPermission = (typeof REQUIRED_PERMISSIONS)[number];

interface Probe {
  permission: RequiredPermission;
  /**
   * "write": a write with an empty input. Marketo checks the role before it looks at the body,
   * so a user with the permission gets a validation answer (701/1003...) and one without gets
   * 603, and nothing is ever written. "read": a one-item list, where the package only reads:
   * it cannot tell a read-only role from a read-write one, and the report says so.
   */
  kind: "write" | "read";
  method: "GET" | "POST";
  path: string;
  query?: Record<string, number>;
  json?: unknown;
  neededFor: string;
}

const PROBES: readonly Probe[] = [
  {
    permission: "Read-Write Person",
    kind: "write",
    method: "POST",
    path: "/rest/v1/leads.json",
    json: { input: [] },
    neededFor: "leads, program status, form posts",
  },
  {
    permission: "Read-Write Activity",
    kind: "write",
    method: "POST",
    path: "/rest/v1/activities/external.json",
    json: { input: [] },
    neededFor: "custom activities",
  },
  {
    permission: "Read-Write Activity Metadata",
    kind: "write",
    method: "POST",
    // Create Custom Activity Type with no fields: refused for its body (apiName missing) once the role passed.
    path: "/rest/v1/activities/external/type.json",
    json: {},
    neededFor: "custom activity types and their fields",
  },
  {
    permission: "Read-Write Assets",
    kind: "read",
    method: "GET",
    path: "/rest/asset/v1/channels.json",
    query: { maxReturn: 1 },
    neededFor: "programs and channels",
  },
  {
    permission: "Read-Write Campaigns",
    kind: "write",
    method: "POST",
    // No campaign has id 0: even with the permission nothing can be triggered.
    path: "/rest/v1/campaigns/0/trigger.json",
    json: { input: { leads: [] } },
    neededFor: "triggering campaigns",
  },
  {
    permission: "Read-Write Custom Objects",
    kind: "write",
    method: "POST",
    path: "/rest/v1/customobjects/eventsyncAccessProbe.json",
    json: { input: [] },
    neededFor: "custom objects",
  },
];

export interface PermissionCheck {
  permission: RequiredPermission;
  /** True when Marketo did not refuse the probe with 603. */
  granted: boolean;
  probe: "write" | "read";
  neededFor: string;
  /** Why it counts as missing, or why it could not be told (another failure). */
  message?: string;
  /** Set when the probe failed for another reason than a missing permission. */
  unknown?: boolean;
  /** What the probe could not tell, said plainly (a read probe says nothing of write access). */
  note?: string;
}

export interface AccessReport {
  ok: boolean;
  token: { ok: true } | { ok: false; code: string; category: string; message: string };
  permissions: PermissionCheck[];
  /** The permissions Marketo refused. */
  missing: RequiredPermission[];
}

/**
 * Asks for a token, then runs one cheap probe per permission. Costs six API calls of the
 * daily quota (identity calls are free). Never rejects; messages carry no secret (every
 * failure went through the transport's secret scrubbing).
 */
export async function checkAccess(ctx: OpContext, tokens: TokenManager): Promise<AccessReport> {
  try {
    await tokens.get();
  } catch (err) {
    const e = asError(err, "identity");
    return {
      ok: false,
      token: { ok: false, code: e.code, category: e.category, message: e.message },
      permissions: [],
      missing: [],
    };
  }
  const permissions = await Promise.all(
    PROBES.map(async (p): Promise<PermissionCheck> => {
      const base = {
        permission: p.permission,
        probe: p.kind,
        neededFor: p.neededFor,
        ...(p.kind === "read" ? { note: "write access not checked: the nodes only read these" } : {}),
      };
      try {
        await ctx.transport.call({
          operation: "checkAccess",
          method: p.method,
          path: p.path,
          ...(p.query ? { query: p.query } : {}),
          ...(p.json !== undefined ? { json: p.json } : {}),
          timeoutMs: ctx.timeoutMs(30),
        });
        return { ...base, granted: true };
      } catch (err) {
        const e = err instanceof MarketoError ? err : asError(err, "checkAccess");
        if (e.code === "603") return { ...base, granted: false, message: e.message };
        // Any other answer means Marketo looked past the role check (validation, not found...),
        // unless the call never got an answer at all.
        if (e.category === "validation" || e.category === "marketo") return { ...base, granted: true };
        return { ...base, granted: false, unknown: true, message: `could not check: ${e.message}` };
      }
    }),
  );
  const missing = permissions.filter((p) => !p.granted && !p.unknown).map((p) => p.permission);
  return { ok: permissions.every((p) => p.granted), token: { ok: true }, permissions, missing };
}
