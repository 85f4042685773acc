/**
 * The Marketo sidebar's figures read from the running flows: each deployed marketo-config's
 * state, problem and usage, with the metrics and the retry queues', in the shape the editor shows.
 */
import { isMarketoConfig } from "./marketo-config-api";
import { metrics } from "../sidebar/metrics";
import { buildSummary, type ConfigView, type NodeSettings, type SidebarSummary } from "../sidebar/sidebar-summary";
import { queueFigures } from "../delivery/retry-registry";

/** The parts of the runtime's RED the sidebar plugin uses (the published types lack plugins and comms). */
export interface PluginRED {
  plugins: { registerPlugin(id: string, definition: Record<string, unknown>): void };
  comms?: { publish(topic: string, data: unknown, retain: boolean): void };
  nodes: {
    eachNode(cb: (def: Record<string, unknown>) => void): void;
    getNode(id: string): unknown;
  };
  httpAdmin: {
    get(path: string, ...handlers: Array<(req: Req, res: Res, next: () => void) => void>): void;
    post(path: string, ...handlers: Array<(req: Req, res: Res, next: () => void) => void>): void;
  };
  auth: { needsPermission(permission: string): (req: Req, res: Res, next: () => void) => void };
  log: { warn(msg: string): void };
}
export interface Req {
  query: Record<string, unknown>;
  params: Record<string, string>;
}
export interface Res {
  status(n: number): Res;
  json(body: unknown): void;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

export function readSidebarSummary(RED: PluginRED): SidebarSummary {
  const nodes = new Map<string, NodeSettings>();
  const configIds: string[] = [];
  RED.nodes.eachNode((def) => {
    const id = str(def.id);
    const type = str(def.type);
    if (!id || !type) return;
    nodes.set(id, { type, marketo: str(def.marketo), action: str(def.action), target: str(def.target) });
    if (type === "marketo-config") configIds.push(id);
  });
  const used = new Set<string>();
  for (const s of nodes.values()) if (s.marketo) used.add(s.marketo);

  const configs: ConfigView[] = [];
  for (const id of configIds) {
    const node = RED.nodes.getNode(id);
    // Listed in the flows but not running (a disabled flow): nothing to report of it.
    if (!isMarketoConfig(node)) continue;
    const view: ConfigView = {
      id,
      name: node.name || "",
      state: node.clientState(),
      ...(node.instance ? { instance: node.instance } : {}),
    };
    const problem = node.configError;
    if (problem) view.problem = { message: problem.message, category: problem.category };
    // Reading `client` makes one: only for a config some node uses (those made it already).
    else if (used.has(id)) view.usage = node.client?.usage();
    configs.push(view);
  }
  return buildSummary({ metrics, configs, nodes, queues: queueFigures() });
}
