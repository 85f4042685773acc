/**
 * Flow builders for the suites that run a real Node-RED process (test/process): the config node
 * pointing at an emulator, its credentials, the HTTP feed that acknowledges a POST and hands the
 * records on, and the lead node most of them sync through. Node ids are the suites' own, so the
 * file names and log lines they look for (marketo-lead-lead.journal, ...) stay what they are.
 */
import type { FlowJson } from "./node-red-process";

export type FlowNodeJson = Record<string, unknown>;
export type { FlowJson };

/** The tab every process flow lives on. */
export const TAB = "tab";

interface Emulated {
  url: string;
  clientId: string;
  clientSecret: string;
}

/** A marketo-config node (global: z "") on the emulator; the id, limits and the rest come in `extra`. */
export function configNode(emu: Emulated, extra: FlowNodeJson = {}): FlowNodeJson {
  return {
    id: "cfg",
    type: "marketo-config",
    z: "",
    name: "emulator",
    endpoint: emu.url,
    credentialSource: "credentials",
    ...extra,
  };
}

/** What flows_cred.json holds for a config node on the emulator (and anything more, a Redis URL say). */
export function emulatorCredentials(
  emu: Emulated,
  id = "cfg",
  extra: Record<string, unknown> = {},
): Record<string, Record<string, unknown>> {
  return { [id]: { clientId: emu.clientId, clientSecret: emu.clientSecret, ...extra } };
}

/**
 * POST `url` → answered 200 at once, and the body passed on to `to` without msg.req/msg.res (which
 * no journal can store). The ids are in, ack and strip, or in-<suffix>, ack-<suffix>, strip-<suffix>.
 */
export function httpFeed(url: string, to: string, suffix = "", z = TAB): FlowNodeJson[] {
  const id = (name: string): string => (suffix ? `${name}-${suffix}` : name);
  return [
    { id: id("in"), type: "http in", z, url, method: "post", upload: false, wires: [[id("ack"), id("strip")]] },
    { id: id("ack"), type: "http response", z, statusCode: "200", wires: [] },
    {
      id: id("strip"),
      type: "function",
      z,
      func: "delete msg.req;\ndelete msg.res;\nreturn msg;",
      outputs: 1,
      wires: [[to]],
    },
  ];
}

/** A marketo-lead node that syncs by email (create or update), one call per message, errors on output 2. */
export function syncLeadNode(
  id: string,
  marketo: string,
  wires: string[][] = [[], []],
  extra: FlowNodeJson = {},
  z = TAB,
): FlowNodeJson {
  return {
    id,
    type: "marketo-lead",
    z,
    ...extra,
    marketo,
    action: "sync",
    syncAction: "createOrUpdate",
    lookupField: "email",
    raiseErrors: false,
    bulkThreshold: 0,
    wires,
  };
}

/** POSTs `body` as JSON to a Node-RED http-in route and reads the whole answer. */
export async function postJson(base: string, route: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${route}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** postJson for a feed that must take the records: anything but 200 fails the test. */
export async function postOk(base: string, route: string, body: unknown): Promise<void> {
  const { status } = await postJson(base, route, body);
  if (status !== 200) throw new Error(`POST ${route}: HTTP ${status}`);
}
